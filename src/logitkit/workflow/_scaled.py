"""The pipeline on hash folds: the same stages on rows in memory, streamed, or on Dask.

``fold_scheme="hash"`` (``--folds-by hash``; what ``--stream`` and ``--dask`` run) runs
every stage as passes over a :class:`~._rows.PassRows`, so a streamed file, Dask
partitions and the same rows in memory give the same artifact (they differ only in
the provenance that names the source and how it was read):

1. **Encode**: the rows' encoder (levels; with formula or imputation, learned in passes
   on the fitting rows, see :func:`logitkit.cli._scale.rows_of_file`).
2. **Folds by row hash** (:class:`~logitkit.selection.HashKFold`): a row's fold is a
   hash of its encoded values, whatever the file layout or partitioning.
3. **Fit**: with ``cv``, C (and the L1 share) chosen by cross-validation on the hash
   folds, scored in one pass (:mod:`._hash_search`): on a hash sample of about
   ``cv_rows`` fitting rows when there are more (kept in memory from the first scan),
   else on every row; then the shipped model on every fitting row. Without ``cv``,
   the given C.
4. **Out-of-fold probabilities** at the chosen C: each row from the fold model that
   did not see it, computed in a pass and written to a temporary on-disk array
   (:mod:`._evidence`), never ``n x p`` in memory. The fold models (with L2 or no
   penalty) are fitted together, one pass per solver step for all of them, started
   from the shipped model (:mod:`._lockstep`); the moments of each fold's rows that
   they need come from the reference sample's scan.
5. **Policy** (every rule of :mod:`logitkit.decision`, the confidence-aware ones
   included) chosen on those probabilities, with counts and exact intervals.
6. **Evaluation**: out of fold, the exact metrics of :func:`logitkit.evaluate` on the
   row vectors (ROC/PR, log-loss, Brier, calibration: exact, no sketch).
7. **Diagnostics** from the summaries of the evidence pass
   (:mod:`logitkit.diagnostics._moments`); **reference profiles** for drift with exact
   shares against bin edges from a hash sample of the rows (:mod:`._evidence`).

**Offsets.** With an offset column (``spec.offset``, R's ``glm(offset=)``) each row's
offset enters every fit (the fold models in lockstep included), every out-of-fold and
fitted probability, the held-out scores and the reference score; it is no feature (no
coefficient, moments, profile or fingerprint of its own). ``--cv`` with an offset is
refused, as in memory.

**What is assessed.** Cross-validating the whole procedure (the default in memory,
``fold_scheme="stratified"``) refits everything ``folds`` times, C search included:
``folds x folds x Cs`` fits, too many passes at scale. On hash folds the performance
is the out-of-fold evaluation at the chosen C, the threshold chosen on the same
probabilities; the record and the provenance say so (the choice of C and of the
threshold are not re-done per fold, so the numbers lean optimistic by the selection
of those two). The in-memory pipeline with ``fold_scheme="hash"`` gives exactly this
record. Held-out rows (``test_size``) are split off by a hash of each row's encoded
values (:class:`~logitkit.data.row_filters.HashShare`, its own seed) before anything is
fitted, and scored once by the shipped model and its policy; the levels are learned
on every row read. A learned encoding (formula, imputation, merged spellings,
reference levels) must not see the held-out rows: then they are split off by the same
share of a hash of their *raw* values (:class:`~logitkit.data.sources.RawSplit`)
before the encoding is learned, the encoding and every stage read the fitting rows
only, and the held-out rows are read once at the end (``held`` of :func:`run_on_rows`).

**Memory.** Rows are read one batch (or partition) at a time (a streamed file's encoded
rows are kept in a scratch file on disk after the first pass when asked,
:mod:`logitkit.data.spill`; each block's fold is hashed once, :meth:`~._rows.PassRows.
scan_folds`); the row vectors live on disk (``16 K + 1`` bytes a row, 8 more with
sample weights that are not all 1), and their pages are handed back after each stage
that reads them; the policy and the exact metrics share one in-place sort of the
out-of-fold probabilities (:mod:`logitkit._ranks`: about 17 bytes a row while it runs,
then a few bytes a distinct score); free heap memory goes back to the system between
stages (:mod:`logitkit._memory`); the Bloom filter takes about 3.6 bytes a row, the
reference sample at most ``100,000 x p`` values and the search's sample (with ``cv``)
at most 256 MiB.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import partial, reduce
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit._memory import hand_back_free_memory
from logitkit.data.row_filters import HashShare, RowFilter
from logitkit.data.sources import RawSplit
from logitkit.diagnostics._moments import CHECKS_NOT_RUN, diagnose_summaries
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel, resolve_positive_class
from logitkit.reference import feature_profile
from logitkit.workflow._assessment import evaluate_rows
from logitkit.workflow._evidence import (
    SAMPLE_SEED,
    EvidenceWriter,
    Moments,
    _memmap,
    block_evidence,
    feature_references,
    sample_masks,
    sample_share,
)
from logitkit.workflow._hash_search import (
    CV_SEED,
    HashSearch,
    fixed_fold_models,
    folds_of,
    probabilities,
    refit,
    search_C,
    search_rows,
)
from logitkit.workflow._lockstep import FoldData, Groups, group_moments
from logitkit.workflow._procedure import choose_policy, encoder_for, split_offset
from logitkit.workflow._result import TrainingResult, summary_or_none
from logitkit.workflow._rows import FrameRows, PassRows
from logitkit.workflow._spec import TrainingSpec

__all__ = ["raw_split", "run_on_frame", "run_on_rows"]

FloatArray = NDArray[np.float64]

#: Quantile bins of each reference profile (as :func:`logitkit.reference.reference_profile`).
_BINS = 10


def run_on_frame(
    X: pd.DataFrame, y: NDArray[Any], w: FloatArray | None, spec: TrainingSpec, *, source: str
) -> TrainingResult:
    """The pipeline on hash folds for raw rows in memory (``fold_scheme="hash"``).

    The encoding is learned on every row, or, when held-out rows are split off by
    their raw values (:attr:`TrainingSpec.splits_raw_rows`), on the fitting rows only.
    """
    how = "read into memory"
    X, offsets = split_offset(X, spec)  # a log-odds term per row, not a feature
    if not spec.splits_raw_rows:
        encoder = encoder_for(spec).fit(X)
        rows = FrameRows(encoder.transform(X), y, w, encoder, where=source, row_offsets=offsets)
        return run_on_rows(rows, spec, source=source, how=how)
    held = raw_split(spec, X.columns, held=True).mask(X)
    fit = ~held
    encoder = encoder_for(spec).fit(X[fit])
    parts = [
        FrameRows(
            encoder.transform(X[m]),
            y[m],
            None if w is None else w[m],
            encoder,
            source,
            None if offsets is None else offsets[m],
        )
        for m in (fit, held)
    ]
    return run_on_rows(parts[0], spec, source=source, how=how, held=parts[1])


def raw_split(spec: TrainingSpec, columns: Any, *, held: bool) -> RawSplit:
    """The held-out rows (``held``) or the fitting rows, by a hash of the raw values of
    ``columns`` (the raw feature columns, in order), with the held-out share's seed."""
    share = HashShare(spec.test_size, seed=spec.seed + _SPLIT_SALT, held=held)
    return RawSplit(tuple(str(c) for c in columns), share)


