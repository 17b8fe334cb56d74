"""``logitkit train``: fit a model (on a file, or the built-in demo) and write the artifact."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from logitkit.artifact import data_fingerprint, save
from logitkit.cli._common import console, echo, one_line_errors
from logitkit.cli._policy import choose_policy, out_of_fold_proba, policy_rule
from logitkit.data.arrow import read_table
from logitkit.data.demo import DEMO_POSITIVE, DEMO_TARGET, load_demo
from logitkit.decision import ThresholdPolicy
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel
from logitkit.reference import reference_profile

__all__ = ["train"]


def _load(
    data: Path | None, target: str | None, positive: str | None
) -> tuple[pd.DataFrame, str, str | None, str]:
    if data is None:
        return load_demo(), target or DEMO_TARGET, positive or DEMO_POSITIVE, "breast-cancer demo"
    frame = read_table(data)
    if target is None:
        msg = f"Name the target column of {data} with --target (columns: {', '.join(map(str, frame.columns[:10]))}...)."
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
    X = frame.drop(columns=[target, *drop])
    y = frame[target].to_numpy()
    return X, y


def _positive_label(classes: np.ndarray, positive: str | None) -> Any:
    if positive is None:
        return classes[-1]
    for c in classes:
        if str(c) == positive:
            return c
    msg = f"--positive {positive!r} is not a class of the target; classes are {[str(c) for c in classes]}."
    raise DataError(msg)


def train(
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV or Parquet file; omit for the built-in breast-cancer demo."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column (demo: diagnosis).")] = None,
    positive: Annotated[
        str | None, typer.Option(help="The label that must not be missed (demo: malignant).")
    ] = None,
    penalty: Annotated[str, typer.Option(help="l2, l1, elasticnet or none.")] = "l2",
    C: Annotated[float, typer.Option("--C", "-C", help="Inverse penalty strength.")] = 1.0,
    l1_ratio: Annotated[float | None, typer.Option(help="L1 share for elasticnet.")] = None,
    drop: Annotated[
        list[str] | None, typer.Option(help="Columns to leave out (ids); repeat the option.")
    ] = None,
    min_recall: Annotated[
        float | None,
        typer.Option(help="Policy: the highest threshold with out-of-fold recall >= this."),
    ] = None,
    min_precision: Annotated[
        float | None,
        typer.Option(help="Policy: the lowest threshold with out-of-fold precision >= this."),
    ] = None,
    max_fpr: Annotated[
        float | None,
        typer.Option(
            "--max-fpr", help="Policy: the lowest threshold with false-positive rate <= this."
        ),
    ] = None,
    cost_fp: Annotated[
        float | None, typer.Option(help="Policy: cost of a false positive (with --cost-fn).")
    ] = None,
    cost_fn: Annotated[
        float | None, typer.Option(help="Policy: cost of a false negative (a missed positive).")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Policy: a fixed threshold.")] = None,
    folds: Annotated[
        int, typer.Option(help="Folds for the out-of-fold probabilities the policy is chosen on.")
    ] = 5,
    test_size: Annotated[
        float, typer.Option(help="Share of rows held out to report on (never to choose).")
    ] = 0.25,
    seed: Annotated[int, typer.Option(help="Seed of the train/test split.")] = 0,
    out: Annotated[Path, typer.Option(help="Where to write the model artifact.")] = Path(
        "model.json"
    ),
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
    with one_line_errors():
        frame, target_col, positive_arg, source = _load(data, target, positive)
        X, y = _split_target(frame, target_col, drop or [])
        if not 0.0 < test_size < 1.0:
            msg = f"--test-size must be between 0 and 1 (exclusive); got {test_size}."
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
        model = LogisticModel(
            penalty=None if penalty == "none" else penalty, C=C, l1_ratio=l1_ratio
        )
        start = time.perf_counter()
        model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        pos = _positive_label(model.classes_, positive_arg)
        column = int(np.flatnonzero(model.classes_ == pos)[0])
        binary = len(model.classes_) == 2
        policy = None
        if binary:
            oof = out_of_fold_proba(model, X_train, y_train, folds=folds, seed=seed)
            policy = choose_policy(rule, y_train, oof[:, column], pos)
        proba = model.predict_proba(X_test)
        report = _report(model, X, y_test, proba, pos, column, policy)
        report.update(
            source=source,
            rows=len(y),
            train_rows=len(y_train),
            fit_seconds=elapsed,
            model_path=str(out),
        )
        names = model._feature_names()
        train_score = model.predict_proba(X_train)[:, column] if binary else None
        save(
            model,
            out,
            training={
                "source": source,
                "target": target_col,
                "positive": report["positive"],
                "fingerprint": data_fingerprint(X_train, y_train),
                "test_size": test_size,
                "split_seed": seed,
                "policy_chosen_on": f"out-of-fold probabilities, {folds}-fold" if binary else None,
            },
            policy=policy,
            reference=reference_profile(X_train, names, train_score),
        )
    if as_json and not quiet:
        console.print_json(json.dumps(report))
        return
    _print_summary(say, model, report)


def _report(
    model: LogisticModel,
    X: pd.DataFrame,
    y_test: np.ndarray,
    proba: np.ndarray,
    pos: Any,
    column: int,
    policy: ThresholdPolicy | None,
) -> dict[str, Any]:
    """Held-out metrics, and the 0.5 rule beside the chosen policy."""
    binary = len(model.classes_) == 2
    report: dict[str, Any] = {
        "features": int(X.shape[1]),
        "test_rows": len(y_test),
        "classes": [str(c) for c in model.classes_],
        "positive": str(pos),
        "iterations": int(model.n_iter_[0]),
        "test_accuracy": float(accuracy_score(y_test, model.classes_[proba.argmax(axis=1)])),
        "test_roc_auc": float(
            roc_auc_score(y_test == pos, proba[:, column])
            if binary
            else roc_auc_score(y_test, proba, multi_class="ovr", labels=model.classes_)
        ),
        "test_log_loss": float(log_loss(y_test, proba, labels=model.classes_)),
    }
    if policy is not None:
        truth = y_test == pos
        rows = {}
        for name, t in (("default 0.5", 0.5), ("policy", policy.threshold)):
            flagged = proba[:, column] >= t
            tp = int((flagged & truth).sum())
            fp = int((flagged & ~truth).sum())
            fn = int((~flagged & truth).sum())
            rows[name] = {
                "threshold": float(t),
                "missed_positives": fn,
                "false_alarms": fp,
                "precision": tp / (tp + fp) if tp + fp else 0.0,
                "recall": tp / (tp + fn) if tp + fn else 0.0,
            }
        report["policy"] = {"rule": policy.to_dict()["rule"], "threshold": policy.threshold}
        report["test_decisions"] = rows
    return report


def _print_summary(say: Any, model: LogisticModel, report: dict[str, Any]) -> None:
    say(
        f"[bold]logitkit[/] · {report['source']}: {report['rows']} rows x {report['features']} "
        f"features, classes {', '.join(report['classes'])}; positive class "
        f"[bold]{report['positive']}[/]"
    )
    say(
        f"Fitted {model!r} on {report['train_rows']} rows in {report['iterations']} "
        f"iterations ({report['fit_seconds'] * 1000:.1f} ms)."
    )
    say(
        f"Held-out test ({report['test_rows']} rows, used only to report): accuracy "
        f"{report['test_accuracy']:.3f}, ROC-AUC {report['test_roc_auc']:.3f}, "
        f"log-loss {report['test_log_loss']:.3f}"
    )
    table = Table(title="Largest effects (per standard deviation of the feature)")
    table.add_column("feature")
    table.add_column("coef / SD", justify="right")
    table.add_column("odds ratio / SD", justify="right")
    std = (
        model.coef_standardized_[0]
        if model.coef_.shape[0] == 1
        else np.abs(model.coef_standardized_).max(axis=0)
    )
    names = model._feature_names()
    for j in np.argsort(-np.abs(std))[:8]:
        table.add_row(names[j], f"{std[j]:+.3f}", f"{np.exp(std[j]):.3g}")
    say(table)
    if "test_decisions" in report:
        rule = ", ".join(f"{k}={v}" for k, v in report["policy"]["rule"].items())
        decisions = Table(
            title=f"Decisions on the held-out test rows: 0.5 beside the policy ({rule}, "
            "chosen on out-of-fold probabilities)"
        )
        for col in (
            "rule",
            "threshold",
            f"missed {report['positive']}",
            "false alarms",
            "precision",
            "recall",
        ):
            decisions.add_column(col, justify="left" if col == "rule" else "right")
        for name, row in report["test_decisions"].items():
            decisions.add_row(
                name,
                f"{row['threshold']:.4f}",
                str(row["missed_positives"]),
                str(row["false_alarms"]),
                f"{row['precision']:.3f}",
                f"{row['recall']:.3f}",
            )
        say(decisions)
    say(f"Model written to [bold]{report['model_path']}[/]")
