"""``logitkit train``: fit a model (on a file, or the built-in demo) and write the artifact.

Steps: read the rows; split off held-out test rows (used only to report); learn the
encoding (types, categorical levels, imputation, formula) on the training rows; fit
(with C chosen by cross-validation under ``--cv``); choose the decision rule on
out-of-fold probabilities of the training rows; diagnose; write ``model.json`` and the
HTML report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from sklearn.model_selection import StratifiedKFold, train_test_split

from logitkit.artifact import data_fingerprint, save
from logitkit.cli._common import console, echo, one_line_errors, steps
from logitkit.cli._data import positive_label
from logitkit.cli._policy import (
    CostFnOption,
    CostFpOption,
    MaxFprOption,
    MinPrecisionOption,
    MinRecallOption,
    choose_policy,
    out_of_fold_proba,
    policy_rule,
)
from logitkit.cli._scale import fit_streamed, should_stream
from logitkit.cli._train_output import held_out_report, print_summary, write_report
from logitkit.data.arrow import read_table
from logitkit.data.demo import DEMO_POSITIVE, DEMO_TARGET, load_demo
from logitkit.data.encoding import TableEncoder
from logitkit.data.formula import split_formula
from logitkit.diagnostics import diagnose
from logitkit.exceptions import DataError
from logitkit.inference import Summary
from logitkit.model import LogisticModel
from logitkit.reference import reference_profile
from logitkit.selection import LogisticModelCV

__all__ = ["train"]


def _load(
    data: Path | None, target: str | None, positive: str | None
) -> tuple[pd.DataFrame, str, str | None, str]:
    if data is None:
        return load_demo(), target or DEMO_TARGET, positive or DEMO_POSITIVE, "breast-cancer demo"
    frame = read_table(data)
    if target is None:
        shown = ", ".join(map(str, frame.columns[:10]))
        msg = f"Name the target column of {data} with --target or --formula 'target ~ ...' (columns: {shown}...)."
        raise DataError(msg)
    return frame, target, positive, str(data)


def _split_target(
    frame: pd.DataFrame, target: str, drop: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    if target not in frame.columns:
        msg = f"Target column '{target}' is not in the data; columns are: {', '.join(map(str, frame.columns))}."
        raise DataError(msg, column=target)
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        msg = f"--drop names column(s) not in the data: {', '.join(missing)}."
        raise DataError(msg, column=missing[0])
    labels = frame[target]
    if labels.isna().any():
        msg = (
            f"Target column '{target}' has {int(labels.isna().sum())} missing label(s); drop "
            "those rows or fill in their labels."
        )
        raise DataError(msg, column=target, count=int(labels.isna().sum()))
    return frame.drop(columns=[target, *drop]), labels.to_numpy()


def _formula_target(formula: str | None, target: str | None) -> tuple[str | None, str | None]:
    """``(target, right-hand side)`` from ``--formula`` and ``--target``."""
    if formula is None:
        return target, None
    lhs, rhs = split_formula(formula)
    if lhs is not None and target is not None and lhs != target:
        msg = f"--formula names the target '{lhs}' but --target names '{target}'; give one."
        raise DataError(msg)
    return lhs or target, rhs


def _fit(
    E: pd.DataFrame,
    y: np.ndarray,
    *,
    penalty: str | None,
    C: float,
    l1_ratio: float | None,
    cv: bool,
    cs: int,
    scoring: str,
    folds: int,
    seed: int,
) -> tuple[LogisticModel, LogisticModelCV | None]:
    """The model on the encoded training rows; with ``cv``, C chosen by cross-validation."""
    if not cv:
        return LogisticModel(penalty=penalty, C=C, l1_ratio=l1_ratio).fit(E, y), None
    if penalty not in ("l2", "l1", "elasticnet"):
        msg = f"--cv chooses C for a penalty (l2, l1 or elasticnet); got --penalty {penalty or 'none'}."
        raise DataError(msg)
    ratios = None
    if penalty == "elasticnet":
        ratios = [l1_ratio] if l1_ratio is not None else [0.1, 0.5, 0.9]
    search = LogisticModelCV(
        Cs=cs,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
        penalty=penalty,
        l1_ratios=ratios,
        scoring=scoring,
    ).fit(E, y)
    return search.best_estimator_, search


def train(
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV or Parquet file; omit for the built-in breast-cancer demo."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column (demo: diagnosis).")] = None,
    positive: Annotated[
        str | None, typer.Option(help="The label that must not be missed (demo: malignant).")
    ] = None,
    formula: Annotated[
        str | None,
        typer.Option(
            help='R-style formula, e.g. "outcome ~ age + C(region) + age:income + bs(debt, 4)".'
        ),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option(help="Columns to leave out (ids); repeat the option.")
    ] = None,
    impute: Annotated[
        str | None,
        typer.Option(help="Fill missing values: median or most_frequent (default: refuse them)."),
    ] = None,
    penalty: Annotated[str, typer.Option(help="l2, l1, elasticnet, firth or none.")] = "l2",
    C: Annotated[float, typer.Option("--C", "-C", help="Inverse penalty strength.")] = 1.0,
    l1_ratio: Annotated[float | None, typer.Option(help="L1 share for elasticnet.")] = None,
    cv: Annotated[
        bool, typer.Option("--cv", help="Choose C by cross-validation (--folds folds).")
    ] = False,
    cs: Annotated[int, typer.Option("--cs", help="With --cv: number of C values tried.")] = 10,
    scoring: Annotated[
        str, typer.Option(help="With --cv: log_loss, roc_auc or brier.")
    ] = "log_loss",
    min_recall: MinRecallOption = None,
    min_precision: MinPrecisionOption = None,
    max_fpr: MaxFprOption = None,
    cost_fp: CostFpOption = None,
    cost_fn: CostFnOption = None,
    threshold: Annotated[float | None, typer.Option(help="Policy: a fixed threshold.")] = None,
    folds: Annotated[
        int, typer.Option(help="Folds for cross-validation and the out-of-fold probabilities.")
    ] = 5,
    test_size: Annotated[
        float, typer.Option(help="Share of rows held out to report on (never to choose).")
    ] = 0.25,
    seed: Annotated[int, typer.Option(help="Seed of the split and the folds.")] = 0,
    out: Annotated[Path, typer.Option(help="Where to write the model artifact.")] = Path(
        "model.json"
    ),
    report: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write the HTML report.")
    ] = False,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Fit out of core: read DATA in batches on every pass (automatic when DATA "
            "would not fit in memory).",
        ),
    ] = False,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Fit on a Dask cluster: 'local' or tcp://HOST:PORT."),
    ] = None,
    batch_rows: Annotated[int, typer.Option(help="With --stream: rows per record batch.")] = 65_536,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary for scripts.")
    ] = False,
) -> None:
    """Train a logistic model, choose its decision rule, report it, and write the artifact.

    The threshold is chosen on out-of-fold probabilities of the training rows; the
    held-out test rows are used only to report, never to choose.
    """
    say = echo(quiet or as_json)
    streamed_fit = stream or dask is not None
    if data is not None and not streamed_fit and data.exists():
        streamed_fit = should_stream(data)  # the file would not fit in memory
    if data is not None and streamed_fit:
        with one_line_errors():
            if formula or impute or cv:
                msg = (
                    "--formula, --impute and --cv need the rows in memory; they cannot be "
                    "combined with a streamed (--stream) or distributed (--dask) fit."
                )
                raise DataError(msg)
            if target is None:
                msg = f"Name the target column of {data} with --target."
                raise DataError(msg)
            start = time.perf_counter()
            model = fit_streamed(
                data,
                target,
                {"penalty": None if penalty == "none" else penalty, "C": C, "l1_ratio": l1_ratio},
                drop=drop or [],
                batch_rows=batch_rows,
                dask=dask,
                progress=not (quiet or as_json),
            )
            elapsed = time.perf_counter() - start
            save(
                model,
                out,
                training={
                    "source": str(data),
                    "target": target,
                    "fit": "streamed" if dask is None else f"dask ({dask})",
                },
                summary=model.summary(),
            )
        streamed = {
            "source": str(data),
            "rows": int(np.sum(model.class_counts_)),
            "classes": [str(c) for c in model.classes_],
            "iterations": int(model.n_iter_[0]),
            "passes": int(model.solver_result_.n_passes),
            "fit_seconds": elapsed,
            "model_path": str(out),
        }
        if as_json and not quiet:
            console.print_json(json.dumps(streamed))
            return
        say(model.summary())
        say(
            f"Fitted {streamed['rows']} rows in {streamed['iterations']} iterations "
            f"({streamed['passes']} passes, {elapsed:.1f} s). Model written to [bold]{out}[/]"
        )
        return
    with one_line_errors(), steps(quiet or as_json) as step:
        step("Reading the data")
        target, rhs = _formula_target(formula, target)
        frame, target_col, positive_arg, source = _load(data, target, positive)
        X, y = _split_target(frame, target_col, drop or [])
        if not 0.0 < test_size < 1.0:
            msg = f"--test-size must be between 0 and 1 (exclusive); got {test_size}."
            raise DataError(msg)
        if impute not in (None, "median", "most_frequent"):
            msg = f"--impute must be median or most_frequent; got {impute!r}."
            raise DataError(msg)
        rule = policy_rule(
            min_recall=min_recall,
            min_precision=min_precision,
            max_fpr=max_fpr,
            cost_fp=cost_fp,
            cost_fn=cost_fn,
            threshold=threshold,
            demo=data is None,
        )
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, random_state=seed, stratify=y
        )
        encoder = TableEncoder(impute=impute, formula=rhs).fit(X_train)
        E_train = encoder.transform(X_train)
        step("Fitting" + (" (cross-validating C)" if cv else ""))
        start = time.perf_counter()
        model, search = _fit(
            E_train,
            y_train,
            penalty=None if penalty == "none" else penalty,
            C=C,
            l1_ratio=l1_ratio,
            cv=cv,
            cs=cs,
            scoring=scoring,
            folds=folds,
            seed=seed,
        )
        elapsed = time.perf_counter() - start
        model.encoder_ = encoder
        pos = positive_label(model.classes_, positive_arg)
        column = int(np.flatnonzero(model.classes_ == pos)[0])
        binary = len(model.classes_) == 2
        policy, oof = None, None
        if binary:
            step("Choosing the decision rule on out-of-fold probabilities")
            proba_oof = (
                search.oof_proba_
                if search is not None
                else out_of_fold_proba(model, E_train, y_train, folds=folds, seed=seed)
            )
            oof = (y_train, proba_oof[:, column])
            policy = choose_policy(rule, y_train, oof[1], pos)
        step("Scoring the held-out rows and diagnosing")
        proba = model.predict_proba(X_test)
        summary = _summary(model)
        findings = diagnose(model, E_train, y_train)
        result = held_out_report(model, X.shape[1], y_test, proba, pos, column, policy)
        result.update(
            source=source,
            rows=len(y),
            train_rows=len(y_train),
            fit_seconds=elapsed,
            model_path=str(out),
            encoded_features=len(encoder.encoded_features_),
        )
        if search is not None:
            result["cv"] = {"C": float(search.C_), "folds": folds, "scoring": scoring}
        names = model._feature_names()
        train_score = model.predict_proba(E_train)[:, column] if binary else None
        step("Writing the model")
        save(
            model,
            out,
            training={
                "source": source,
                "target": target_col,
                "positive": result["positive"],
                "fingerprint": data_fingerprint(E_train, y_train),
                "dropped_columns": list(drop or []),
                "test_size": test_size,
                "split_seed": seed,
                "policy_chosen_on": f"out-of-fold probabilities, {folds}-fold" if binary else None,
                "cross_validation": _cv_record(search, folds, scoring),
                "held_out": {k: result[k] for k in ("test_rows", "test_roc_auc", "test_log_loss")},
            },
            policy=policy,
            reference=reference_profile(E_train, names, train_score),
            summary=summary,
            diagnostics=findings,
        )
        result["report_path"] = None
        if not no_report:
            step("Writing the report")
            result["report_path"] = write_report(
                report,
                model,
                X_test=X_test,
                y_test=y_test,
                policy=policy,
                oof=oof,
                search=search,
                findings=findings,
                summary=summary,
                title=source,
            )
    if as_json and not quiet:
        console.print_json(json.dumps(result))
        return
    print_summary(say, model, result, summary, findings)


def _summary(model: LogisticModel) -> Summary | None:
    """The coefficient table, or None where the fit kept no Hessian (L-BFGS, no penalty)."""
    try:
        return model.summary()
    except ValueError:
        return None


def _cv_record(search: LogisticModelCV | None, folds: int, scoring: str) -> dict[str, Any] | None:
    """The cross-validation behind C, for the artifact (the grid and its scores)."""
    if search is None:
        return None
    table = search.cv_results_
    return {
        "C": float(search.C_),
        "l1_ratio": float(search.l1_ratio_),
        "folds": folds,
        "scoring": scoring,
        "results": table.to_dict(orient="records"),
    }
