"""Scale benchmark, end to end: the whole decision pipeline on one big Parquet file, beside peers.

Run ``python -m benchmarks.scale_pipeline [--smoke] [--rows N] [--skip ...] [--keep-data] [--out FILE]``.

The data (``--smoke``: 20,000 rows) are 20,000,000 rows of 47 standard-normal features
with a shared factor, 3 categorical columns (4, 10 and 25 levels, written as Parquet
dictionary strings) and a logistic 0/1 target ``y`` (about 22 % positive), written row
group by row group into ``benchmarks/data/`` (gitignored) and deleted at the end unless
``--keep-data``. Every contender runs in its own fresh process, whose peak resident
memory is read from the kernel (``wait4``'s ``ru_maxrss`` for a command; ``VmHWM`` of the
JVM for Spark):

- **bare fit**: ``LogisticModel().fit(FileSource(path, target="y"))``, the defaults of
  ``logitkit train`` (L2, C=1, tol=1e-10), coefficients only.
- **bare fit, spilled**: the same with ``FileSource(..., spill=True)``: its first pass
  writes the encoded rows to a scratch file and later passes read them back, as the
  pipeline's passes do (for the ratio without that difference).
- **pipeline, streamed**: ``logitkit train DATA --target y --positive 1 --stream --cv
  --min-recall 0.99 --report r.html``: the encoding learned in passes, C chosen by
  cross-validation on hash folds, out-of-fold probabilities, the policy, evaluation,
  diagnostics, the drift reference and the report. Target: at most 3x the bare fit's
  time, peak RSS under 1.5 GB.
- **pipeline, Dask**: the same command with ``--dask local`` (a LocalCluster of one
  single-threaded worker per core: 2 here). Target: the same artifact numbers as the
  streamed pipeline (coefficients to 1e-8, the same threshold, the same counts).
- **peers, unpenalised** (maximum likelihood: the one objective every library fits in
  the same parametrisation, whatever its penalty conventions): logitkit's bare streamed
  fit with ``penalty=None``; Apache Spark MLlib's ``LogisticRegression`` (``local[2]``,
  ``regParam=0``, its default ``tol=1e-6`` and a tight ``tol=1e-10``; StringIndexer and
  OneHotEncoder for the categoricals, with the alphabetically first level dropped, as
  logitkit does); dask-ml's ``LogisticRegression`` (lbfgs, ``C=inf``) on the same
  LocalCluster, one-hot columns from ``DummyEncoder``. Each contender's log-likelihood is
  computed by one function in one pass over the file; gap = (loss - least loss) / least
  loss. Target: logitkit at least 2x faster than Spark, at a smaller gap.

A contender that runs past its cap (``--cap`` seconds) is stopped and marked so.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import expit

from benchmarks._common import (
    RESULTS_PATH,
    CpuSnapshot,
    cpu_snapshot,
    format_bytes,
    format_seconds,
    machine_lines,
    markdown_table,
    replace_section,
)
from benchmarks.scale import DATA_DIR, ROW_GROUP

SECTION = "benchmarks.scale.pipeline"
#: The issue's "peak RSS under 1.5 GB", in bytes (1.5 GB = 1,430 MiB).
PIPELINE_MEMORY_TARGET = 1.5e9
PACKAGES = ("logitkit", "numpy", "pyarrow", "dask", "distributed", "dask-ml", "pyspark")
FULL_ROWS = 20_000_000
SMOKE_ROWS = 20_000
N_NUMERIC = 47
LEVELS = {"c0": 4, "c1": 10, "c2": 25}
RATIO_TARGET = 3.0  # pipeline time over the bare fit's
SPARK_TARGET = 2.0  # Spark's time over logitkit's unpenalised fit
COEF_TARGET = 1e-8  # Dask pipeline against the streamed one
CONTENDERS = ("bare", "bare-spill", "pipeline", "dask", "logitkit-mle", "spark", "dask-ml")


def _levels(column: str) -> list[str]:
    return [f"{column}_{k:02d}" for k in range(LEVELS[column])]


def write_data(path: Path, n: int, *, seed: int = 0) -> Path:
    """``n`` rows: 47 numeric features, 3 categoricals and a logistic 0/1 target ``y``.

    Written row group by row group; no more than one group is ever in memory.
    """
    rng = np.random.default_rng(seed)
    loading = rng.uniform(0.0, 0.5, N_NUMERIC)
    beta = rng.normal(0.0, 1.0, N_NUMERIC)
    beta *= 1.5 / math.sqrt(float(beta @ beta) + float(loading @ beta) ** 2)
    effects = {c: rng.normal(0.0, 0.5, k) for c, k in LEVELS.items()}
    shares = {c: rng.dirichlet(np.full(k, 2.0)) for c, k in LEVELS.items()}
    numeric = [f"x{j:02d}" for j in range(N_NUMERIC)]
    dictionary = pa.dictionary(pa.int8(), pa.string())
    schema = pa.schema(
        [(c, pa.float64()) for c in numeric]
        + [(c, dictionary) for c in LEVELS]
        + [("y", pa.int8())]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema) as out:
        for start in range(0, n, ROW_GROUP):
            m = min(ROW_GROUP, n - start)
            X = rng.standard_normal((m, N_NUMERIC)) + rng.standard_normal((m, 1)) * loading
            eta = X @ beta - 1.6
            codes = {}
            for c, k in LEVELS.items():
                codes[c] = rng.choice(k, size=m, p=shares[c]).astype(np.int8)
                eta += effects[c][codes[c]]
            y = (rng.random(m) < expit(eta)).astype(np.int8)
            arrays = [pa.array(X[:, j]) for j in range(N_NUMERIC)]
            arrays += [
                pa.DictionaryArray.from_arrays(pa.array(codes[c]), pa.array(_levels(c)))
                for c in LEVELS
            ]
            arrays.append(pa.array(y))
            out.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=m)
    return path


# --- a fitted model as one comparable form ---------------------------------------------------


@dataclass
class Linear:
    """A fitted linear predictor: intercept, numeric slopes and each level's effect."""

    intercept: float
    slopes: dict[str, float]
    level_effects: dict[str, dict[str, float]]  # column -> level -> effect (0 if absent)

    def eta(self, batch: pa.RecordBatch) -> np.ndarray:
        """The linear predictor of a record batch of the benchmark's file."""
        out = np.full(batch.num_rows, self.intercept)
        for name, slope in self.slopes.items():
            out += slope * batch.column(name).to_numpy(zero_copy_only=False)
        for column, effects in self.level_effects.items():
            array = batch.column(column)
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            labels = array.dictionary.to_pylist()
            table = np.array([effects.get(label, 0.0) for label in labels])
            out += table[array.indices.to_numpy(zero_copy_only=False)]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "slopes": self.slopes, "levels": self.level_effects}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Linear:
        return cls(float(d["intercept"]), d["slopes"], d["levels"])


