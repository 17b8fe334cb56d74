"""Grouped binomial data through the pipeline: in memory, streamed, or on Dask.

With ``trials`` each row is a group: the target counts its successes out of the
``trials`` column's trials (R's ``glm(cbind(s, n - s) ~ ...)``). There are no single
rows to decide, weight or hold out, so the stages are:

1. **Fit** on the groups (each one two weighted rows for the solver,
   :mod:`logitkit.data.grouped`), with the summary and the grouped fit statistics:
   deviance on groups minus parameters, Pearson chi-square and dispersion (the
   Pearson statistic from a pass over the groups once fitted).
2. **Reference profiles** of the groups' features for drift checks: bin edges and the
   KS sample from a hash sample of at most :data:`~._evidence.SAMPLE_ROWS` groups
   (every group when there are fewer, the whole data's quantiles then), exact bin
   shares, moments and range from passes.
3. **Row fingerprint** of the groups (the Bloom filter of
   :class:`~logitkit.data.fingerprint.RowFingerprint`).

One function runs them, :func:`run_grouped_on`, over a :class:`GroupRows`: the groups
in memory (:class:`FrameGroups`), or a :class:`~logitkit.data.stream.FileSource` or
:class:`~logitkit.data.dask.DaskSource` with ``trials`` (:class:`SourceGroups`), so
the three give the same artifact but for the provenance that says how the rows were
read.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial, reduce
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.data.fingerprint import BloomBits, row_hashes
from logitkit.data.grouped import group_counts
from logitkit.diagnostics import Findings
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel
from logitkit.reference import feature_profile
from logitkit.workflow._evidence import (
    Moments,
    bin_counts,
    feature_references,
    sample_block,
    sample_share,
)
from logitkit.workflow._result import TrainingResult, summary_or_none
from logitkit.workflow._rows import BLOCK_ROWS
from logitkit.workflow._spec import TrainingSpec

if TYPE_CHECKING:
    from logitkit.data.encoding import TableEncoder

__all__ = ["FrameGroups", "GroupRows", "SourceGroups", "run_grouped_on"]

FloatArray = NDArray[np.float64]
T = TypeVar("T")
#: ``fn(X, successes, trials)`` of one block of groups.
GroupFn = Callable[[FloatArray, FloatArray, FloatArray], T]
#: Quantile bins of a reference profile (as in memory).
_BINS = 10


class GroupRows(Protocol):
    """What the grouped pipeline needs of its groups (see the module notes)."""

    encoder: TableEncoder | None
    where: str

    @property
    def feature_names(self) -> list[str]:
        """The model's columns."""
        ...

    def fit(self, model: LogisticModel) -> LogisticModel:
        """Fit ``model`` on the groups (its grouped fit statistics set)."""
        ...

    def scan_groups(self, fn: GroupFn[T]) -> Iterator[T]:
        """``fn`` of every block of groups, results in row order."""
        ...


@dataclass
class FrameGroups:
    """Groups in memory: the encoded features, successes and trials of each group."""

    E: pd.DataFrame
    successes: NDArray[Any]
    trials: NDArray[Any]
    encoder: TableEncoder | None
    names: tuple[str, str]
    where: str = "the data"

    @property
    def feature_names(self) -> list[str]:
        return [str(c) for c in self.E.columns]

    def fit(self, model: LogisticModel) -> LogisticModel:
        model.fit(self.E, self.successes, trials=self.trials)
        model.encoder_ = self.encoder
        return model

    def scan_groups(self, fn: GroupFn[T]) -> Iterator[T]:
        X = self.E.to_numpy(dtype=np.float64)
        s, m = group_counts(self.successes, self.trials, names=self.names)
        for start in range(0, X.shape[0], BLOCK_ROWS):
            rows = slice(start, start + BLOCK_ROWS)
            yield fn(X[rows], s[rows], m[rows])


@dataclass
class SourceGroups:
    """Groups read in passes: a :class:`~logitkit.data.stream.FileSource` or
    :class:`~logitkit.data.dask.DaskSource` given ``trials``."""

    source: Any
    encoder: TableEncoder | None
    where: str

    def __post_init__(self) -> None:
        if getattr(self.source, "trials", None) is None:
            msg = f"{self.where} is read without a trials column: its rows are not groups."
            raise ValueError(msg)
        names = self.source.schema().feature_names
        self.feature_names = list(names or [])

    def fit(self, model: LogisticModel) -> LogisticModel:
        model.fit(self.source)
        if self.encoder is not None:
            model.encoder_ = self.encoder
        return model

    def scan_groups(self, fn: GroupFn[T]) -> Iterator[T]:
        return iter(self.source.scan_groups(fn))


