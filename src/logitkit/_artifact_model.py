"""A fitted model as the artifact's JSON sections, and back (see :mod:`logitkit.artifact`).

``model_section`` writes the ``model`` section (parameters, classes, raw and encoded
features, encoding, coefficients, standardisation and the fit's statistics) and
``inference_section`` the coefficient table; ``model_from_section`` rebuilds a model
that predicts bit for bit as the original and answers ``summary()`` without its rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit._fitting import GroupedData
from logitkit.data.encoding import TableEncoder
from logitkit.diagnostics import Findings
from logitkit.inference import Summary
from logitkit.model import LogisticModel, resolve_positive_class
from logitkit.solver import Convergence, SolverResult, Stats, StopReason

__all__ = [
    "MAX_STORED_HESSIAN",
    "inference_section",
    "model_from_section",
    "model_section",
    "plain",
    "stored_diagnostics",
    "stored_summary",
]

#: The Hessian is stored for at most this many parameters (it has their square).
MAX_STORED_HESSIAN = 256


# ------------------------------------------------------------------------ JSON helpers
def plain(value: Any) -> Any:
    """Plain Python for JSON: numpy scalars unwrapped, non-finite floats as None.

    Examples
    --------
    >>> plain({"a": np.float64(1.5), "b": [float("nan")]})
    {'a': 1.5, 'b': [None]}
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _label_type(classes: NDArray[Any]) -> str:
    kind = classes.dtype.kind
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, "str")


def _labels_from_json(values: list[Any], label_type: str) -> NDArray[Any]:
    convert = {"bool": bool, "int": int, "float": float}.get(label_type, str)
    return np.array([convert(v) for v in values])


def _floats(a: Any) -> Any:
    """Nested lists of Python floats (``repr`` gives the shortest exact round-trip)."""
    return np.asarray(a, dtype=np.float64).tolist()


# ---------------------------------------------------------------------- the content
def _fit_section(model: LogisticModel) -> dict[str, Any] | None:
    result = getattr(model, "solver_result_", None)
    if result is None:
        return None
    stats = result.stats
    hess = stats.hess
    if hess is not None and hess.shape[0] > MAX_STORED_HESSIAN:
        hess = None
    fixed = getattr(model, "_fixed_features", None)
    sums = getattr(model, "_class_weight_sums", None)
    grouped: GroupedData | None = getattr(model, "_grouped", None)
    return {
        "method": result.method,
        "message": result.message,
        "stop_reason": result.convergence.reason.value,
        "tol": plain(float(result.convergence.tol)),
        "stop_detail": result.convergence.detail,
        "converged": bool(result.converged),
        "n_iter": int(result.n_iter),
        "n_passes": int(result.n_passes),
        "objective": plain(float(result.objective)),
        "kkt": plain(float(result.kkt)),
        "theta": _floats(result.theta),
        "loss": float(stats.loss),
        "weight": float(stats.weight),
        "n_rows": int(stats.n_rows),
        "grad": _floats(stats.grad),
        "hessian": None if hess is None else _floats(hess),
        "class_counts": [int(n) for n in model.class_counts_],
        "class_weight_sums": None if sums is None else _floats(sums),
        "fixed_features": None if fixed is None else [bool(v) for v in np.asarray(fixed)],
        # Grouped binomial data: the constants of the grouped likelihood and Pearson's
        # statistic, so that fit_statistics() and summary() answer as before saving.
        "grouped": None if grouped is None else plain(grouped.to_dict()),
    }


def _controls(model: LogisticModel, names: list[str]) -> dict[str, Any]:
    """Bounds and penalty factors as ``{feature: value}`` (defaults left out), and the offset.

    Stored in this form, not as given: it holds finite numbers only (JSON has no
    infinity), and the same dict makes the same model again.
    """
    out: dict[str, Any] = {}
    for name, default in (("lower_bounds", -math.inf), ("upper_bounds", math.inf)):
        values = getattr(model, f"{name}_", None)
        out[name] = (
            None
            if values is None
            else {n: float(v) for n, v in zip(names, values, strict=True) if v != default}
        )
    factor = getattr(model, "penalty_factor_", None)
    out["penalty_factor"] = (
        None if factor is None else {n: float(v) for n, v in zip(names, factor, strict=True)}
    )
    null = getattr(model, "_null_log_likelihood", None)
    out["offset"] = {
        "fitted_with_offset": bool(getattr(model, "fitted_with_offset_", False)),
        "column": getattr(model, "offset_column_", None),
        "null_log_likelihood": None if null is None else float(null),
    }
    return out