def from_encoded(names: Sequence[str], coef: Sequence[float], intercept: float) -> Linear:
    """From logitkit's encoded columns (``x00``, ``c0[T.c0_01]``, ...)."""
    slopes: dict[str, float] = {}
    levels: dict[str, dict[str, float]] = {c: {} for c in LEVELS}
    for name, value in zip(names, coef, strict=True):
        if "[T." in name:
            column, level = name.split("[T.", 1)
            levels[column][level.rstrip("]")] = float(value)
        else:
            slopes[name] = float(value)
    return Linear(float(intercept), slopes, levels)


def log_loss_pass(path: Path, models: dict[str, Linear]) -> dict[str, float]:
    """Each model's summed log-loss over every row, in one pass (one function for all)."""
    total = dict.fromkeys(models, 0.0)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP):
        y = batch.column("y").to_numpy(zero_copy_only=False).astype(np.float64)
        for name, model in models.items():
            eta = model.eta(batch)
            total[name] += math.fsum(np.logaddexp(0.0, eta) - y * eta)
    return total


# --- contenders, each in its own process ----------------------------------------------------


@dataclass
class Run:
    """One contender's outcome."""

    label: str
    setting: str
    seconds: float = math.nan
    peak_bytes: float = math.nan
    iterations: int | None = None
    model: Linear | None = None
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)