@dataclass
class _FirstScan:
    """One block's share of the reference sample, moments and row hashes."""

    sample: FloatArray
    moments: Moments
    hashes: NDArray[np.uint64]


def _first_scan(X: FloatArray, s: FloatArray, m: FloatArray, *, share: int) -> _FirstScan:  # noqa: ARG001
    return _FirstScan(
        sample_block(X, share=share), Moments.of(X, np.ones(X.shape[0])), row_hashes(X)
    )


def _counts(X: FloatArray, s: FloatArray, m: FloatArray, *, edges: list[FloatArray]) -> Any:  # noqa: ARG001
    return bin_counts(X, edges)


def run_grouped_on(
    groups: GroupRows, spec: TrainingSpec, *, source: str, how: str
) -> TrainingResult:
    """Run the grouped stages (see the module notes) and return their result.

    Parameters
    ----------
    groups : GroupRows
        The groups (in memory, a streamed file or Dask partitions).
    spec : TrainingSpec
        The options (``trials`` set; what grouped data cannot take is refused there).
    source : str
        The data's name in the outputs.
    how : str
        How the groups were read, for the provenance.
    """
    model = groups.fit(
        LogisticModel(
            penalty=spec.penalty,
            C=1.0 if spec.penalty in (None, "firth") else spec.C,
            l1_ratio=spec.l1_ratio,
            **spec.fit_params,
        )
    )
    totals = model._grouped
    if totals is None:  # pragma: no cover - a fit on groups sets them
        msg = f"The fit on {groups.where} kept no totals of its groups."
        raise DataError(msg)
    n = totals.n_groups
    names = groups.feature_names

    # One pass: the reference sample, the moments and the row fingerprint (each block's
    # row hashes set their bits as the block comes, never all held at once).
    bloom = BloomBits(n)
    samples, parts = [], []
    for part in groups.scan_groups(partial(_first_scan, share=sample_share(n))):
        samples.append(part.sample)
        parts.append(part.moments)
        bloom.add(part.hashes)
    sample = np.concatenate(samples)
    moments = reduce(operator.add, parts)
    profiles = [feature_profile(sample[:, j], bins=_BINS) for j in range(len(names))]
    edges = [np.asarray(p["edges"], dtype=np.float64) for p in profiles]
    counts = [
        reduce(operator.add, column)
        for column in zip(*groups.scan_groups(partial(_counts, edges=edges)), strict=True)
    ]
    reference = {
        "n_rows": n,
        "features": feature_references(names, profiles, counts, moments),
        "score": None,
    }

    described = f"the {n} groups ({int(totals.n_trials)} trials)"
    provenance = {
        "rows_read": f"{groups.where}, {how}",
        "model": f"fitted on {described}: successes '{spec.target}' of trials '{spec.trials}'",
        "coefficients": f"the shipped model on {described}; log-odds of a success",
        "fit_statistics": f"the grouped model on {described}: deviance on groups minus "
        "parameters; Pearson chi-square from a pass over the groups at the fitted model",
        "policy": None,
        "performance": None,
        "reference": f"{described} (the baseline of drift checks): exact shares, moments "
        "and range; bin edges and KS sample from a hash sample of at most 100000 groups",
        "row_fingerprint": f"{described}: evaluate and report call these rows training rows",
    }
    performance = {
        "rows": described,
        "procedure": "none: grouped data have no single rows to score or decide",
        "n_rows": n,
        "problem": "grouped data: see the fit statistics (deviance, Pearson chi-square)",
    }
    return TrainingResult(
        model=model,
        policy=None,
        performance=performance,
        held_out=None,
        findings=Findings(()),  # the row-level checks do not apply to groups
        summary=summary_or_none(model),
        search=None,
        oof=(np.empty(0), np.empty((0, 2))),
        provenance=provenance,
        fingerprint=bloom.fingerprint(),
        reference=reference,
        training={
            "source": source,
            "target": spec.target,
            "trials_column": spec.trials,
            "positive_named": False,
            "n_rows_read": n,
            "fit_statistics": model.fit_statistics(),
            "fit": how,
        },
    )