def _restore_controls(model: LogisticModel, controls: dict[str, Any] | None) -> None:
    """The fitted controls of :func:`_controls` (none in artifacts written before them)."""
    names = [str(n) for n in model._feature_names()]
    for name, default in (
        ("lower_bounds", -math.inf),
        ("upper_bounds", math.inf),
        ("penalty_factor", 1.0),
    ):
        given = None if controls is None else controls.get(name)
        values = None if given is None else np.array([given.get(n, default) for n in names])
        setattr(model, f"{name}_", values)
    offset = {} if controls is None else controls.get("offset") or {}
    model.fitted_with_offset_ = bool(offset.get("fitted_with_offset", False))
    model.offset_column_ = offset.get("column")
    null = offset.get("null_log_likelihood")
    model._null_log_likelihood = None if null is None else float(null)


def model_section(model: LogisticModel) -> dict[str, Any]:
    names = [str(n) for n in model._feature_names()]
    controls = _controls(model, names)
    params = {k: plain(v) for k, v in model.get_params().items() if k != "class_weight"}
    for name in ("lower_bounds", "upper_bounds", "penalty_factor"):
        if getattr(model, name, None) is not None:
            params[name] = controls[name]
    cw = model.class_weight
    params["class_weight"] = (
        {str(k): float(v) for k, v in cw.items()} if isinstance(cw, dict) else cw
    )
    names = [str(n) for n in model._feature_names()]
    encoder: TableEncoder | None = getattr(model, "encoder_", None)
    if encoder is not None:
        spec = encoder.to_dict()
        if spec["encoded_features"] != names:
            msg = "model.encoder_ makes other columns than the model was fitted on."
            raise ValueError(msg)
        features = spec.pop("columns")
        del spec["encoded_features"]
        encoding: dict[str, Any] | None = spec
    else:
        features, encoding = [{"name": n, "type": "float"} for n in names], None
    return {
        "type": "LogisticModel",
        "params": params,
        "classes": [plain(c) for c in model.classes_.tolist()],
        "class_label_type": _label_type(model.classes_),
        "features": plain(features),
        "encoded_features": names,
        "encoding": plain(encoding),
        "has_feature_names": hasattr(model, "feature_names_in_"),
        "coef": _floats(model.coef_),
        "intercept": _floats(model.intercept_),
        "feature_mean": _floats(model.feature_mean_),
        "feature_scale": _floats(model.feature_scale_),
        "fit": _fit_section(model),
        "controls": controls,
    }


def inference_section(model: LogisticModel, summary: Summary | None) -> dict[str, Any] | None:
    if summary is None:
        try:
            summary = model.summary()
        except ValueError:  # no Hessian kept (L-BFGS): nothing to store
            return None
    table = summary.table
    index = [str(n) for n in table.index.names]
    rows = table.reset_index()
    return {
        "index": index,
        "columns": [str(c) for c in table.columns],
        "rows": [plain(list(r)) for r in rows.itertuples(index=False)],
        "header": plain(dict(summary.header)),
    }