def _child_entry(queue: Any, func: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> None:
    try:
        queue.put(("ok", func(*args)))
    except Exception:  # noqa: BLE001 - reported to the parent, which marks the run failed
        queue.put(("error", traceback.format_exc(limit=3)))


def in_child(
    func: Callable[..., dict[str, Any]], args: tuple[Any, ...], cap: float
) -> dict[str, Any]:
    """``func(*args)`` in a fresh spawned process, stopped after ``cap`` seconds."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child_entry, args=(queue, func, args))
    process.start()
    deadline = time.monotonic() + cap
    try:
        while True:
            with contextlib.suppress(Exception):
                kind, value = queue.get(timeout=1.0)
                if kind == "ok":
                    return dict(value)
                return {"status": "failed: " + str(value).strip().splitlines()[-1][:200]}
            if not process.is_alive():
                return {"status": f"failed: exit status {process.exitcode}"}
            if time.monotonic() > deadline:
                return {"status": f"timed out; > {format_seconds(cap)} cap"}
    finally:
        if process.is_alive():
            _kill_tree(process.pid)
        process.join(timeout=10)


def _kill_tree(pid: int) -> None:
    """Stop a process and its descendants (a JVM, Dask workers)."""
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(pid)
        for child in parent.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        parent.kill()


def _vm_hwm(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) * 1024
    return math.nan


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_fit_child(path: str, penalty: str | None, spill: bool = False) -> dict[str, Any]:
    """logitkit's streamed fit, coefficients only (no policy, evaluation or report);
    ``spill``: later passes read the encoded rows from a scratch file, as the pipeline's."""
    from logitkit import LogisticModel
    from logitkit.data.stream import FileSource

    start = time.perf_counter()
    model = LogisticModel(penalty=penalty).fit(FileSource(path, target="y", spill=spill))
    seconds = time.perf_counter() - start
    linear = from_encoded(model.feature_names_in_, model.coef_[0], model.intercept_[0])
    return {
        "seconds": seconds,
        "peak_bytes": _vm_hwm(),
        "iterations": int(model.n_iter_[0]) if np.ndim(model.n_iter_) else int(model.n_iter_),
        "model": linear.as_dict(),
        "kkt": float(model.solver_result_.kkt),
    }


def command_run(argv: list[str], cap: float) -> tuple[float, float, str]:
    """Run a command; its wall time, peak RSS (``wait4``) and status."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > start + cap:
                _kill_tree(process.pid)
                os.wait4(process.pid, 0)
                process.returncode = -9
                return math.nan, math.nan, f"timed out; > {format_seconds(cap)} cap"
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        process.returncode = code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        last = err.read().decode(errors="replace").strip().splitlines()[-1:]
    state = "ok" if code == 0 else f"failed: exit {code}: {' '.join(last)[:200]}"
    # ru_maxrss: the largest resident size of the command or a descendant it waited for.
    return seconds, float(usage.ru_maxrss) * 1024, state


def pipeline_argv(path: Path, out: Path, report: Path, dask: bool) -> list[str]:
    """``logitkit train`` with the whole pipeline on the file."""
    cli = [sys.executable, "-c", "from logitkit.cli import main; main()"]
    argv = [*cli, "train", str(path), "--target", "y", "--positive", "1", "--cv"]
    argv += ["--min-recall", "0.99", "--report", str(report), "--out", str(out), "--quiet"]
    return [*argv, "--dask", "local"] if dask else [*argv, "--stream"]


def spark_child(path: str, tol: float, max_iter: int, memory: str) -> dict[str, Any]:
    """Spark MLlib's LogisticRegression, local[2], unpenalised; categoricals one-hot."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    jvm_pid = spark.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
    try:
        start = time.perf_counter()
        frame = spark.read.parquet(path)
        numeric = [c for c in frame.columns if c.startswith("x")]
        cats = list(LEVELS)
        # alphabetDesc puts the alphabetically first level last, where dropLast drops it:
        # the same reference level as logitkit's.
        indexers = [
            StringIndexer(inputCol=c, outputCol=f"{c}_i", stringOrderType="alphabetDesc")
            for c in cats
        ]
        encoder = OneHotEncoder(
            inputCols=[f"{c}_i" for c in cats], outputCols=[f"{c}_v" for c in cats]
        )
        assembler = VectorAssembler(
            inputCols=numeric + [f"{c}_v" for c in cats], outputCol="features"
        )
        lr = LogisticRegression(
            featuresCol="features", labelCol="y", regParam=0.0, tol=tol, maxIter=max_iter
        )
        fitted = Pipeline(stages=[*indexers, encoder, assembler, lr]).fit(frame)
        seconds = time.perf_counter() - start
        model = fitted.stages[-1]
        coef = model.coefficients.toArray()
        slopes = {c: float(v) for c, v in zip(numeric, coef[: len(numeric)], strict=True)}
        levels: dict[str, dict[str, float]] = {}
        at = len(numeric)
        for indexer, c in zip(fitted.stages[: len(cats)], cats, strict=True):
            labels = list(indexer.labels)  # index order; the last is dropped
            kept = labels[:-1]
            levels[c] = {
                lab: float(v) for lab, v in zip(kept, coef[at : at + len(kept)], strict=True)
            }
            at += len(kept)
        peak = _vm_hwm(jvm_pid)
        # The JVM is not this process's waited-for child: its CPU is counted here, so
        # that the run's "other processes" line does not take it for another load.
        jvm_cpu = _cpu_seconds(jvm_pid)
        return {
            "jvm_cpu_seconds": jvm_cpu,
            "seconds": seconds,
            "peak_bytes": peak,
            "iterations": int(model.summary.totalIterations),
            "model": Linear(float(model.intercept), slopes, levels).as_dict(),
        }
    finally:
        spark.stop()


def dask_ml_child(path: str) -> dict[str, Any]:
    """dask-ml's LogisticRegression (lbfgs, unpenalised) on a 2-worker LocalCluster."""
    import dask.dataframe as dd
    from dask_ml.linear_model import LogisticRegression
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter()
        frame = dd.read_parquet(path)
        # One-hot columns with the alphabetically first level dropped, as logitkit does.
        dummies = {
            f"{c}={level}": (frame[c].astype(str) == level).astype(np.float64)
            for c in LEVELS
            for level in _levels(c)[1:]
        }
        table = frame.drop(columns=["y", *LEVELS]).assign(**dummies)
        names = list(table.columns)
        # One array, target last, so that the features and the target share their chunks.
        both = table.assign(y=frame["y"].astype(np.float64)).to_dask_array(lengths=True)
        Xa, y = both[:, :-1], both[:, -1]
        model = LogisticRegression(solver="lbfgs", C=math.inf).fit(Xa, y)
        seconds = time.perf_counter() - start

        def peak() -> float:  # run on each worker (pickled by value)
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024
            return math.nan

        workers = sum(client.run(peak).values())
    slopes: dict[str, float] = {}
    levels: dict[str, dict[str, float]] = {c: {} for c in LEVELS}
    for name, value in zip(names, np.ravel(model.coef_), strict=True):
        if "=" in name:
            column, level = name.split("=", 1)
            levels[column][level] = float(value)
        else:
            slopes[name] = float(value)
    return {
        "seconds": seconds,
        "peak_bytes": workers + _vm_hwm(),
        "iterations": None,
        "model": Linear(float(np.ravel(model.intercept_)[0]), slopes, levels).as_dict(),
        "peak_note": "the sum of the client's and both workers' peaks",
    }


def _as_run(label: str, setting: str, result: dict[str, Any]) -> Run:
    run = Run(label, setting, status=result.get("status", "ok"))
    if run.status == "ok":
        run.seconds = float(result["seconds"])
        run.peak_bytes = float(result.get("peak_bytes", math.nan))
        run.iterations = result.get("iterations")
        run.model = Linear.from_dict(result["model"])
        run.extra = {
            k: v for k, v in result.items() if k in ("kkt", "peak_note", "jvm_cpu_seconds")
        }
    return run


# --- the pipeline's artifacts compared ------------------------------------------------------


def artifact_numbers(path: Path) -> dict[str, Any]:
    """The numbers two pipeline runs must agree on: coefficients, threshold, counts."""
    artifact = json.loads(path.read_text())
    model, policy = artifact["model"], artifact["policy"]
    return {
        "coef": np.concatenate([np.ravel(model["coef"]), np.ravel(model["intercept"])]),
        "threshold": policy.get("threshold"),
        "confusion": policy.get("confusion"),
        "C": model["params"]["C"],
    }


def compare_artifacts(a: Path, b: Path) -> dict[str, Any]:
    """Largest coefficient difference, and whether the threshold and counts are the same."""
    x, y = artifact_numbers(a), artifact_numbers(b)
    return {
        "coef_diff": float(np.max(np.abs(x["coef"] - y["coef"]))),
        # The threshold is an out-of-fold probability: one computed on a Dask partition
        # may differ from the streamed batch's in its last bit (BLAS block shapes).
        "threshold_diff": abs(x["threshold"] - y["threshold"]) / max(abs(x["threshold"]), 1e-300),
        "threshold": (x["threshold"], y["threshold"]),
        "same_counts": x["confusion"] == y["confusion"],
        "same_C": x["C"] == y["C"],
    }


# --- the run --------------------------------------------------------------------------------


@dataclass
class Result:
    """Everything one run measured."""

    n: int
    file_bytes: int
    runs: dict[str, Run]
    gaps: dict[str, float]
    agreement: dict[str, Any] | None


def run(
    *,
    rows: int,
    skip: Sequence[str] = (),
    cap: float = 3600.0,
    spark_memory: str = "12g",
    data_dir: Path = DATA_DIR,
    keep_data: bool = False,
    out: Path | None = None,
    smoke: bool = False,
    echo: Callable[[str], None] = print,
) -> Result:
    """Generate the file, run every contender not skipped, print and write the section."""
    unknown = set(skip) - set(CONTENDERS)
    if unknown:
        msg = f"Unknown contender(s) {sorted(unknown)}; choose from {', '.join(CONTENDERS)}."
        raise ValueError(msg)
    start_cpu = cpu_snapshot()
    path = data_dir / f"pipeline_{rows}.parquet"
    work = data_dir / f"pipeline_{rows}_out"
    work.mkdir(parents=True, exist_ok=True)
    runs: dict[str, Run] = {}
    agreement = None
    try:
        if not path.exists():
            echo(f"writing {rows:,} rows to {path} ...")
            write_data(path, rows)
        if "bare" not in skip:
            echo("bare streamed fit ...")
            runs["bare"] = _as_run(
                "logitkit",
                "bare streamed fit (L2, C=1)",
                in_child(bare_fit_child, (str(path), "l2"), cap),
            )
        if "bare-spill" not in skip:
            echo("bare streamed fit, spilled ...")
            runs["bare-spill"] = _as_run(
                "logitkit",
                "bare streamed fit (L2, C=1), encoded rows spilled after the first pass",
                in_child(bare_fit_child, (str(path), "l2", True), cap),
            )
        for key, dask in (("pipeline", False), ("dask", True)):
            if key in skip:
                continue
            echo(f"pipeline ({'Dask' if dask else 'streamed'}) ...")
            argv = pipeline_argv(path, work / f"{key}.json", work / f"{key}.html", dask)
            seconds, peak, status = command_run(argv, cap)
            runs[key] = Run(
                "logitkit",
                "whole pipeline, " + ("--dask local (2 workers)" if dask else "--stream"),
                seconds,
                peak,
                status=status,
            )
        if runs.get("pipeline", Run("", "", status="x")).status == "ok" and (
            runs.get("dask", Run("", "", status="x")).status == "ok"
        ):
            agreement = compare_artifacts(work / "pipeline.json", work / "dask.json")
        if "logitkit-mle" not in skip:
            echo("logitkit unpenalised ...")
            runs["logitkit-mle"] = _as_run(
                "logitkit",
                "streamed fit, penalty=None, tol=1e-10",
                in_child(bare_fit_child, (str(path), None), cap),
            )
        if "spark" not in skip and _missing("pyspark", "spark", runs):
            pass
        elif "spark" not in skip:
            for tol, max_iter in ((1e-6, 100), (1e-10, 1000)):
                echo(f"Spark MLlib tol={tol:g} ...")
                runs[f"spark-{tol:g}"] = _as_run(
                    "Spark MLlib",
                    f"local[2], regParam=0, tol={tol:g}, maxIter={max_iter}",
                    in_child(spark_child, (str(path), tol, max_iter, spark_memory), cap),
                )
        if "dask-ml" not in skip and _missing("dask_ml", "dask-ml", runs):
            pass
        elif "dask-ml" not in skip:
            echo("dask-ml ...")
            runs["dask-ml"] = _as_run(
                "dask-ml",
                "LogisticRegression lbfgs, C=inf, 2 workers",
                in_child(dask_ml_child, (str(path),), cap),
            )
        penalised = ("bare", "bare-spill")
        fitted = {k: r.model for k, r in runs.items() if r.model is not None and k not in penalised}
        echo("log-likelihood of each unpenalised fit ...")
        losses = log_loss_pass(path, fitted) if fitted else {}
        best = min(losses.values(), default=math.nan)
        gaps = {k: (v - best) / abs(best) for k, v in losses.items()}
        result = Result(rows, path.stat().st_size, runs, gaps, agreement)
    finally:
        if not keep_data:
            path.unlink(missing_ok=True)
            for f in work.glob("*"):
                f.unlink()
            with contextlib.suppress(OSError):
                work.rmdir()
                data_dir.rmdir()
    text = report(result, smoke=smoke, start=start_cpu)
    echo(text)
    if out is not None:
        replace_section(out, SECTION, text)
        echo(f"wrote the {SECTION} section of {out}")
    return result


def _missing(module: str, key: str, runs: dict[str, Run]) -> bool:
    """Mark a peer whose package is not installed (``pip install -e '.[bench]'``)."""
    if importlib.util.find_spec(module) is not None:
        return False
    runs[key] = Run(key, "-", status=f"not run: {module} not installed (the bench extra)")
    return True


def _secs(seconds: float) -> str:
    return "-" if math.isnan(seconds) else format_seconds(seconds)


def _bytes(n: float) -> str:
    return "-" if math.isnan(n) else format_bytes(n)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _unwaited(runs: dict[str, Run]) -> float:
    """CPU seconds of Spark's JVMs (not waited-for children: see ``other_work_line``)."""
    return float(sum(r.extra.get("jvm_cpu_seconds", 0.0) for r in runs.values()))


def report(result: Result, *, smoke: bool, start: CpuSnapshot) -> str:
    """The Markdown section."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs = result.runs
    lines = [
        "## Scale, end to end: `python -m benchmarks.scale_pipeline`"
        + (" (smoke sizes)" if smoke else ""),
        "",
        f"Run {when}.",
        "",
        *(f"- {line}" for line in machine_lines(PACKAGES, start, _unwaited(runs))),
        "",
        (
            f"Data: {result.n:,} rows, {N_NUMERIC} numeric features and 3 categoricals"
            f" ({', '.join(f'{c}: {k} levels' for c, k in LEVELS.items())}), a 0/1 target;"
            f" Parquet {format_bytes(result.file_bytes)} (snappy), read from the page cache."
            " Each contender ran in its own fresh process; peak RSS is the kernel's high-water"
            " mark of that process (for Spark, of its JVM)."
        ),
        "",
        "### The whole pipeline beside a bare streamed fit",
        "",
    ]
    table = []
    for key in ("bare", "bare-spill", "pipeline", "dask"):
        if key in runs:
            r = runs[key]
            table.append([r.setting, _secs(r.seconds), _bytes(r.peak_bytes), r.status])
    lines.append(markdown_table(["run", "time", "peak RSS", "status"], table))
    lines.append("")
    bare, pipe = runs.get("bare"), runs.get("pipeline")
    if bare and pipe and bare.status == pipe.status == "ok":
        ratio = pipe.seconds / bare.seconds
        lines.append(
            f"- Pipeline / bare fit: **{ratio:.2f}x** (target <= {RATIO_TARGET:g}x:"
            f" {_verdict(ratio <= RATIO_TARGET)}); peak RSS {pipe.peak_bytes / 2**20:,.0f} MiB"
            f" = {pipe.peak_bytes / 1e9:.3f} GB (target < {PIPELINE_MEMORY_TARGET / 1e9:g} GB:"
            f" {_verdict(pipe.peak_bytes < PIPELINE_MEMORY_TARGET)})."
        )
    spilled = runs.get("bare-spill")
    if spilled and pipe and spilled.status == pipe.status == "ok":
        lines.append(
            f"- Pipeline / bare fit with the same spill: {pipe.seconds / spilled.seconds:.2f}x"
            " (the pipeline writes its encoded rows to a scratch file on its first pass and"
            " reads them back on every later one; the bare fit above reads the Parquet file"
            " on every pass)."
        )
    if result.agreement is not None:
        a = result.agreement
        ok = (
            a["coef_diff"] <= COEF_TARGET
            and a["threshold_diff"] <= COEF_TARGET
            and a["same_counts"]
        )
        lines.append(
            f"- Dask against streamed: largest coefficient difference {a['coef_diff']:.1e},"
            f" thresholds {a['threshold'][0]:.17g} and {a['threshold'][1]:.17g} (relative"
            f" difference {a['threshold_diff']:.1e}), counts"
            f" {'the same' if a['same_counts'] else 'DIFFERENT'}, C"
            f" {'the same' if a['same_C'] else 'DIFFERENT'} (target: coefficients and"
            f" threshold to 1e-8, the same counts: {_verdict(ok)})."
        )
    peers = [k for k in runs if k not in ("bare", "bare-spill", "pipeline", "dask")]
    if peers:
        lines += [
            "",
            "### Unpenalised fits beside Spark MLlib and dask-ml",
            "",
            (
                "Gap: (summed log-loss - the least of the column) / the least, every loss"
                " computed by one function in one pass over the file."
            ),
            "",
        ]
        table = []
        for key in peers:
            r = runs[key]
            gap = result.gaps.get(key)
            table.append(
                [
                    r.label,
                    r.setting,
                    _secs(r.seconds),
                    _bytes(r.peak_bytes),
                    "-" if r.iterations is None else str(r.iterations),
                    "-" if gap is None else f"{gap:.1e}",
                    r.status + (f" ({r.extra['peak_note']})" if "peak_note" in r.extra else ""),
                ]
            )
        lines.append(
            markdown_table(
                ["contender", "setting", "time", "peak RSS", "iterations", "gap", "status"], table
            )
        )
        mine = runs.get("logitkit-mle")
        sparks = [runs[k] for k in peers if k.startswith("spark") and runs[k].status == "ok"]
        if mine is not None and mine.status == "ok" and sparks:
            fastest = min(sparks, key=lambda r: r.seconds)
            key_of = {id(v): k for k, v in runs.items()}
            ratio = fastest.seconds / mine.seconds
            tighter = result.gaps["logitkit-mle"] <= min(result.gaps[key_of[id(s)]] for s in sparks)
            lines += [
                "",
                (
                    f"- Spark's fastest ({fastest.setting}) / logitkit: **{ratio:.2f}x**, logitkit's"
                    f" gap {'no larger than' if tighter else 'LARGER than'} every Spark fit's"
                    f" (target >= {SPARK_TARGET:g}x at a tighter optimum:"
                    f" {_verdict(ratio >= SPARK_TARGET and tighter)})."
                ),
            ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.scale_pipeline [--smoke] [--rows N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale_pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_ROWS:,} rows")
    parser.add_argument("--rows", type=int, default=None, help=f"rows (default {FULL_ROWS:,})")
    parser.add_argument("--skip", default="", help=f"comma-separated of {', '.join(CONTENDERS)}")
    parser.add_argument("--cap", type=float, default=3600.0, help="seconds per contender")
    parser.add_argument("--spark-memory", default="12g", help="Spark driver memory")
    parser.add_argument("--keep-data", action="store_true", help="keep the Parquet file")
    parser.add_argument("--out", type=Path, default=None, help="results file")
    args = parser.parse_args(argv)
    rows = args.rows or (SMOKE_ROWS if args.smoke else FULL_ROWS)
    out = args.out if args.out is not None or args.smoke else RESULTS_PATH
    skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    run(
        rows=rows,
        skip=skip,
        cap=args.cap,
        spark_memory=args.spark_memory,
        keep_data=args.keep_data,
        out=out,
        smoke=args.smoke,
    )


if __name__ == "__main__":
    main()