def run_on_rows(
    rows: PassRows,
    spec: TrainingSpec,
    *,
    source: str,
    how: str,
    n_read: int | None = None,
    held: PassRows | None = None,
) -> TrainingResult:
    """Run every stage on hash folds (see the module notes).

    Parameters
    ----------
    rows : PassRows
        The encoded rows (in memory, a streamed file or Dask partitions).
    spec : TrainingSpec
        The options.
    source : str
        The data's name in the outputs.
    how : str
        How the rows were read ("in memory", "streamed in batches of 512 rows", ...),
        for the provenance.
    n_read : int, optional
        Rows read (default: the rows' count).
    held : PassRows, optional
        The held-out rows, split off by their raw values (:func:`raw_split`) when
        :attr:`TrainingSpec.splits_raw_rows`; ``rows`` are then the fitting rows only,
        encoded by an encoding learned on them.
    """
    if spec.splits_raw_rows and held is None:
        msg = (
            f"--test-size with {', '.join(spec.learned_encoding)} on hash folds needs the "
            "held-out rows split off by their raw values before the encoding is learned; "
            "read the rows through run_on_frame or rows_of_file, which do so."
        )
        raise DataError(msg)
    classes = rows.classes
    if classes.size > 2 and spec.rule is not None:
        rule = next(iter(spec.rule))
        msg = (
            f"The decision rule {rule} applies to a binary target, but '{spec.target}' has "
            f"{classes.size} classes; a multiclass model decides the most probable class."
        )
        raise DataError(msg, column=spec.target)
    positive = resolve_positive_class(classes, spec.positive)
    fitting = held_out_split(spec) if held is None else None

    # The reference sample (its quantiles are the profiles' bin edges), and the counts.
    # On the same pass, the moments of each fold's rows (for the fold models' fits), and
    # the hash sample on which --cv searches C when the rows are many.
    share = sample_share(rows.n_rows)
    folds = folds_of(spec)
    wanted = search_rows(spec, len(rows.feature_names))
    expected = rows.n_rows * (1.0 - spec.test_size)  # the fitting rows, about
    cv_share = None if wanted is None else sample_share(round(expected), wanted)
    first = partial(
        _first_block,
        share=share,
        cv_share=cv_share,
        n_splits=folds.n_splits,
        n_classes=int(classes.size),
    )
    parts = list(rows.scan_folds(first, folds, fitting))
    width = len(rows.feature_names)
    sample = np.concatenate([p.sample for p in parts]) if parts else np.empty((0, width))
    sample_offsets = (
        np.concatenate([p.sample_offsets for p in parts if p.sample_offsets is not None])
        if rows.offsets and parts
        else None
    )
    n_fit = sum(p.n_rows for p in parts)
    n_held = rows.n_rows - n_fit if held is None else held.n_rows
    _check_split(spec, n_fit, n_held)
    groups = reduce(operator.add, [p.moments for p in parts])
    searched = _search_sample(rows, parts, folds.n_splits, n_fit, cv_share)
    del parts
    hand_back_free_memory()
    data = FoldData(folds, classes, groups.moments, fitting)

    search: HashSearch | None = None
    if spec.cv and isinstance(searched, FrameRows):
        # C searched on the sample; the shipped model and the fold models fitted at it on
        # every fitting row.
        search, sample_fits = search_C(searched, spec, positive)
        search.rows = searched.where
        chosen = (search.C_, search.l1_ratio_)
        del searched
        hand_back_free_memory()
        model = refit(rows, spec, positive, chosen, fitting, sample_fits)
        fold_fits = fixed_fold_models(
            rows, spec, positive, fitting, start=model, data=data, penalty=chosen
        )
    elif spec.cv:
        search, fold_fits = search_C(rows, spec, positive, fitting, data=data)
        why = searched if isinstance(searched, str) else ""
        search.rows = f"every one of the {n_fit} fitting rows{why}"
        model = refit(rows, spec, positive, (search.C_, search.l1_ratio_), fitting, fold_fits)
    else:
        model = refit(rows, spec, positive, (spec.C, spec.l1_ratio), fitting)
        fold_fits = fixed_fold_models(rows, spec, positive, fitting, start=model, data=data)
    model.encoder_ = rows.encoder
    model.offset_column_ = spec.offset
    binary = classes.size == 2
    column = int(np.flatnonzero(model.classes_ == model.positive_class_)[0]) if binary else None
    profiles = [feature_profile(sample[:, j], bins=_BINS) for j in range(width)]
    score_profile = None
    if column is not None:
        Z = sample @ np.asarray(model.coef_).T + model.intercept_
        if sample_offsets is not None:  # the score the model gives these rows
            Z += sample_offsets[:, None]
        fitted = probabilities(Z)
        score_profile = feature_profile(fitted[:, column], bins=_BINS)
    del sample, sample_offsets  # the profiles hold what the rest needs of the sample

    # The evidence pass: row vectors on disk, moments, counts, fingerprints.
    writer = EvidenceWriter(n_fit, int(classes.size), classes, n_held)
    fn = partial(
        block_evidence,
        folds=fold_fits,
        coef=np.asarray(model.coef_),
        intercept=np.asarray(model.intercept_),
        edges=[np.asarray(p["edges"], dtype=np.float64) for p in profiles],
        score_edges=None
        if score_profile is None
        else np.asarray(score_profile["edges"], dtype=np.float64),
        positive=column,
        keep=fitting,
    )
    for part in rows.scan(fn):
        writer.add(part)
    # Each stage below reads the row vectors it needs from disk; their pages are handed
    # back after it, so that no vector stays counted in memory for the whole run.
    writer.release()
    labels = writer.labels()
    oof = np.asarray(writer.oof)
    policy = None
    if column is not None:
        policy = choose_policy(spec.rule, labels, oof[:, column], positive, spec.confidence)
        writer.release()
    n = writer.n
    held_out = None
    if fitting is not None or held is not None:
        held_labels, held_proba = (
            (np.asarray(classes[writer.held_codes]), np.asarray(writer.held_proba))
            if held is None
            else _held_rows(held, model)
        )
        hashed = "row hash" if held is None else "hash of raw values"
        held_out, _ = evaluate_rows(
            model,
            held_labels,
            held_proba,
            rows=f"held-out: {n_held} rows whose {hashed} (seed {spec.seed}) fell in the "
            f"test share {spec.test_size}, split off before anything was "
            f"{'fitted' if held is None else 'encoded or fitted'}",
            procedure="the shipped model and its policy, applied once",
            policy=policy,
        )
        writer.release()
    performance, oof_evaluation = evaluate_rows(
        model,
        labels,
        oof,
        rows=f"out-of-fold: the {n} fitting rows, each scored by the model of the "
        f"{spec.folds} hash folds that did not see it",
        procedure=_procedure(spec),
        policy=policy,
    )
    writer.release()
    moments = writer.moments
    if moments is None:  # pragma: no cover - a fit needs rows
        msg = f"{rows.where} has no rows."
        raise DataError(msg)
    findings = diagnose_summaries(
        model,
        labels=labels,
        codes=writer.codes,
        sw=writer.sw,
        mean=moments.wmean,
        sd=np.sqrt(np.maximum(moments.wvar, 0.0)),
        constant_features=(moments.high == moments.low) | (moments.wvar == 0.0),
        correlation=moments.correlation(),
        fitted=np.asarray(writer.fitted),
        oof=oof,
        policy=policy,
        oof_auc=None if oof_evaluation is None else oof_evaluation.roc_auc,
    )
    writer.release()
    reference = _reference(rows, model, profiles, score_profile, writer, moments)
    writer.release()
    provenance = _provenance(spec, model, search, (n, n_held), how, rows.where)
    training = {
        "source": source,
        "target": spec.target,
        "positive_named": spec.positive is not None,
        "n_rows_read": rows.n_rows if n_read is None else n_read,
        "fingerprint": writer.data_fingerprint(),
        "dropped_columns": list(spec.drop),
        "weight_column": spec.weight,
        "test_size": spec.test_size,
        "split_seed": spec.seed,
        "folds": spec.folds,
        "fold_scheme": "hash",
        "policy_chosen_on": provenance.get("policy"),
        "fit": how,
    }
    return TrainingResult(
        model=model,
        policy=policy,
        performance=performance,
        held_out=held_out,
        findings=findings,
        summary=summary_or_none(model),
        search=search,
        oof=(labels, oof),
        provenance=provenance,
        fingerprint=writer.row_fingerprint(),
        reference=reference,
        training=training,
        oof_evaluation=oof_evaluation,
    )


