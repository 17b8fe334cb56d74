"""LogisticModel: the scikit-learn estimator over logitkit's exact solver."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from functools import partial
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from logitkit._fitting import GroupedData, TrainingData, blas_threads, grouped_rows, prepare
from logitkit._fitting_sources import SourceData, is_row_source, prepare_source
from logitkit._offset import OffsetSource
from logitkit._params import InstanceOf, Interval, OneOf, validate_params
from logitkit._validation import check_offset, feature_values
from logitkit.data.checks import (
    check_finite,
    check_numeric_columns,
    column_names,
)
from logitkit.data.grouped import pearson_chi2
from logitkit.exceptions import ConvergenceWarning, DataError, SeparationError
from logitkit.solver import Problem, Scaling, SolverResult, solve
from logitkit.solver.firth import FirthSingularError, firth
from logitkit.solver.loss import (
    intercept_only_loss,
    null_model_loss,
    null_sums,
    sigmoid,
    softmax,
)
from logitkit.solver.separation import find_separation, single_feature_separation

if TYPE_CHECKING:
    import pandas as pd

    from logitkit.data.encoding import TableEncoder
    from logitkit.inference import Summary, WaldTest

FloatArray = NDArray[np.float64]

__all__ = ["LogisticModel", "read_offset_column", "resolve_positive_class"]

#: A standardised coefficient this large (odds ratio e**20 per standard deviation)
#: in an unpenalised fit means the classes are (nearly) separated.
_SEPARATION_SUSPECT = 20.0
#: A row with |log-odds| above this (probability within 3e-7 of 0 or 1) in an
#: unpenalised fit is a mark of quasi-complete separation.
_SATURATED = 15.0
#: Largest dense copy (in values) the separation check may make.
_SEPARATION_MAX_VALUES = 20_000_000
#: Values per block of rows when forming the linear predictor.
_PREDICT_BLOCK_VALUES = 2**20
#: What a per-feature control (bounds, penalty factors) may be given as.
_PER_FEATURE = (Real, dict, list, tuple, np.ndarray)
_PER_FEATURE_TEXT = "a number, a dict by feature name or one number per feature"


def _rowwise_products(X: Any, coef: FloatArray) -> FloatArray:
    """``X @ coef.T``, each row reduced on its own (numpy's pairwise sum over its values).

    A BLAS matrix-vector product rounds a row differently depending on the batch it is
    in (its kernels treat the last few rows, and each thread's share, apart), so the same
    row could get another last bit when predicted alone, in a stream of batches, or in
    one call. Row by row, a prediction depends on the row only: streamed and served
    predictions equal in-process ones bit for bit.
    """
    if sp.issparse(X):  # CSR products already reduce each row on its own, in order
        return np.asarray(X @ coef.T, dtype=np.float64)
    n, p = X.shape
    out = np.empty((n, coef.shape[0]))
    step = max(1, _PREDICT_BLOCK_VALUES // max(p, 1))
    for start in range(0, n, step):
        # Row-major, so that each row is one contiguous pairwise sum (a column-major
        # block would be summed column by column, rounding otherwise).
        block = np.ascontiguousarray(X[start : start + step], dtype=np.float64)
        for k in range(coef.shape[0]):
            np.add.reduce(block * coef[k], axis=1, out=out[start : start + step, k])
    return out


def _exactly_bounded(coef: FloatArray, beta: FloatArray, problem: Problem) -> FloatArray:
    """``coef`` with a coefficient whose standardised value sits at a bound set to that bound.

    ``beta / scale`` of ``bound * scale`` may differ from ``bound`` in the last bit; the
    reported coefficient equals its bound exactly and never leaves the box.
    """
    p = coef.shape[1]
    lower = np.full(p, -np.inf) if problem.lower_bounds is None else problem.lower_bounds
    upper = np.full(p, np.inf) if problem.upper_bounds is None else problem.upper_bounds
    scale = problem.scaling.scale
    out = np.clip(coef, lower, upper)
    for bound in (lower, upper):
        at = beta == bound * scale
        out[at] = np.broadcast_to(bound, out.shape)[at]
    return np.asarray(out)


def _null_fit(data: TrainingData, offset: Any, fit_intercept: bool) -> float:
    """Log-likelihood of the intercept-only model with the same offset (statsmodels' llnull)."""
    offsets = check_offset(offset, int(data.codes.shape[0]), "LogisticModel.fit")
    assert offsets is not None
    y = data.codes.astype(np.float64)
    return -intercept_only_loss(y, data.weights, offsets, fit_intercept=fit_intercept)


def _null_fit_passes(data: SourceData, fit_intercept: bool) -> float:
    """:func:`_null_fit` of rows out of core: one pass per Newton step of the intercept."""
    weight, positive, offset_sum = (float(t) for t in data.source.map_reduce(_null_totals))
    at = partial(_pass_null_sums, data.source)
    return -null_model_loss(at, (weight, positive, offset_sum), fit_intercept=fit_intercept)


def _null_totals(chunk: Any) -> FloatArray:
    y = chunk.y.astype(np.float64)
    return np.array([chunk.w.sum(), chunk.w @ y, chunk.w @ chunk.offset])


def _chunk_null_sums(chunk: Any, *, b: float) -> FloatArray:
    return null_sums(chunk.y.astype(np.float64), chunk.w, chunk.offset, b)


def _pass_null_sums(chunks: Any, b: float) -> FloatArray:
    result: FloatArray = chunks.map_reduce(partial(_chunk_null_sums, b=b))
    return result


def _group_pearson(
    X: FloatArray, s: FloatArray, m: FloatArray, *, coef: FloatArray, intercept: float
) -> float:
    """The Pearson statistic of one block of groups at the fitted coefficients."""
    return pearson_chi2(s, m, sigmoid(X @ coef + intercept))


def read_offset_column(X: Any, column: str) -> FloatArray:
    """The offset column of a frame of raw rows, as numbers (DataError naming the row).

    Examples
    --------
    >>> import pandas as pd
    >>> read_offset_column(pd.DataFrame({"log_exposure": [0.0, 1.5]}), "log_exposure")
    array([0. , 1.5])
    """
    values = np.asarray(X[column].to_numpy(), dtype=object)
    try:
        numbers = values.astype(np.float64)
    except (TypeError, ValueError):
        numbers = np.full(values.shape[0], np.nan)
    bad = ~np.isfinite(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = (
            f"Offset column '{column}' has {int(bad.sum())} missing, non-numeric or infinite "
            f"value(s) (first at row {row}: {values[row]!r}); the offset is a log-odds term "
            "per row: fill or drop those rows."
        )
        raise DataError(msg, column=column, row=row, count=int(bad.sum()))
    return numbers


def resolve_positive_class(classes: NDArray[Any], positive_class: Any) -> Any:
    """The modelled class of a binary target: ``positive_class``, else ``classes[1]``.

    A label given as text matches a class of another type by its text (``"1"`` names
    the class ``1``), as labels read from a command line or a JSON file do.

    Raises
    ------
    DataError
        ``positive_class`` is not a class of the target, or the target is not binary.

    Examples
    --------
    >>> resolve_positive_class(np.array(["benign", "malignant"]), "benign")
    'benign'
    >>> resolve_positive_class(np.array([0, 1]), None)
    1
    """
    labels = [c.item() if isinstance(c, np.generic) else c for c in np.asarray(classes).tolist()]
    if positive_class is None:
        return labels[1] if len(labels) == 2 else None
    if len(labels) != 2:
        msg = (
            f"positive_class={positive_class!r} applies to a binary target; y has "
            f"{len(labels)} classes ({', '.join(map(str, labels))}). Leave it unset for a "
            "multinomial model (MulticlassPolicy decides among several classes)."
        )
        raise DataError(msg)
    given = positive_class.item() if isinstance(positive_class, np.generic) else positive_class
    for label in labels:
        if label == given and type(label) is type(given):
            return label
    for label in labels:
        if str(label) == str(given):
            return label
    msg = (
        f"positive_class={given!r} is not a class of the target; the classes are "
        f"{', '.join(repr(c) for c in labels)}."
    )
    raise DataError(msg)


class LogisticModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    r"""Logistic regression (binary or multinomial) fitted exactly by Newton's method.

    The objective is scikit-learn's, on the standardised scale when ``standardize=True``:

    .. math::

        \min_{b, \beta} \; C \sum_i w_i \, \ell(y_i, b + x_{s,i}^\top \beta)
        + \rho \lVert\beta\rVert_1 + \frac{1 - \rho}{2} \lVert\beta\rVert_2^2

    where :math:`\ell` is the binomial (or multinomial) negative log-likelihood,
    :math:`w_i` is the sample weight times the class weight of row :math:`i`,
    :math:`x_s = (x - \bar{x}) / s` with the weighted mean and population standard
    deviation of the training rows, :math:`\rho` is ``l1_ratio`` (0 for ``"l2"``, 1 for
    ``"l1"``), and the intercepts :math:`b` are never penalised. ``penalty=None`` drops
    the penalty (maximum likelihood). ``penalty="firth"`` (binary targets) instead
    maximises Firth's bias-reduced likelihood :math:`\ell + \tfrac12 \log\det I`,
    whose estimates stay finite when the classes are separated (``C`` is ignored).
    For a multinomial target each class has its own :math:`(b_k, \beta_k)` and the
    penalty sums over classes, as in scikit-learn.

    With ``penalty_factor`` each feature's penalty is multiplied by its factor
    :math:`v_j` (:math:`\rho v_j |\beta_j| + \frac{1 - \rho}{2} v_j \beta_j^2`); with
    ``lower_bounds``/``upper_bounds`` the minimum is taken over the box
    :math:`l_j \le \mathrm{coef}_j \le u_j` in original units; with
    ``fit(..., offset=o)`` the loss of row :math:`i` is at
    :math:`b + x_{s,i}^\top \beta + o_i`.

    So ``LogisticModel(C=c)`` equals ``make_pipeline(StandardScaler(),
    LogisticRegression(C=c))``, and with unit weights on ``n`` rows it equals glmnet
    (and glum) with ``lambda = alpha = 1 / (C n)`` and ``alpha_glmnet = l1_ratio``. For
    ``penalty="l1"`` it equals statsmodels' ``Logit(...).fit_regularized(alpha=1/C)`` on
    standardised columns. Coefficients are reported in original units (``coef_``,
    ``intercept_``) and on the standardised scale (``coef_standardized_``).

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", "firth", None}, default="l2"
        Penalty on the coefficients; "firth" is Firth's bias reduction (binary only),
        the remedy for separated classes (see :mod:`logitkit.solver.firth`).
    C : float, default=1.0
        Inverse penalty strength; larger is weaker.
    l1_ratio : float or None, default=None
        Share of L1 in the elastic-net penalty; required for ``"elasticnet"``.
    fit_intercept : bool, default=True
        Whether to fit intercepts. Without one, features are scaled but not centred.
    class_weight : None, "balanced" or dict, default=None
        Weights per class, multiplied into the row weights; ``"balanced"`` gives class
        ``k`` the weight ``n / (K n_k)``.
    standardize : bool, default=True
        Standardise features with training-row statistics (inside the fit, so no test
        row can leak into the scaling); the penalty then acts on the standardised scale.
    tol : float, default=1e-10
        Stop when the largest violation of the optimality (KKT) conditions of the
        objective divided by the total weight is at most ``tol``.
    max_iter : int, default=100
        Largest number of Newton iterations (L-BFGS uses at least 1000).
    warm_start : bool, default=False
        Start from the previous solution when refitting.
    solver : {"auto", "newton", "lbfgs"}, default="auto"
        "newton" forms the ``p x p`` Hessian (Newton, or proximal Newton with
        coordinate descent for L1 and elastic net); "lbfgs" never does, for thousands
        of features; "auto" chooses by size.
    positive_class : label or None, default=None
        Binary targets only: the class whose log-odds :meth:`summary`, odds ratios,
        explanations and decisions speak of (the event, e.g. ``"malignant"``); None
        means ``classes_[1]``. It does not change the fit, ``classes_`` (sorted, as
        scikit-learn's metrics expect) or ``coef_`` (log-odds of ``classes_[1]``, as
        scikit-learn's ``decision_function``): where the positive class sorts first,
        the summary's coefficients are ``-coef_``.
    lower_bounds, upper_bounds : float, array-like of shape (p,), dict or None, default=None
        Bounds on the coefficients in original units (as glum's ``lower_bounds`` and
        ``upper_bounds``), e.g. ``upper_bounds={"income": 0}`` for a non-positive
        income effect: a number for every feature, one per feature, or a dict by
        feature name (unnamed features unbounded); ``-inf``/``inf`` mean no bound.
        They bind every class of a multinomial model and never the intercepts; a
        zero-variance feature stays at zero. With ``standardize=True`` they map
        exactly to the standardised scale (``bound * scale``), and the fit runs
        proximal Newton with coordinate descent inside the box, stopping on the
        projected gradient. Model-based standard errors assume no bound is active.
        Not with ``penalty="firth"`` or ``solver="lbfgs"``.
    penalty_factor : float, array-like of shape (p,), dict or None, default=None
        Non-negative multiplier of each feature's penalty (glmnet's
        ``penalty.factor``, glum's ``P1``/``P2``): 0 leaves a feature unpenalised. The
        factors are used as given; glmnet rescales them to sum to the number of
        features, so to reproduce a glmnet fit pass ``pf * p / sum(pf)``. A dict by
        feature name leaves unnamed features at 1. Needs a penalty ("l1", "l2" or
        "elasticnet"); with an L1 term not with ``solver="lbfgs"``.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        Class labels, sorted; for binary targets ``classes_[1]`` is the modelled class.
    coef_ : ndarray of shape (1, p) or (K, p)
        Coefficients in original units.
    intercept_ : ndarray of shape (1,) or (K,)
        Intercepts in original units.
    coef_standardized_ : ndarray of shape (1, p) or (K, p)
        Coefficients per standard deviation of each feature.
    n_iter_ : ndarray of shape (1,)
        Solver iterations.
    n_features_in_ : int
        Number of features.
    feature_names_in_ : ndarray of shape (p,)
        Feature names, when ``X`` had column names.
    positive_class_ : label or None
        The modelled class of a binary target (``positive_class``, else
        ``classes_[1]``); None for a multinomial target.
    encoder_ : TableEncoder or None
        Set after ``fit`` to the :class:`~logitkit.data.encoding.TableEncoder` that made
        the training columns (as the command line and :func:`logitkit.load` do); the
        prediction methods then also take raw rows (frames or records) and encode them.
        None after ``fit`` itself.
    feature_mean_, feature_scale_ : ndarray of shape (p,)
        Weighted mean and standard deviation of each training feature (scale 1 where
        the variance is zero or ``standardize=False``).
    class_counts_ : ndarray of shape (K,)
        Training rows per class.
    solver_result_ : SolverResult
        What the solver did: iterations, passes, final KKT violation, statistics.
    lower_bounds_, upper_bounds_, penalty_factor_ : ndarray of shape (p,) or None
        The controls as applied, one value per feature (None when not set).
    fitted_with_offset_ : bool
        Whether ``fit`` had an offset (predictions then need the rows' offsets).
    offset_column_ : str or None
        The data column the offset was read from, when a caller (``logitkit train
        --offset COL``) set it; the artifact keeps it so ``logitkit predict`` reads it.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModel(C=1.0).fit(X, y)
    >>> model.predict(X[:3])
    array([0, 0, 0])
    >>> round(float(model.score(X, y)), 3)
    0.988
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012 - scikit-learn convention
        "penalty": [OneOf(("l2", "l1", "elasticnet", "firth", None))],
        "C": [Interval(Real, 0.0, math.inf, "neither")],
        "l1_ratio": [Interval(Real, 0.0, 1.0, "both"), OneOf((None,))],
        "fit_intercept": [OneOf((True, False))],
        "class_weight": [OneOf(("balanced", None)), InstanceOf(dict, "a dict")],
        "standardize": [OneOf((True, False))],
        "tol": [Interval(Real, 0.0, math.inf, "neither")],
        "max_iter": [Interval(Integral, 1, math.inf, "left")],
        "warm_start": [OneOf((True, False))],
        "solver": [OneOf(("auto", "newton", "lbfgs"))],
        "positive_class": [
            OneOf((None, True, False)),
            InstanceOf((str, int, float, np.generic), "a class label"),
        ],
        "lower_bounds": [OneOf((None,)), InstanceOf(_PER_FEATURE, _PER_FEATURE_TEXT)],
        "upper_bounds": [OneOf((None,)), InstanceOf(_PER_FEATURE, _PER_FEATURE_TEXT)],
        "penalty_factor": [OneOf((None,)), InstanceOf(_PER_FEATURE, _PER_FEATURE_TEXT)],
    }

    def __init__(
        self,
        penalty: str | None = "l2",
        *,
        C: float = 1.0,
        l1_ratio: float | None = None,
        fit_intercept: bool = True,
        class_weight: str | dict[Any, float] | None = None,
        standardize: bool = True,
        tol: float = 1e-10,
        max_iter: int = 100,
        warm_start: bool = False,
        solver: str = "auto",
        positive_class: Any = None,
        lower_bounds: Any = None,
        upper_bounds: Any = None,
        penalty_factor: Any = None,
    ) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.solver = solver
        self.positive_class = positive_class
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.penalty_factor = penalty_factor

    # ------------------------------------------------------------------ fitting
    def _effective_penalty(self) -> tuple[float, float]:
        """``(C, l1_ratio)`` as the solver sees them (``C = inf`` for no penalty)."""
        # Read the attributes directly: get_params inspects the signature on every call.
        params = {name: getattr(self, name) for name in self._parameter_constraints}
        validate_params(type(self).__name__, params, self._parameter_constraints)
        if self.penalty is None or self.penalty == "firth":
            return math.inf, 0.0
        if self.penalty == "l2":
            return float(self.C), 0.0
        if self.penalty == "l1":
            return float(self.C), 1.0
        if self.l1_ratio is None:
            msg = (
                "The 'l1_ratio' parameter of LogisticModel must be a float in [0, 1] when "
                "penalty='elasticnet'. Got None instead."
            )
            raise ValueError(msg)
        return float(self.C), float(self.l1_ratio)

    def _plain_array(self, X: Any, *, reset: bool) -> bool:
        """A fast path for what most calls pass: a non-empty 2-D float64 numpy array.

        It does the bookkeeping of scikit-learn's ``validate_data`` for that case only
        (which costs more than a small fit's solve); anything else takes the full path.
        """
        if not (type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2 and X.size > 0):
            return False
        if reset:
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return True
        if hasattr(self, "feature_names_in_") or not hasattr(self, "n_features_in_"):
            return False  # let scikit-learn warn about the names, or raise unfitted
        if X.shape[1] != self.n_features_in_:
            msg = (
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
            raise ValueError(msg)
        return True

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        encoder = None if reset else getattr(self, "encoder_", None)
        if encoder is not None:  # raw rows (a frame, records) -> the model's columns
            X = encoder.encode_input(X)
        if self._plain_array(X, reset=reset):
            check_finite(X, None)
            return X
        check_numeric_columns(X)
        names = column_names(X)
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
        )
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=np.float64)
        check_finite(X, names)
        return X

    def fit(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        offset: Any = None,
        trials: Any = None,
        proportion: bool = False,
    ) -> LogisticModel:
        """Fit the model.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), or a row source
            Numeric features: numpy, pandas, polars or scipy.sparse. Or rows outside
            memory, fitted exactly as in memory: a
            :class:`~logitkit.data.stream.FileSource` (a Parquet or CSV file streamed
            in batches), a :class:`~logitkit.data.dask.DaskSource`, or a dask
            DataFrame or Array (with ``y`` a dask Series or Array); a source names its
            own target and weight, so ``y`` and ``sample_weight`` stay None.
        y : array-like of shape (n_samples,)
            Class labels of any type (strings, integers, booleans). With ``trials``:
            the successes of each group (whole numbers in ``[0, trials]``), or their
            share of the trials when ``proportion=True``.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative row weights; a row of weight 2 counts as the row twice. Not
            with ``trials`` (a group's trials already weight it).
        offset : array-like of shape (n_samples,) or float, optional
            A known log-odds term added to each row's linear predictor, with no
            coefficient (R's ``glm(offset=)``, statsmodels' ``GLM(offset=)``), e.g.
            ``log(pi_1 / pi_0)`` to correct a case-control sample's intercept, or a
            score from another model. Binary targets (one offset added to every
            class of a multinomial model would cancel in the softmax), rows in memory
            only, not with ``trials`` or ``penalty="firth"``. The
            prediction methods take ``offset=`` too; :meth:`summary` (model-based) and
            :meth:`fit_statistics` use the fit's offset.
        trials : array-like of shape (n_samples,), optional
            Grouped binomial data, as R's ``glm(cbind(s, n - s) ~ ...)``: each row of
            ``X`` is a group of ``trials`` independent trials, of which ``y``
            succeeded. The model is binary (``classes_ = [0, 1]``, 1 a success) and
            predicts each row's probability of success; :meth:`fit_statistics` and
            :meth:`summary` then report the grouped model's likelihood (with the
            binomial coefficients), deviance, residual degrees of freedom (groups
            minus parameters), Pearson chi-square and goodness of fit, as R and
            statsmodels' ``GLM(Binomial)`` do; ``summary(scale="pearson")`` gives
            quasi-binomial standard errors. In memory only, without ``class_weight``.
        proportion : bool, default=False
            With ``trials``: ``y`` is the proportion of successes (R's ``glm`` with
            ``weights = trials``) rather than their count; ``y * trials`` must be a
            whole number.

        Returns
        -------
        LogisticModel
            The fitted model.

        Raises
        ------
        DataError
            On NaN or infinite values, non-numeric columns, a single class, mismatched
            lengths or negative weights; with ``trials``, on counts that are not whole,
            negative, or more successes than trials. The message names the column or
            row.
        SeparationError
            When ``penalty=None`` and the classes are perfectly separated.

        Examples
        --------
        Budworm deaths out of 20 per batch (Venables and Ripley, section 7.2):

        >>> import numpy as np
        >>> from logitkit import LogisticModel
        >>> ldose = np.arange(6.0)
        >>> X = np.column_stack([np.r_[ldose, ldose], np.repeat([1.0, 0.0], 6)])
        >>> dead = np.array([1, 4, 9, 13, 18, 20, 0, 2, 6, 10, 12, 16])
        >>> model = LogisticModel(penalty=None).fit(X, dead, trials=np.full(12, 20))
        >>> stats = model.fit_statistics()
        >>> round(stats["deviance"], 4), stats["df_resid"]
        (6.7571, 9.0)
        """
        C, l1_ratio = self._effective_penalty()
        self._check_control_options(C, l1_ratio, offset, trials)
        data: TrainingData | SourceData
        grouped: GroupedData | None = None
        X_groups: Any = None
        if trials is None and proportion:
            msg = "proportion=True describes y as a share of trials: pass trials=... as well."
            raise ValueError(msg)
        rows_source: Any = None
        source_offsets = False  # a row source whose chunks carry offsets
        if is_row_source(X):  # a file streamed in batches, or Dask partitions
            if trials is not None:
                msg = (
                    "trials=... applies to rows in memory; a row source names its trials "
                    "column itself (FileSource(..., trials='n'), DaskSource(..., trials='n'))."
                )
                raise ValueError(msg)
            if offset is not None:
                msg = (
                    "offset=... applies to rows in memory; a row source names its offset "
                    "column itself (FileSource(..., offset='col'), DaskSource(..., "
                    "offset='col'))."
                )
                raise ValueError(msg)
            if getattr(X, "trials", None) is not None:
                self._check_grouped_options(sample_weight)
            rows_source = X
            data, X = prepare_source(X, y, sample_weight, self.class_weight), None
            grouped = data.schema.grouped
            source_offsets = getattr(rows_source, "offset", None) is not None
            if source_offsets and data.n_outputs > 1:
                msg = (
                    f"An offset column applies to binary targets; the target has "
                    f"{data.classes.shape[0]} classes, and one offset added to every class "
                    "cancels in the softmax."
                )
                raise ValueError(msg)
        elif trials is not None:
            self._check_grouped_options(sample_weight)
            X_groups = self._validate_X(X, reset=True)
            X, labels, weights, grouped = grouped_rows(X_groups, y, trials, proportion=proportion)
            data = prepare(X, labels, weights, None)
        else:
            X = self._validate_X(X, reset=True)
            data = prepare(X, y, sample_weight, self.class_weight)
        if self.penalty == "firth" and data.n_outputs != 1:
            msg = (
                "penalty='firth' supports binary targets only; y has "
                f"{data.classes.shape[0]} classes. Use penalty='l2' (or None) for a "
                "multinomial model."
            )
            raise ValueError(msg)
        if offset is not None and isinstance(data, TrainingData):
            if data.n_outputs > 1:
                msg = (
                    f"offset=... applies to binary targets; y has {data.classes.shape[0]} "
                    "classes, and one offset added to every class cancels in the softmax."
                )
                raise ValueError(msg)
            offsets = check_offset(offset, int(data.X.shape[0]), "LogisticModel.fit")
            assert offsets is not None
            data = replace(data, source=OffsetSource(data.source, offsets))
        problem = data.problem(
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=bool(self.fit_intercept),
            standardize=bool(self.standardize),
        )
        problem = self._with_controls(problem, data)
        theta0 = self._start(problem, data)
        with blas_threads(problem.n_rows * problem.n_features * problem.n_outputs):
            result = self._solve(problem, theta0)
        classes, moments, scaling = data.classes, data.moments, problem.scaling
        self.classes_ = classes
        self.positive_class_ = resolve_positive_class(classes, self.positive_class)
        self.class_counts_ = moments.class_counts
        self.encoder_: TableEncoder | None = None  # see TableEncoder for raw frames
        if isinstance(data, SourceData):
            self._describe_source(data)
        # For inference: the null model's class totals and the coefficients held at zero.
        self._class_weight_sums = moments.class_weight_sums
        self._fixed_features = problem.fixed_features
        self.feature_mean_ = moments.mean
        self.feature_scale_ = scaling.scale
        self._set_solution(result, scaling)
        if problem.bounded:
            beta = result.theta[:, 1:]
            self.coef_ = _exactly_bounded(beta / scaling.scale, beta, problem)
        self.lower_bounds_ = problem.lower_bounds
        self.upper_bounds_ = problem.upper_bounds
        self.penalty_factor_ = problem.penalty_factor
        self.fitted_with_offset_ = offset is not None or source_offsets
        self._null_log_likelihood = None
        if offset is not None and isinstance(data, TrainingData):
            self._null_log_likelihood = _null_fit(data, offset, bool(self.fit_intercept))
        elif source_offsets and isinstance(data, SourceData):
            self._null_log_likelihood = _null_fit_passes(data, bool(self.fit_intercept))
        self.offset_column_: str | None = None  # named by a caller that read the column
        self._grouped: GroupedData | None = None
        if grouped is not None:  # outcomes counted over trials, not rows
            self.class_counts_ = np.array(
                [grouped.n_trials - grouped.n_successes, grouped.n_successes], dtype=np.int64
            )
            if rows_source is not None:  # the groups are read again, block by block
                pearson = partial(
                    _group_pearson, coef=self.coef_[0], intercept=float(self.intercept_[0])
                )
                self._grouped = grouped.with_pearson_value(sum(rows_source.scan_groups(pearson)))
            else:
                p = sigmoid(_rowwise_products(X_groups, self.coef_)[:, 0] + self.intercept_[0])
                self._grouped = grouped.with_pearson(p)
        # (The separation check needs the rows in memory.)
        separation = math.isinf(C) and self.penalty != "firth" and not problem.bounded
        if separation and offset is None and isinstance(data, TrainingData):
            self._check_separation(X, data.codes, data.weights, scaling, result)
        if not result.converged:
            warnings.warn(
                f"LogisticModel did not converge: {result.message} after {result.n_iter} "
                f"iterations, with the largest optimality violation {result.kkt:.2e} above "
                f"tol={self.tol:g}. Try a larger max_iter, standardize=True, a stronger "
                "penalty (smaller C), or check the data for separation "
                "(logitkit.diagnose).",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _check_control_options(self, C: float, l1_ratio: float, offset: Any, trials: Any) -> None:
        """Refuse bounds, penalty factors and offsets where they cannot take effect."""
        bounded = self.lower_bounds is not None or self.upper_bounds is not None
        if self.penalty_factor is not None and math.isinf(C):
            msg = (
                f"penalty_factor multiplies the penalty, but penalty={self.penalty!r} has "
                "none. Use penalty='l1', 'l2' or 'elasticnet', or leave penalty_factor unset."
            )
            raise ValueError(msg)
        if self.penalty == "firth" and (bounded or offset is not None):
            what = "bounds" if bounded else "offset"
            msg = f"penalty='firth' takes no {what}; use penalty=None or 'l2' for them."
            raise ValueError(msg)
        l1_factors = self.penalty_factor is not None and l1_ratio > 0.0
        if self.solver == "lbfgs" and (bounded or l1_factors):
            what = "coefficient bounds" if bounded else "penalty factors with an L1 term"
            msg = (
                f"solver='lbfgs' does not take {what}; use solver='newton' or 'auto' "
                "(proximal Newton with coordinate descent takes them)."
            )
            raise ValueError(msg)
        if offset is not None and trials is not None:
            msg = "offset=... applies to rows; with trials=... fit without an offset."
            raise ValueError(msg)

    def _with_controls(self, problem: Problem, data: TrainingData | SourceData) -> Problem:
        """``problem`` with this model's bounds and penalty factors, one value per feature."""
        if self.lower_bounds is None and self.upper_bounds is None and self.penalty_factor is None:
            return problem
        if isinstance(data, SourceData):
            names = list(data.feature_names or [f"x{j}" for j in range(data.n_features)])
        else:
            names = self._feature_names()
        where = type(self).__name__
        lower = feature_values(self.lower_bounds, names, "lower_bounds", where, default=-np.inf)
        upper = feature_values(self.upper_bounds, names, "upper_bounds", where, default=np.inf)
        factor = feature_values(self.penalty_factor, names, "penalty_factor", where, default=1.0)
        if lower is not None and upper is not None and (lower > upper).any():
            j = int(np.flatnonzero(lower > upper)[0])
            msg = (
                f"The bounds of feature {names[j]!r} are empty: lower_bounds "
                f"{lower[j]:g} > upper_bounds {upper[j]:g}."
            )
            raise ValueError(msg)
        for bound, side, bad in ((lower, "lower_bounds", np.inf), (upper, "upper_bounds", -np.inf)):
            if bound is not None and (bound == bad).any():
                j = int(np.flatnonzero(bound == bad)[0])
                msg = f"The '{side}' parameter of {where} is {bad} for {names[j]!r}: no value fits."
                raise ValueError(msg)
        if factor is not None and ((factor < 0) | ~np.isfinite(factor)).any():
            j = int(np.flatnonzero((factor < 0) | ~np.isfinite(factor))[0])
            msg = (
                f"The 'penalty_factor' parameter of {where} must be a finite number >= 0 for "
                f"every feature; got {factor[j]:g} for {names[j]!r}."
            )
            raise ValueError(msg)
        return replace(problem, lower_bounds=lower, upper_bounds=upper, penalty_factor=factor)

    def _check_grouped_options(self, sample_weight: Any) -> None:
        """Refuse what grouped data does not define: row weights and class weights."""
        if sample_weight is not None:
            msg = (
                "sample_weight cannot be combined with trials: each group is already "
                "weighted by its trials. For a group seen w times, multiply its trials and "
                "successes by w (or repeat the row)."
            )
            raise ValueError(msg)
        if self.class_weight is not None:
            msg = (
                "class_weight cannot be combined with trials: the grouped binomial "
                "likelihood (deviance, AIC, goodness of fit) is defined for unweighted "
                "trials. Fit without class_weight."
            )
            raise ValueError(msg)

    def _solve(self, problem: Problem, theta0: FloatArray) -> SolverResult:
        if self.penalty != "firth":
            return solve(
                problem,
                theta0,
                method=self.solver,
                tol=self.tol,
                max_iter=self.max_iter,
                # From a cold start, solve on the Hessian's row sample first.
                presolve=not self.warm_start,
            )
        try:
            return firth(problem, theta0, tol=self.tol, max_iter=self.max_iter)
        except FirthSingularError:
            msg = (
                "penalty='firth' needs linearly independent features, but X^T W X is "
                "singular (duplicated or collinear columns). Drop them (logitkit.diagnose "
                "names them) or use penalty='l2'."
            )
            raise DataError(msg) from None

    def _describe_source(self, data: SourceData) -> None:
        """Feature names and encoder of a fit on a row source (``validate_data``'s job)."""
        self.n_features_in_ = data.n_features
        if data.feature_names is not None:
            self.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.encoder_ = data.encoder

    def _start(self, problem: Problem, data: TrainingData | SourceData) -> FloatArray:
        """Warm start from the previous solution when asked and compatible."""
        previous = getattr(self, "coef_", None)
        if (
            self.warm_start
            and previous is not None
            and previous.shape == (problem.n_outputs, problem.n_features)
            and np.array_equal(getattr(self, "classes_", np.array([])), data.classes)
        ):
            theta = np.empty(problem.shape)
            theta[:, 1:] = previous * problem.scaling.scale
            theta[:, 0] = self.intercept_ + previous @ problem.scaling.mean
            theta[:, 1:][:, problem.fixed_features] = 0.0
            if not problem.fit_intercept:
                theta[:, 0] = 0.0
            return theta.ravel()
        return data.null_start(problem)

    def _set_solution(self, result: SolverResult, scaling: Scaling) -> None:
        theta = result.theta
        self.coef_ = theta[:, 1:] / scaling.scale
        self.intercept_ = theta[:, 0] - self.coef_ @ scaling.mean
        self.coef_standardized_ = theta[:, 1:].copy()
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.solver_result_ = result

    def _check_separation(
        self, X: Any, codes: NDArray[np.intp], w: FloatArray, scaling: Scaling, result: SolverResult
    ) -> None:
        """Refuse an unpenalised fit whose estimate does not exist, naming the features."""
        if X.shape[0] * X.shape[1] > _SEPARATION_MAX_VALUES:
            return
        largest = float(np.abs(result.theta[:, 1:]).max(initial=0.0))
        if result.converged and largest <= _SEPARATION_SUSPECT:
            # Quasi-complete separation can stop with moderate coefficients; its mark is
            # rows whose fitted probability has run to 0 or 1.
            Z = np.asarray(X @ self.coef_.T) + self.intercept_
            if Z.shape[1] > 1:
                Z = Z - Z.max(axis=1, keepdims=True)
            if not (np.abs(Z) > _SATURATED).any():
                return
        dense = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        Xs = (dense - scaling.mean) / scaling.scale
        keep = w > 0
        names = self._feature_names()
        targets = [1] if result.theta.shape[0] == 1 else range(result.theta.shape[0])
        for k in targets:
            positive = codes[keep] == k
            single = single_feature_separation(Xs[keep], positive)
            found = find_separation(Xs[keep], positive, fit_intercept=bool(self.fit_intercept))
            if found is None and not single:
                continue
            features = [names[j] for j in (single or (found.features if found else []))]
            kind = "completely" if found is not None and found.complete else "quasi-completely"
            label = self.classes_[k]
            label = label.item() if isinstance(label, np.generic) else label
            listed = ", ".join(f"'{f}'" for f in features[:5])
            more = f" and {len(features) - 5} more" if len(features) > 5 else ""
            remedy = (
                "(penalty='firth' for finite bias-reduced estimates with valid intervals, or "
                "penalty='l2' with a finite C)"
                if result.theta.shape[0] == 1
                else "(penalty='l2' with a finite C; Firth's method is for binary targets)"
            )
            msg = (
                f"The classes are {kind} separated: feature(s) {listed}{more} put the rows of "
                f"class {label!r} apart from the others, so the unpenalised maximum-likelihood "
                f"estimate does not exist (the coefficients diverge to infinity). Add a penalty "
                f"{remedy}, drop or merge the separating feature(s), or collect more data."
            )
            raise SeparationError(msg, features=features)

    def _feature_names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        return [f"x{j}" for j in range(self.n_features_in_)]

    # --------------------------------------------------------------- prediction
    def decision_function(self, X: Any, offset: Any = None) -> FloatArray:
        """Linear predictor: log-odds of ``classes_[1]`` (binary) or per-class scores.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Features in original units; or raw rows (a frame, records) when
            ``encoder_`` is set.
        offset : array-like of shape (n_samples,) or float, optional
            Each row's offset, added to its linear predictor (binary models). None
            means 0: for a model fitted with an offset, the prediction at a zero
            offset (e.g. the population log-odds after a case-control correction);
            pass the rows' offsets to predict on the scale of the fit. A model whose
            offset came from a named column (``offset_column_``, set by ``logitkit
            train --offset COL``) reads it from a frame of raw rows that has it.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, K)
        """
        check_is_fitted(self)
        column = getattr(self, "offset_column_", None)
        if offset is None and column is not None and column in getattr(X, "columns", ()):
            offset = read_offset_column(X, column)
        X = self._validate_X(X, reset=False)
        Z = _rowwise_products(X, self.coef_)
        Z += self.intercept_
        if offset is not None:
            offsets = check_offset(offset, int(Z.shape[0]), "LogisticModel.decision_function")
            assert offsets is not None
            Z += offsets[:, None]
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict_proba(self, X: Any, offset: Any = None) -> FloatArray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Features in original units; or raw rows (a frame, records) when
            ``encoder_`` is set.
        offset : array-like of shape (n_samples,) or float, optional
            Each row's offset (None means 0; see :meth:`decision_function`).

        Returns
        -------
        ndarray of shape (n_samples, K)
        """
        Z = self.decision_function(X, offset)
        if Z.ndim == 1:
            # Both columns from the sigmoid itself: exact even where one is near 1.
            return np.column_stack([sigmoid(-Z), sigmoid(Z)])
        return softmax(Z)[0]

    def predict_log_proba(self, X: Any, offset: Any = None) -> FloatArray:
        """Logarithm of :meth:`predict_proba`, computed without underflow."""
        Z = self.decision_function(X, offset)
        if Z.ndim == 1:
            return np.column_stack([-np.logaddexp(0.0, Z), -np.logaddexp(0.0, -Z)])
        _, lse = softmax(Z)
        return np.asarray(Z - lse[:, None])

    def predict_interval(
        self,
        X: Any,
        level: float = 0.95,
        cov_type: str = "nonrobust",
        *,
        X_train: Any = None,
        y_train: Any = None,
        sample_weight: Any = None,
        groups: Any = None,
    ) -> pd.DataFrame:
        """Probability of the positive class per row, with a delta-method interval.

        See :func:`logitkit.inference.prediction_interval`. Binary models only, and not
        for L1, L2 or elastic-net fits.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from logitkit import LogisticModel
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> model = LogisticModel(penalty=None).fit(X[:, :3], y)
        >>> table = model.predict_interval(X[:1, :3])
        >>> bool(table.ci_low[0] <= table.probability[0] <= table.ci_high[0])
        True
        """
        from logitkit.inference import prediction_interval  # noqa: PLC0415 - sits above

        return prediction_interval(
            self,
            X,
            level=level,
            cov_type=cov_type,
            X_train=X_train,
            y_train=y_train,
            sample_weight=sample_weight,
            groups=groups,
        )

    def predict(self, X: Any, offset: Any = None) -> NDArray[Any]:
        """Most probable class of each row (the 0.5 rule for binary targets).

        ``offset`` as in :meth:`decision_function` (None means 0). For a decision at a
        business threshold use :class:`logitkit.ThresholdPolicy`.
        """
        Z = self.decision_function(X, offset)
        index = (Z > 0).astype(np.intp) if Z.ndim == 1 else Z.argmax(axis=1)
        return np.asarray(self.classes_[index])

    # ---------------------------------------------------------------- inference
    def summary(
        self,
        alpha: float = 0.05,
        cov_type: str = "nonrobust",
        *,
        X: Any = None,
        y: Any = None,
        sample_weight: Any = None,
        groups: Any = None,
        method: str = "auto",
        n_boot: int = 200,
        random_state: Any = None,
        scale: float | str | None = None,
    ) -> Summary:
        """Coefficient table: estimates, standard errors, tests, intervals, odds ratios.

        One row per term (``intercept`` first, then the features), columns
        :data:`logitkit.inference.SUMMARY_COLUMNS`; a multinomial model has one block of
        rows per class against the reference ``classes_[0]`` (as statsmodels' MNLogit).
        For unpenalised fits the numbers are statsmodels' (and R's ``glm``).
        ``print(model.summary())`` gives a readable report with notes on validity.

        Parameters
        ----------
        alpha : float, default=0.05
            Intervals have level ``1 - alpha``.
        cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
            Model-based, heteroscedasticity-robust sandwich (HC1 with ``n / (n - k)``),
            or cluster-robust (with ``groups``); the robust types need ``X`` and ``y``.
        X, y, sample_weight : array-like, optional
            The training rows (for robust covariances, profile and bootstrap intervals,
            and models loaded from an artifact).
        groups : array-like of shape (n_samples,), optional
            Cluster of each row: cluster-robust standard errors, or a cluster bootstrap.
        method : {"auto", "wald", "profile", "bootstrap"}, default="auto"
            "auto" is Wald for unpenalised and Firth fits and gives no intervals for
            L1/L2/elastic-net fits (with a note why); "wald" on a penalised fit warns
            (:class:`~logitkit.InferenceWarning`); "profile" gives profile
            (penalised-)likelihood intervals and LR p-values (binary, ``penalty=None``
            or ``"firth"``); "bootstrap" refits on ``n_boot`` resamples with warm
            starts and gives percentile intervals.
        n_boot : int, default=200
            Bootstrap resamples.
        random_state : int, numpy Generator or None
            Seed of the bootstrap.
        scale : None, "pearson" or float, default=None
            Dispersion multiplying the model-based (Wald) covariance: None is the
            binomial 1; "pearson" (or "X2") estimates it as Pearson chi2 / df_resid of
            a fit on grouped data (``trials=...``), the quasi-binomial standard errors
            of statsmodels' ``GLM(...).fit(scale="X2")``; z and p-values stay normal.

        Returns
        -------
        Summary
            A pandas DataFrame subclass; ``.header`` and ``.notes`` hold the rest.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from logitkit import LogisticModel
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> table = LogisticModel(penalty=None).fit(X[:, :3], y).summary()
        >>> table.loc["x0", ["coef", "std_err"]].round(3).tolist()
        [6.026, 0.996]
        """
        from logitkit.inference import summary  # noqa: PLC0415 - inference sits above

        return summary(
            self,
            alpha=alpha,
            cov_type=cov_type,
            X=X,
            y=y,
            sample_weight=sample_weight,
            groups=groups,
            method=method,
            n_boot=n_boot,
            random_state=random_state,
            scale=scale,
        )

    def fit_statistics(
        self, *, X: Any = None, y: Any = None, sample_weight: Any = None
    ) -> dict[str, float]:
        """Log-likelihoods, deviance, AIC, BIC, McFadden pseudo-R2 and the LR test vs null.

        See :func:`logitkit.inference.fit_statistics`; for unpenalised fits the values
        are statsmodels' ``llf``, ``llnull``, ``aic``, ``bic``, ``prsquared``, ``llr``
        and ``llr_pvalue``.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from logitkit import LogisticModel
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> stats = LogisticModel(penalty=None).fit(X[:, :3], y).fit_statistics()
        >>> round(stats["aic"], 2)
        226.9
        """
        from logitkit.inference import fit_statistics  # noqa: PLC0415 - inference sits above

        return fit_statistics(self, X=X, y=y, sample_weight=sample_weight)

    def marginal_effects(
        self,
        X: Any = None,
        *,
        at: str = "overall",
        dummy: bool | list[str] = True,
        alpha: float = 0.05,
        cov_type: str = "nonrobust",
        y: Any = None,
        sample_weight: Any = None,
        groups: Any = None,
    ) -> pd.DataFrame:
        """Marginal effects on the class probabilities, with delta-method standard errors.

        See :func:`logitkit.inference.marginal_effects`.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from logitkit import LogisticModel
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X = X[:, :2]
        >>> LogisticModel(penalty=None).fit(X, y).marginal_effects(X, at="mean").header["at"]
        'mean'
        """
        from logitkit.inference import marginal_effects  # noqa: PLC0415 - inference sits above

        return marginal_effects(
            self,
            X,
            at=at,
            dummy=dummy,
            alpha=alpha,
            cov_type=cov_type,
            y=y,
            sample_weight=sample_weight,
            groups=groups,
        )

    def lr_test(self, reduced: LogisticModel) -> dict[str, float]:
        """Likelihood-ratio test of a nested ``reduced`` model against this one.

        See :func:`logitkit.inference.lr_test`.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from logitkit import LogisticModel
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> full = LogisticModel(penalty=None).fit(X[:, :3], y)
        >>> full.lr_test(LogisticModel(penalty=None).fit(X[:, :2], y))["df"]
        1.0
        """
        from logitkit.inference import lr_test  # noqa: PLC0415 - inference sits above

        return lr_test(self, reduced)

    def wald_test(
        self,
        constraints: Any,
        q: Any = None,
        *,
        cov_type: str = "nonrobust",
        X: Any = None,
        y: Any = None,
        sample_weight: Any = None,
        groups: Any = None,
    ) -> WaldTest:
        """Wald test of linear constraints on the coefficients, e.g. ``"age = 0, lwt = 0"``.

        See :func:`logitkit.inference.wald_test`.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from logitkit import LogisticModel
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> LogisticModel(penalty=None).fit(X[:, :3], y).wald_test("x1 = 0, x2 = 0").df
        2
        """
        from logitkit.inference import wald_test  # noqa: PLC0415 - inference sits above

        return wald_test(
            self,
            constraints,
            q,
            cov_type=cov_type,
            X=X,
            y=y,
            sample_weight=sample_weight,
            groups=groups,
        )

    def anova(self, *larger: LogisticModel) -> pd.DataFrame:
        """Deviance table of this model and ``larger`` ones nested in turn (R's ``anova``).

        See :func:`logitkit.inference.anova`.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from logitkit import LogisticModel
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> small = LogisticModel(penalty=None).fit(X[:, :2], y)
        >>> small.anova(LogisticModel(penalty=None).fit(X[:, :3], y))["df"].tolist()[1]
        1.0
        """
        from logitkit.inference import anova  # noqa: PLC0415 - inference sits above

        return anova(self, *larger)

    def save(self, path: str | Path, **metadata: Any) -> Path:
        """Write the fitted model to a hashed JSON artifact (see :func:`logitkit.save`)."""
        from logitkit.artifact import save  # noqa: PLC0415 - the artifact layer sits above

        return save(self, path, training=metadata or None)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
