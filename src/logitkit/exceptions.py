"""Errors and warnings raised by logitkit.

Every error a user can trigger with bad input or a bad model derives from
:class:`LogitkitError`; data problems are also :class:`ValueError` so code written
for scikit-learn keeps catching them.

Hierarchy::

    LogitkitError
    ├── DataError (ValueError)            bad input data; carries .column, .row, .count
    │   └── SeparationError               the classes are perfectly separated, so the
    │                                     unpenalised maximum-likelihood estimate does not exist
    ├── ConstraintError (ValueError)      a decision constraint cannot be met on the data
    ├── ArtifactError (ValueError)        a model file is unreadable, tampered, or of the wrong version
    └── NotFittedError (sklearn's)        a method that needs a fitted model was called before fit

    ConvergenceWarning (sklearn's)        the solver stopped at max_iter before reaching tol
    InferenceWarning (UserWarning)        standard errors or intervals were asked for where
                                          they are not valid (e.g. Wald on a penalised fit)
"""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "ArtifactError",
    "ConstraintError",
    "ConvergenceWarning",
    "DataError",
    "InferenceWarning",
    "LogitkitError",
    "NotFittedError",
    "SeparationError",
]


class LogitkitError(Exception):
    """Base class of every error raised by logitkit."""


class DataError(LogitkitError, ValueError):
    """Raised when input data cannot be used as given.

    The message names the problem and what to do; the structured fields let programs
    react without parsing it.

    Attributes
    ----------
    column : str or None
        Name of the offending column (or feature), if one is to blame.
    row : int or None
        Zero-based position of the first offending row, if known.
    count : int or None
        How many values are affected, if counted.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
        count: int | None = None,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.row = row
        self.count = count


class SeparationError(DataError):
    """Raised when an unpenalised fit meets perfectly separated classes.

    With (quasi-)complete separation some coefficients run off to infinity; the fit is
    refused instead of returning meaningless numbers.

    Attributes
    ----------
    features : list of str
        The features along which the classes separate, most responsible first.
    """

    def __init__(self, message: str, *, features: list[str]) -> None:
        super().__init__(message, column=features[0] if features else None)
        self.features = features


class ConstraintError(LogitkitError, ValueError):
    """Raised when a decision constraint (e.g. a minimum recall) cannot be met.

    Attributes
    ----------
    best_achievable : float or None
        The best value of the constrained metric that the data allow.
    """

    def __init__(self, message: str, *, best_achievable: float | None = None) -> None:
        super().__init__(message)
        self.best_achievable = best_achievable


class ArtifactError(LogitkitError, ValueError):
    """Raised when a model file cannot be trusted: unreadable, tampered, or unsupported.

    Attributes
    ----------
    path : str or None
        The file that was being read.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class NotFittedError(LogitkitError, _SklearnNotFittedError):  # type: ignore[misc]
    """Raised when a method that needs a fitted model is called before ``fit``."""


class InferenceWarning(UserWarning):
    """Warned when inference is computed where its assumptions fail.

    For example naive Wald intervals for a penalised fit: the estimates are shrunk
    towards zero (and, with L1, selected on the same data), so the intervals are
    centred wrongly and too narrow. The summary says so in its notes as well.
    """