def _held_block(
    X: FloatArray,
    codes: NDArray[np.intp],
    _sw: FloatArray,
    *,
    coef: FloatArray,
    intercept: FloatArray,
    offsets: FloatArray | None = None,
) -> tuple[NDArray[np.intp], FloatArray]:
    """One block of held-out rows: class codes and the shipped model's probabilities."""
    Z = X @ coef.T + intercept
    if offsets is not None:
        Z += offsets[:, None]
    return np.asarray(codes, dtype=np.intp), probabilities(Z)


def _held_rows(held: PassRows, model: LogisticModel) -> tuple[NDArray[Any], FloatArray]:
    """Labels and the shipped model's probabilities of the held-out rows (one pass; on disk).

    The codes are the held-out rows' own classes, mapped back to labels.
    """
    n, width = held.n_rows, int(np.asarray(model.classes_).size)
    codes, proba = _memmap(n, 0, np.intp), _memmap(n, width, np.float64)
    fn = partial(_held_block, coef=np.asarray(model.coef_), intercept=np.asarray(model.intercept_))
    end = 0
    for c, p in held.scan(fn):
        codes[end : end + c.size], proba[end : end + c.size] = c, p
        end += c.size
    return np.asarray(held.classes)[codes[:end]], np.asarray(proba[:end])


