"""``train``: rows -> typed and encoded -> fit -> policy -> evaluation -> diagnostics.

The stages, in order, each recording what it used (``TrainingResult.provenance``):

1. **Read and check** the rows: the target (no missing labels; labels that differ only
   in case or spaces refused or normalised), the positive label, the weight column.
2. **Split** off a held-out share when ``test_size > 0`` (stratified, seeded), used
   only to report. By default every row fits the shipped model.
3. **Fit the procedure** on the fitting rows: learn the encoding, fit (C chosen by
   cross-validation with ``cv=True``), compute out-of-fold probabilities and choose the
   threshold on them (:mod:`._procedure`).
4. **Assess** the procedure by cross-validating all of it (:mod:`._assessment`), and
   on the held-out rows.
5. **Explain**: the coefficient table (log-odds of the positive class), diagnostics
   (with the out-of-fold probabilities and the policy), reference profiles for drift,
   and a fingerprint of the fitting rows.

With ``fold_scheme="hash"`` the stages run as passes (:mod:`._scaled`, as streamed and
on Dask); grouped data (``trials``) run the grouped stages of :mod:`._grouped`.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from logitkit.artifact import data_fingerprint
from logitkit.data.arrow import read_table
from logitkit.data.checks import check_label_spelling, check_sample_weight
from logitkit.data.fingerprint import RowFingerprint
from logitkit.diagnostics import diagnose
from logitkit.exceptions import DataError
from logitkit.model import resolve_positive_class
from logitkit.reference import reference_profile
from logitkit.workflow._assessment import cross_validate_procedure, evaluate_rows
from logitkit.workflow._grouped import FrameGroups, run_grouped_on
from logitkit.workflow._procedure import Fitted, encoder_for, fit_procedure
from logitkit.workflow._result import TrainingResult, summary_or_none
from logitkit.workflow._scaled import run_on_frame
from logitkit.workflow._spec import TrainingSpec

__all__ = ["train"]

FloatArray = NDArray[np.float64]


def train(
    data: pd.DataFrame | str | Path, *, source: str | None = None, **options: Any
) -> TrainingResult:
    """Train a model, choose its decision rule, and measure both honestly.

    The shipped model is fitted on every row (unless ``test_size`` holds some out);
    its performance is estimated by cross-validating the whole procedure (encoding,
    the choice of C, the fit and the choice of the threshold), and the threshold is
    chosen on out-of-fold probabilities, never on rows the reported numbers come from.

    Parameters
    ----------
    data : pandas.DataFrame, str or Path
        The rows (a CSV or Parquet file is read with :func:`~logitkit.data.arrow.read_table`).
    source : str, optional
        How to name the data in the outputs (default: the file name).
    **options
        The options of the run (:class:`TrainingSpec`), each below.
    target : str
        The target column (or the left side of ``formula``).
    positive : label, optional
        The class that must not be missed (binary targets): coefficients, odds ratios,
        probabilities and the policy speak of it. Default: the class that sorts last,
        and every output says which one it is.
    formula : str, optional
        R-style formula, e.g. ``"low ~ age + C(race) + smoke"``.
    drop : sequence of str
        Columns to leave out (ids).
    weight : str, optional
        A column of non-negative row weights.
    impute : {"median", "most_frequent"}, optional
        Fill missing feature values (learned on the fitting rows); default: refuse them.
    normalize_labels : bool, default=False
        Merge target labels and categorical levels that differ only in case or
        surrounding spaces (default: refuse them, naming the variants).
    reference : mapping, optional
        Reference level of categorical columns, ``{"race": "white"}``.
    penalty, C, l1_ratio, class_weight, max_iter, tol
        As :class:`~logitkit.LogisticModel`.
    cv : bool, default=False
        Choose C (and the L1 share) by stratified cross-validation over ``Cs`` values.
    Cs, scoring, folds
        The grid size, the score, and the folds of every cross-validation.
    cv_rows : int, optional
        On hash folds (``fold_scheme="hash"``), ``cv`` searches C on a hash sample of
        about this many fitting rows (default :data:`~logitkit.workflow._hash_search.
        CV_ROWS`, fewer for wide data; 0: every row); the chosen C is then fitted on
        every fitting row. Refused with stratified folds (C searched on every row).
    min_recall, min_precision, max_fpr, cost_fp, cost_fn, threshold
        The decision rule (one of them; default a fixed 0.5), see
        :meth:`~logitkit.ThresholdPolicy.fit`.
    confidence : float, optional
        Choose a constraint's threshold so that it holds at this confidence (a
        one-sided exact bound), or fail when the data cannot show it.
    test_size : float in [0, 1), default=0
        Share of rows held out before fitting, only to report on.
    seed : int, default=0
        Seed of the split and of the folds.
    fold_scheme : {None, "stratified", "hash"}, default=None
        ``"hash"`` runs the pipeline that also runs on a streamed file and on Dask
        (:mod:`logitkit.workflow._scaled`): folds by a hash of each row's values, every
        stage in passes, performance out of fold at the chosen C; the same rows give the
        same artifact wherever they live. None or ``"stratified"``: shuffled stratified
        folds and cross-validation of the whole procedure (in memory).

    Returns
    -------
    TrainingResult

    Raises
    ------
    DataError
        Bad data, or options that cannot apply (named, with the reason).

    Examples
    --------
    >>> import logitkit
    >>> from logitkit.data.demo import load_demo
    >>> result = logitkit.train(load_demo(), target="diagnosis", positive="malignant",
    ...                         min_recall=0.95)
    >>> result.model.positive_class_, result.policy.method
    ('malignant', 'min_recall')
    """
    try:
        spec = TrainingSpec(**options)
    except TypeError as exc:
        known = ", ".join(f.name for f in fields(TrainingSpec) if f.init)
        msg = f"{exc}; the options of train() are: {known}."
        raise DataError(msg) from None
    if isinstance(data, str | Path):
        source = source or str(data)
        frame = read_table(data)
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        msg = (
            f"train() takes a pandas DataFrame or a CSV/Parquet path; got {type(data).__name__}. "
            "For data larger than memory use `logitkit train FILE --stream`."
        )
        raise DataError(msg)
    return run(frame, spec, source=source or "data frame")


def _columns(
    frame: pd.DataFrame, spec: TrainingSpec
) -> tuple[pd.DataFrame, NDArray[Any], FloatArray | None]:
    """Features, checked labels and weights."""
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        msg = f"The data have duplicated column name(s) {', '.join(map(repr, dup))}; rename them."
        raise DataError(msg, column=dup[0])
    if spec.target not in frame.columns:
        msg = f"Target column '{spec.target}' is not in the data; columns are: {', '.join(names)}."
        raise DataError(msg, column=spec.target)
    named = [*spec.drop, *(c for c in (spec.weight, spec.trials) if c)]
    missing = [c for c in named if c not in frame.columns]
    if missing:
        msg = f"Column(s) {', '.join(map(repr, missing))} named by --drop/--weight are not in the data."
        raise DataError(msg, column=missing[0])
    labels = frame[spec.target]
    if labels.isna().any():
        first = int(np.flatnonzero(labels.isna().to_numpy())[0])
        msg = (
            f"Target column '{spec.target}' has {int(labels.isna().sum())} missing label(s) "
            f"(first at row {first + 1} of the data); drop those rows or fill in their labels."
        )
        raise DataError(msg, column=spec.target, row=first, count=int(labels.isna().sum()))
    y = labels.to_numpy() if spec.trials is not None else _checked_labels(labels.to_numpy(), spec)
    w = None
    if spec.weight is not None:
        raw = pd.to_numeric(frame[spec.weight], errors="coerce")
        if raw.isna().any():
            first = int(np.flatnonzero(raw.isna().to_numpy())[0])
            msg = (
                f"Weight column '{spec.weight}' has a missing or non-numeric value at row "
                f"{first + 1}; weights must be non-negative numbers."
            )
            raise DataError(msg, column=spec.weight, row=first)
        w = check_sample_weight(raw.to_numpy(dtype=np.float64), len(frame))
    X = frame.drop(columns=[spec.target, *named])
    return X, y, w


def _checked_labels(values: NDArray[Any], spec: TrainingSpec) -> NDArray[Any]:
    if values.dtype.kind in "OUS":
        values, _ = check_label_spelling(values, str(spec.target), normalize=spec.normalize_labels)
    return np.asarray(values)


def run(frame: pd.DataFrame, spec: TrainingSpec, *, source: str) -> TrainingResult:
    """Run every stage on the rows of ``frame`` (see the module notes)."""
    if spec.trials is not None:
        return run_grouped(frame, spec, source=source)
    X, y, w = _columns(frame, spec)
    classes = np.unique(y)
    if classes.size < 2:
        msg = f"Target column '{spec.target}' has one class only ({classes[0]!r}); it needs two or more."
        raise DataError(msg, column=spec.target)
    positive = resolve_positive_class(classes, spec.positive)
    if classes.size > 2 and spec.rule is not None:
        rule = next(iter(spec.rule))
        msg = (
            f"The decision rule {rule} applies to a binary target, but '{spec.target}' has "
            f"{classes.size} classes ({', '.join(map(str, classes[:10]))}). A multiclass model "
            "decides the most probable class; for costs per kind of error use "
            "logitkit.MulticlassPolicy in Python, or make the target binary."
        )
        raise DataError(msg, column=spec.target)
    if spec.fold_scheme == "hash":  # the pipeline that also runs streamed and on Dask
        return run_on_frame(X, y, w, spec, source=source)
    if spec.cv_rows is not None:
        msg = (
            "--cv-rows sizes the hash sample of the search over C on hash folds (--folds-by "
            "hash, --stream, --dask); with stratified folds C is cross-validated on every "
            "fitting row. Add --folds-by hash, or leave --cv-rows out."
        )
        raise DataError(msg)
    fit_rows, held_rows = _split(y, spec)
    X_fit, y_fit = X.iloc[fit_rows], y[fit_rows]
    w_fit = None if w is None else w[fit_rows]
    fitted = fit_procedure(X_fit, y_fit, w_fit, spec, positive=positive)
    model, policy = fitted.model, fitted.policy
    performance, _ = cross_validate_procedure(X_fit, y_fit, w_fit, spec, model=model, policy=policy)
    held_out, held = None, None
    if held_rows.size:
        X_held, y_held = X.iloc[held_rows], y[held_rows]
        held = (X_held, y_held)
        held_out, _ = evaluate_rows(
            model,
            y_held,
            model.predict_proba(X_held),
            rows=f"held-out: {held_rows.size} rows split off at random (stratified, seed "
            f"{spec.seed}) before anything was fitted",
            procedure="the shipped model and its policy, applied once",
            policy=policy,
        )
    return _explain(fitted, y_fit, w_fit, spec, performance, held_out, held, source, len(y))


def _split(y: NDArray[Any], spec: TrainingSpec) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    rows = np.arange(len(y))
    if spec.test_size == 0.0:
        return rows, rows[:0]
    n_held = int(np.ceil(spec.test_size * len(y)))
    _, counts = np.unique(y, return_counts=True)
    if n_held < counts.size or len(y) - n_held < 2 * spec.folds:
        msg = (
            f"--test-size {spec.test_size} holds out {n_held} of {len(y)} rows: too few to "
            f"hold each of the {counts.size} classes, or too many to leave {spec.folds} folds "
            "to fit on. Use 0 (fit on every row; performance by cross-validation) or a "
            "share such as 0.25."
        )
        raise DataError(msg)
    fit, held = train_test_split(rows, test_size=n_held, random_state=spec.seed, stratify=y)
    return np.sort(fit), np.sort(held)


def _explain(
    fitted: Fitted,
    y: NDArray[Any],
    w: FloatArray | None,
    spec: TrainingSpec,
    performance: dict[str, Any],
    held_out: dict[str, Any] | None,
    held: tuple[pd.DataFrame, NDArray[Any]] | None,
    source: str,
    n_read: int,
) -> TrainingResult:
    model, E = fitted.model, fitted.encoded
    binary = len(model.classes_) == 2
    column = int(np.flatnonzero(model.classes_ == model.positive_class_)[0]) if binary else None
    findings = diagnose(model, E, y, w, oof=(y, fitted.oof_proba), policy=fitted.policy)
    # The score the model gives these rows: at their offsets, when it has an offset.
    score = model.predict_proba(E, offset=fitted.offsets)[:, column] if column is not None else None
    reference = reference_profile(E, model._feature_names(), score)
    provenance = _provenance(spec, fitted, len(y), held_out)
    provenance["performance"] = performance["procedure"]
    training = {
        "source": source,
        "target": spec.target,
        "positive_named": spec.positive is not None,
        "n_rows_read": n_read,
        "fingerprint": data_fingerprint(E, y),
        "dropped_columns": list(spec.drop),
        "weight_column": spec.weight,
        "test_size": spec.test_size,
        "split_seed": spec.seed,
        "folds": spec.folds,
        "policy_chosen_on": provenance.get("policy"),
    }
    return TrainingResult(
        model=model,
        policy=fitted.policy,
        performance=performance,
        held_out=held_out,
        findings=findings,
        summary=summary_or_none(model),
        search=fitted.search,
        oof=(y, fitted.oof_proba),
        provenance=provenance,
        fingerprint=RowFingerprint.of_rows(E),
        reference=reference,
        training=training,
        held_out_rows=held,
    )


def _provenance(
    spec: TrainingSpec, fitted: Fitted, n_fit: int, held_out: dict[str, Any] | None
) -> dict[str, Any]:
    """For each reported number, the rows and the procedure behind it."""
    rows = f"the {n_fit} fitting rows" + (
        " (all rows)" if held_out is None else f" (all but {held_out['n_rows']} held out)"
    )
    if fitted.search is not None:
        C = (
            f"C={fitted.search.C_:.6g} chosen by {spec.folds}-fold stratified cross-validation "
            f"over {spec.Cs} values ({spec.scoring}) on {rows}"
        )
    elif spec.penalty in (None, "firth"):
        C = f"no C: penalty {spec.penalty or 'none'}"
    else:
        C = f"C={spec.C:g} given, not chosen on the data"
    out: dict[str, Any] = {
        "model": f"fitted on {rows}",
        "C": C,
        "coefficients": f"the shipped model on {rows}; log-odds of {fitted.model.positive_class_!s}"
        + (
            ""
            if spec.positive is not None
            else " (no positive label named: the label that sorts last)"
        )
        if fitted.model.positive_class_ is not None
        else f"the shipped model on {rows}; each class against {fitted.model.classes_[0]!s}",
        "policy": None,
        "performance": None,
        "held_out": None if held_out is None else held_out["rows"],
        "diagnostics": f"{rows}, with their out-of-fold probabilities",
        "reference": f"{rows} (the baseline of drift checks)",
        "row_fingerprint": f"{rows}: evaluate and report call these rows training rows",
    }
    if fitted.policy is not None:
        out["policy"] = (
            f"out-of-fold probabilities of {rows} ({spec.folds}-fold, "
            + (
                "at the C chosen by cross-validation"
                if spec.cv
                else ("unpenalised" if spec.penalty in (None, "firth") else f"at C={spec.C:g}")
            )
            + ")"
        )
    return out


def run_grouped(frame: pd.DataFrame, spec: TrainingSpec, *, source: str) -> TrainingResult:
    """Grouped binomial data: the target counts successes out of the ``trials`` column.

    The stages of :mod:`._grouped` on the groups in memory (the same as streamed or on
    Dask): the fit, its summary and the grouped fit statistics (R's
    ``glm(cbind(s, n - s) ~ ...)``), reference profiles and the row fingerprint; there
    are no single rows to decide, so no policy and no row-level evaluation.
    """
    X, successes, _ = _columns(frame, spec)
    trials = pd.to_numeric(frame[str(spec.trials)], errors="coerce").to_numpy(dtype=np.float64)
    encoder = encoder_for(spec).fit(X)
    groups = FrameGroups(
        encoder.transform(X), successes, trials, encoder, (str(spec.target), str(spec.trials))
    )
    return run_grouped_on(groups, spec, source=source, how="in memory")