def model_from_section(spec: dict[str, Any]) -> LogisticModel:
    model = LogisticModel(**dict(spec["params"]))
    model.classes_ = _labels_from_json(spec["classes"], spec["class_label_type"])
    model.positive_class_ = resolve_positive_class(model.classes_, model.positive_class)
    model.coef_ = np.array(spec["coef"], dtype=np.float64)
    model.intercept_ = np.array(spec["intercept"], dtype=np.float64)
    model.feature_mean_ = np.array(spec["feature_mean"], dtype=np.float64)
    model.feature_scale_ = np.array(spec["feature_scale"], dtype=np.float64)
    model.coef_standardized_ = model.coef_ * model.feature_scale_
    names = [str(n) for n in spec["encoded_features"]]
    model.n_features_in_ = len(names)
    if spec.get("has_feature_names"):
        model.feature_names_in_ = np.array(names, dtype=object)
    n_outputs = 1 if len(model.classes_) == 2 else len(model.classes_)
    if model.coef_.shape != (n_outputs, model.n_features_in_):
        msg = "'coef' (its shape does not match the classes and features)"
        raise ValueError(msg)
    if not all(math.isfinite(v) for v in model.coef_.ravel()):
        msg = "'coef' (it holds a non-finite value)"
        raise ValueError(msg)
    model.encoder_ = None
    if spec["encoding"] is not None:
        encoding = {**spec["encoding"], "columns": spec["features"], "encoded_features": names}
        model.encoder_ = TableEncoder.from_dict(encoding)
    if spec.get("fit") is not None:
        _restore_fit(model, spec["fit"])
    _restore_controls(model, spec.get("controls"))
    return model


def _restore_fit(model: LogisticModel, fit: dict[str, Any]) -> None:
    """The solver's outcome and statistics, for inference without the training rows."""
    hess = fit["hessian"]
    stats = Stats(
        loss=float(fit["loss"]),
        weight=float(fit["weight"]),
        grad=np.array(fit["grad"], dtype=np.float64),
        hess=None if hess is None else np.array(hess, dtype=np.float64),
        n_rows=int(fit["n_rows"]),
    )
    converged = bool(fit["converged"])
    # Files written before the stop reason was recorded: the likeliest reason.
    reason = fit.get("stop_reason") or ("kkt" if converged else "max_iter")
    tol = fit.get("tol")
    model.solver_result_ = SolverResult(
        theta=np.array(fit["theta"], dtype=np.float64),
        objective=math.nan if fit["objective"] is None else float(fit["objective"]),
        n_passes=int(fit["n_passes"]),
        method=str(fit["method"]),
        stats=stats,
        convergence=Convergence(
            reason=StopReason(reason),
            converged=converged,
            kkt=math.nan if fit["kkt"] is None else float(fit["kkt"]),
            tol=math.nan if tol is None else float(tol),
            n_iter=int(fit["n_iter"]),
            detail=str(fit.get("stop_detail", "")),
        ),
    )
    model.n_iter_ = np.array([int(fit["n_iter"])], dtype=np.int32)
    model.class_counts_ = np.array(fit["class_counts"], dtype=np.int64)
    if fit["class_weight_sums"] is not None:
        model._class_weight_sums = np.array(fit["class_weight_sums"], dtype=np.float64)
    if fit["fixed_features"] is not None:
        model._fixed_features = np.array(fit["fixed_features"], dtype=bool)
    grouped = fit.get("grouped")  # absent from artifacts written before grouped fits
    model._grouped = None if grouped is None else GroupedData.from_dict(grouped)


# ---------------------------------------------------------------- stored results
def stored_summary(content: dict[str, Any]) -> Summary | None:
    """The coefficient table stored in an artifact's content, as a :class:`Summary`.

    Examples
    --------
    >>> import logitkit, tempfile, os
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "m.json")
    >>> _ = logitkit.LogisticModel(penalty=None).fit(X[:, :3], y).save(path)
    >>> table = stored_summary(logitkit.load(path).artifact_)
    >>> table.loc["x0", "std_err"].round(3)
    np.float64(0.996)
    """
    stored = content.get("inference")
    if not stored:
        return None
    frame = pd.DataFrame(stored["rows"], columns=[*stored["index"], *stored["columns"]])
    frame = frame.set_index(stored["index"])
    frame = frame.astype(dict.fromkeys(stored["columns"], np.float64))
    out = Summary(frame)
    out.attrs["logitkit"] = stored["header"]
    return out


def stored_diagnostics(content: dict[str, Any]) -> Findings | None:
    """The diagnostics stored in an artifact's content (None when none were stored).

    Examples
    --------
    >>> stored_diagnostics({"diagnostics": []}), stored_diagnostics({"diagnostics": None})
    (Findings([]), None)
    """
    stored = content.get("diagnostics")
    return None if stored is None else Findings.from_list(stored)