@dataclass
class _FirstBlock:
    """What the first scan keeps of one block of fitting rows."""

    sample: FloatArray  # the rows in the reference sample
    sample_offsets: FloatArray | None  # their offsets (None without)
    moments: Groups  # the moments of each fold's rows
    n_rows: int
    search: tuple[FloatArray, NDArray[np.intp], FloatArray, NDArray[np.int8]] | None
    # the rows in the search's hash sample: features, class codes, weights and folds


def _first_block(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    folds: NDArray[np.int8],
    *,
    share: int,
    cv_share: int | None,
    n_splits: int,
    n_classes: int,
    offsets: FloatArray | None = None,
) -> _FirstBlock:
    """The first scan's block of fitting rows: its rows in the reference sample
    (:func:`sample_mask`) and their offsets, the moments of each fold
    (:func:`group_moments`), its rows, and its rows in the search's hash sample (when
    ``cv_share`` asks for one)."""
    moments = group_moments(X, codes, sw, folds, n_splits=n_splits, n_classes=n_classes)
    samples = [(share, SAMPLE_SEED), *([] if cv_share is None else [(cv_share, CV_SEED)])]
    sampled, *cv = sample_masks(X, samples)
    kept = None if offsets is None else offsets[sampled]
    search = None
    if cv:
        at = cv[0]
        search = (np.array(X[at]), np.array(codes[at]), np.array(sw[at]), np.array(folds[at]))
    return _FirstBlock(np.array(X[sampled]), kept, moments, X.shape[0], search)


def _search_sample(
    rows: PassRows,
    parts: list[_FirstBlock],
    n_splits: int,
    n_fit: int,
    cv_share: int | None,
) -> FrameRows | str | None:
    """The rows the search over C uses when they are a hash sample (in memory); else
    None (every row), or why the sample could not be used (it must hold every class and
    rows in every fold)."""
    if cv_share is None:
        return None
    found = [p.search for p in parts if p.search is not None]
    if not any(block[1].size for block in found):
        return " (the hash sample held no row, so C was searched on every row)"
    X, codes, sw, folds = (np.concatenate(column) for column in zip(*found, strict=True))
    m = int(codes.size)
    if m >= n_fit:  # every row fell in the sample
        return None
    missing = np.setdiff1d(np.arange(rows.classes.size), codes)
    if missing.size:
        return (
            f" (the hash sample of {m} rows lacked class {rows.classes[missing[0]]!r}, "
            "so C was searched on every row)"
        )
    if np.unique(folds).size < n_splits:
        return f" (the hash sample of {m} rows left a fold empty, so C was searched on every row)"
    return FrameRows(
        pd.DataFrame(X, columns=rows.feature_names, copy=False),
        np.asarray(rows.classes)[codes],
        None if (sw == 1.0).all() else sw,
        rows.encoder,
        where=f"a hash sample of {m} of the {n_fit} fitting rows (seed {CV_SEED:#x}; "
        "--cv-rows sets its size, 0 searches every row)",
    )


#: Added to the seed for the held-out split's hash (independent of the folds').
_SPLIT_SALT = 0x7E57


def held_out_split(spec: TrainingSpec) -> RowFilter | None:
    """The fitting rows (a hash share's complement) when ``test_size`` holds rows out.

    Examples
    --------
    >>> held_out_split(TrainingSpec(target="y")) is None
    True
    >>> held_out_split(TrainingSpec(target="y", test_size=0.2)).held
    False
    """
    if spec.test_size == 0.0:
        return None
    return HashShare(spec.test_size, seed=spec.seed + _SPLIT_SALT, held=False)


def _check_split(spec: TrainingSpec, n_fit: int, n_held: int) -> None:
    """Enough rows on each side of the split, as the stratified split asks."""
    if spec.test_size > 0 and (n_held < 2 or n_fit < 2 * spec.folds):
        msg = (
            f"--test-size {spec.test_size} holds out {n_held} of {n_fit + n_held} rows by "
            f"row hash: too few to report on, or too many to leave {spec.folds} folds to "
            "fit on. Use 0 (fit on every row; performance out of fold) or a share such as "
            "0.25."
        )
        raise DataError(msg)


def _reference(
    rows: PassRows,
    model: LogisticModel,
    profiles: list[dict[str, Any]],
    score_profile: dict[str, Any] | None,
    writer: EvidenceWriter,
    moments: Moments,
) -> dict[str, Any]:
    """The reference profiles: edges and KS sample from the hash sample, the rest exact."""
    n = max(writer.n, 1)
    features = feature_references(rows.feature_names, profiles, writer.counts or [], moments)
    score = None
    if score_profile is not None and writer.score_counts is not None:
        fitted = np.asarray(writer.fitted)
        column = int(np.flatnonzero(model.classes_ == model.positive_class_)[0])
        values = fitted[:, column]
        score = {
            **score_profile,
            "shares": (writer.score_counts / n).tolist(),
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
            "n": int(writer.n),
        }
    return {"n_rows": int(writer.n), "features": features, "score": score}


def _procedure(spec: TrainingSpec) -> str:
    C = (
        "the C chosen by cross-validation on the same hash folds"
        if spec.cv
        else ("no penalty" if spec.penalty in (None, "firth") else f"C={spec.C:g}")
    )
    return (
        f"out-of-fold probabilities of {spec.folds} hash folds (HashKFold, seed {spec.seed}) "
        f"at {C}; decided at the policy's threshold, chosen on these same probabilities "
        "(neither C nor the threshold re-chosen per fold: the numbers lean optimistic by "
        "that selection)"
    )


def _provenance(
    spec: TrainingSpec,
    model: LogisticModel,
    search: HashSearch | None,
    counts: tuple[int, int],
    how: str,
    where: str,
) -> dict[str, Any]:
    """For each reported number, the rows and the procedure behind it."""
    n, n_held = counts
    rows = f"the {n} fitting rows " + (
        "(all rows)" if not n_held else f"(all but {n_held} held out by row hash)"
    )
    if search is not None:
        C = (
            f"C={search.C_:.6g} chosen by {spec.folds}-fold hash cross-validation (HashKFold, "
            f"seed {spec.seed}) over {spec.Cs} values ({spec.scoring}) on {search.rows}; "
            f"then fitted on {rows}"
        )
    elif spec.penalty in (None, "firth"):
        C = f"no C: penalty {spec.penalty or 'none'}"
    else:
        C = f"C={spec.C:g} given, not chosen on the data"
    positive = model.positive_class_
    named = (
        "" if spec.positive is not None else " (no positive label named: the label that sorts last)"
    )
    return {
        "rows_read": f"{where}, {how}",
        "model": f"fitted on {rows}",
        "C": C,
        "coefficients": f"the shipped model on {rows}; log-odds of {positive!s}{named}"
        if positive is not None
        else f"the shipped model on {rows}; each class against {model.classes_[0]!s}",
        "policy": None
        if positive is None
        else f"out-of-fold probabilities of {rows} ({spec.folds} hash folds, "
        + ("at the C chosen by cross-validation" if spec.cv else f"at C={spec.C:g}")
        + ")",
        "performance": _procedure(spec),
        "held_out": None
        if not n_held
        else f"held-out: {n_held} rows whose hash of raw values (RawSplit, seed {spec.seed}) "
        f"fell in the test share {spec.test_size}, split off before the encoding was "
        "learned or anything was fitted; the encoding was learned on the fitting rows"
        if spec.splits_raw_rows
        else f"held-out: {n_held} rows whose row hash (HashShare, seed {spec.seed}) fell in "
        f"the test share {spec.test_size}, split off before anything was fitted; the "
        "encoding (levels) was learned on every row read",
        "diagnostics": f"{rows}: from the moments, class counts and fitted and out-of-fold "
        "probabilities of one pass; not run: "
        + "; ".join(f"{k} ({why})" for k, why in CHECKS_NOT_RUN.items()),
        "reference": f"{rows} (the baseline of drift checks): exact shares, moments and "
        "range; bin edges and KS sample from a hash sample of at most 100000 rows",
        "row_fingerprint": f"{rows}: evaluate and report call these rows training rows",
    }
