"""Scale benchmark: out-of-core and Dask fits beside reading alone, in memory, and peers.

Run ``python -m benchmarks.scale [--smoke] [--cases stream,dask] [--keep-data] [--out FILE]``.

Cases (``--smoke`` sizes in brackets); data are generated in ``benchmarks/data/``
(gitignored), in row groups of 131,072 rows, never whole in memory, and deleted at the
end unless ``--keep-data``:

- **stream**: a Parquet file of 20,000,000 x 50 float64 [200,000 x 50] and a 0/1
  target. ``LogisticModel().fit(FileSource(path, target="y"))`` runs in a fresh spawned
  process, which reports its peak resident memory (VmHWM, after resetting it once the
  imports are done) and the wall time of every pass. Beside it: the time pyarrow takes
  just to read the same columns (``ParquetFile.iter_batches``, the same batch size, best
  of 3 reads with its default options and 3 with the streamed fit's), and the mean time
  of the solver's passes over that. Where the
  data fit in memory (smoke sizes) the coefficients are compared with the in-memory fit.
- **dask**: 1,000,000 x 100 [50,000 x 20] in memory and on a
  ``distributed.LocalCluster`` of 2 single-threaded worker processes. Contenders:
  logitkit in memory (the exact optimum, tol=1e-10), logitkit streamed from the Parquet
  file, logitkit on the cluster (``DaskSource`` over the persisted dask arrays),
  dask-ml's ``LogisticRegression`` (lbfgs and newton, its default tol) on the same
  arrays, and scikit-learn's ``SGDClassifier(loss="log_loss").partial_fit`` over
  65,536-row batches of the in-memory array (5 epochs, two seeds). Loading the Parquet
  file onto the workers is timed apart. Each row gives the time, the relative gap of
  the log-loss ``(obj - obj_ref) / obj_ref`` and the largest coefficient difference
  from logitkit's in-memory fit, over the largest coefficient.

The problem is unpenalised (maximum likelihood): dask-ml's penalty acts on the raw
coefficients and the intercept alike, and its newton solver has none, so only the
unpenalised objective is common to all; features are on unit scale (standard normal
with a shared factor), so no solver needs standardising.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
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
    measure_peak_memory,
    penalised_objective,
    replace_section,
    run_in_child,
)

SECTION = "benchmarks.scale"
DATA_DIR = Path(__file__).with_name("data")
PACKAGES = ("logitkit", "numpy", "pyarrow", "dask", "distributed", "dask-ml", "scikit-learn")
ROW_GROUP = 131_072
BATCH_ROWS = 65_536
SGD_EPOCHS = 5
PASS_TARGET = 1.5  # time per pass over pyarrow's read time
DASK_TARGET = 2.0  # Dask fit over the in-memory fit
MEMORY_TARGET = 1.5 * 2**30  # peak resident memory of the streamed fit


@dataclass(frozen=True)
class Sizes:
    """Rows and features of the two cases."""

    stream: tuple[int, int]
    dask: tuple[int, int]


FULL = Sizes((20_000_000, 50), (1_000_000, 100))
SMOKE = Sizes((200_000, 50), (50_000, 20))


# --- data ------------------------------------------------------------------------------------


def write_parquet(path: Path, n: int, p: int, *, seed: int) -> Path:
    """``n x p`` standard-normal features (shared factor) and a logistic 0/1 target ``y``.

    Written row group by row group; no more than one group is ever in memory.
    """
    rng = np.random.default_rng(seed)
    loading = rng.uniform(0.0, 0.5, p)
    beta = rng.normal(0.0, 1.0, p)
    beta *= 2.0 / math.sqrt(float(beta @ beta) + float(loading @ beta) ** 2)
    names = [f"x{j}" for j in range(p)]
    schema = pa.schema([(c, pa.float64()) for c in names] + [("y", pa.int8())])
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema) as out:
        for start in range(0, n, ROW_GROUP):
            m = min(ROW_GROUP, n - start)
            X = rng.standard_normal((m, p)) + rng.standard_normal((m, 1)) * loading
            y = (rng.random(m) < expit(X @ beta - 0.5)).astype(np.int8)
            arrays = [pa.array(X[:, j]) for j in range(p)] + [pa.array(y)]
            out.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=m)
    return path


def read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The file's features and target as numpy arrays (row group by row group)."""
    pf = pq.ParquetFile(path)
    n, p = pf.metadata.num_rows, pf.metadata.num_columns - 1
    X, y = np.empty((n, p)), np.empty(n)
    start = 0
    for i in range(pf.num_row_groups):
        table = pf.read_row_group(i)
        m = table.num_rows
        for j in range(p):
            X[start : start + m, j] = table.column(j).to_numpy()
        y[start : start + m] = table.column(p).to_numpy()
        start += m
    return X, y


def pyarrow_read_seconds(path: Path, repeats: int = 3) -> float:
    """Best time to read every column in ``BATCH_ROWS`` batches with pyarrow alone.

    Best over ``repeats`` reads each with pyarrow's defaults and with the options the
    streamed fit reads with (buffered, no pre-buffering): the faster is the yardstick.
    """
    best = math.inf
    for options in ({}, {"buffer_size": 1 << 20, "pre_buffer": False}):
        for _ in range(repeats):
            start = time.perf_counter()
            reader = pq.ParquetFile(path, **options)  # type: ignore[arg-type]
            for _batch in reader.iter_batches(batch_size=BATCH_ROWS):
                pass
            best = min(best, time.perf_counter() - start)
    return best


# --- the streamed fit, in a child -------------------------------------------------------------


@dataclass
class StreamRun:
    """What the child reports: time, passes, memory and the solution."""

    seconds: float
    schema_seconds: float
    pass_seconds: list[float]
    baseline_bytes: int
    peak_bytes: int
    coef: np.ndarray
    intercept: float
    kkt: float
    n_iter: int


def stream_child(path: str) -> StreamRun:
    """In a fresh process: fit ``path`` streamed, timing each pass; measure the peak RSS."""
    from logitkit import LogisticModel
    from logitkit.data.stream import FileChunks, FileSource

    times: list[float] = []
    original = FileChunks.map_reduce

    def timed(self: Any, fn: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, fn)
        finally:
            times.append(time.perf_counter() - start)

    FileChunks.map_reduce = timed  # type: ignore[method-assign]
    source = FileSource(path, target="y", batch_rows=BATCH_ROWS)
    clock: dict[str, float] = {}

    def fit() -> Any:
        start = time.perf_counter()
        source.schema()
        clock["schema"] = time.perf_counter() - start
        model = LogisticModel(penalty=None).fit(source)
        clock["fit"] = time.perf_counter() - start
        return model

    use, model = measure_peak_memory(fit)
    result = model.solver_result_
    return StreamRun(
        clock["fit"],
        clock["schema"],
        times,
        use.baseline_bytes,
        use.peak_bytes,
        np.asarray(model.coef_[0]),
        float(model.intercept_[0]),
        float(result.kkt),
        int(result.n_iter),
    )


@dataclass
class StreamResult:
    """The streamed case."""

    n: int
    p: int
    file_bytes: int
    write_seconds: float
    read_seconds: float
    run: StreamRun
    memory_coef_diff: float | None  # against the in-memory fit, where it fits

    @property
    def per_pass(self) -> float:
        """Mean seconds per statistics pass after the first (the solver's passes)."""
        later = self.run.pass_seconds[1:] or self.run.pass_seconds
        return float(np.mean(later))


def stream_case(sizes: Sizes, data_dir: Path, echo: Callable[[str], None]) -> StreamResult:
    """Generate the file, read it with pyarrow alone, then fit it streamed in a child."""
    n, p = sizes.stream
    path = data_dir / f"stream_{n}x{p}.parquet"
    start = time.perf_counter()
    if not path.exists():
        echo(f"  writing {path} ...")
        write_parquet(path, n, p, seed=20240701)
    written = time.perf_counter() - start
    echo("  pyarrow read ...")
    read = pyarrow_read_seconds(path)
    echo("  streamed fit (child process) ...")
    run = run_in_child(stream_child, str(path))
    diff = None
    if n * p * 8 * 4 < 2**30:  # in memory only where it is small
        from logitkit import LogisticModel

        X, y = read_arrays(path)
        memory = LogisticModel(penalty=None).fit(X, y)
        diff = float(np.abs(run.coef - memory.coef_[0]).max() / np.abs(memory.coef_).max())
    return StreamResult(n, p, path.stat().st_size, written, read, run, diff)


# --- Dask and peers -----------------------------------------------------------------------------


@dataclass
class Row:
    """One contender of the Dask case."""

    label: str
    setting: str
    seconds: float | None
    coef: np.ndarray | None = None
    intercept: float = 0.0
    status: str = "ok"
    gap: float = math.nan
    coef_diff: float = math.nan
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def local_cluster(n_workers: int = 2) -> Iterator[Any]:
    """A LocalCluster of single-threaded worker processes on 127.0.0.1, and its client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(n_workers)
        yield client


def _timed(label: str, setting: str, fn: Callable[[], tuple[np.ndarray, float]]) -> Row:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            coef, intercept = fn()
            seconds = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - one failing contender must not end the run
        return Row(
            label, setting, None, status=f"failed: {type(exc).__name__}", notes=[str(exc)[:160]]
        )
    notes = sorted({f"{w.category.__name__}: {str(w.message)[:80]}" for w in caught})
    converged = not any("Convergence" in note for note in notes)
    status = "ok" if converged else "did not converge"
    return Row(label, setting, seconds, np.ravel(coef), float(intercept), status, notes=notes)


def _sgd(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import SGDClassifier

    model = SGDClassifier(loss="log_loss", penalty=None, random_state=seed)
    classes = np.array([0.0, 1.0])
    for _ in range(SGD_EPOCHS):
        for start in range(0, X.shape[0], BATCH_ROWS):
            rows = slice(start, start + BATCH_ROWS)
            model.partial_fit(X[rows], y[rows], classes=classes)
    return model.coef_[0], float(model.intercept_[0])


@dataclass
class DaskResult:
    """The Dask case: rows and the load time."""

    n: int
    p: int
    load_seconds: float
    rows: list[Row]


def dask_case(
    sizes: Sizes, data_dir: Path, echo: Callable[[str], None], dask_ml: bool = True
) -> DaskResult:
    """logitkit in memory, streamed and on a 2-worker cluster; dask-ml and SGD beside."""
    import dask.dataframe as dd
    from distributed import wait

    from logitkit import LogisticModel
    from logitkit.data.dask import DaskSource
    from logitkit.data.stream import FileSource

    n, p = sizes.dask
    path = data_dir / f"dask_{n}x{p}.parquet"
    if not path.exists():
        echo(f"  writing {path} ...")
        write_parquet(path, n, p, seed=20240702)
    X, y = read_arrays(path)

    def logitkit_memory() -> tuple[np.ndarray, float]:
        model = LogisticModel(penalty=None).fit(X, y)
        return model.coef_[0], float(model.intercept_[0])

    def logitkit_stream() -> tuple[np.ndarray, float]:
        model = LogisticModel(penalty=None).fit(FileSource(path, target="y"))
        return model.coef_[0], float(model.intercept_[0])

    LogisticModel(penalty=None).fit(X[:2000], y[:2000])  # first-call costs, untimed
    echo("  logitkit in memory, streamed ...")
    rows = [
        _timed("logitkit", "in memory", logitkit_memory),
        _timed("logitkit", "streamed from Parquet", logitkit_stream),
    ]
    with local_cluster(2):
        echo("  loading onto the cluster ...")
        start = time.perf_counter()
        frame = dd.read_parquet(path).persist()
        wait(frame)
        features = [f"x{j}" for j in range(p)]
        Xd = frame[features].to_dask_array(lengths=True).persist()
        yd = frame["y"].astype("float64").to_dask_array(lengths=True).persist()
        wait([Xd, yd])
        del frame
        load = time.perf_counter() - start

        def logitkit_dask() -> tuple[np.ndarray, float]:
            model = LogisticModel(penalty=None).fit(DaskSource(Xd, yd))
            return model.coef_[0], float(model.intercept_[0])

        echo("  logitkit on the cluster ...")
        rows.append(_timed("logitkit", "Dask, 2 workers", logitkit_dask))
        for solver in ("lbfgs", "newton") if dask_ml else ():
            echo(f"  dask-ml {solver} ...")
            rows.append(_dask_ml(solver, Xd, yd))
    for seed in (0, 1):
        echo(f"  SGDClassifier.partial_fit, seed {seed} ...")
        rows.append(
            _timed(
                "scikit-learn SGD",
                f"partial_fit, {SGD_EPOCHS} epochs, seed {seed}",
                lambda s=seed: _sgd(X, y, s),
            )
        )
    reference = rows[0]
    objective = _objective_fn(X, y)
    best = min(objective(r) for r in rows if r.coef is not None)
    scale = float(np.abs(reference.coef).max()) if reference.coef is not None else 1.0
    for row in rows:
        if row.coef is not None and reference.coef is not None:
            row.gap = (objective(row) - best) / abs(best)
            row.coef_diff = float(np.abs(row.coef - reference.coef).max() / scale)
    return DaskResult(n, p, load, rows)


def _dask_ml(solver: str, Xd: Any, yd: Any) -> Row:
    try:
        from dask_ml.linear_model import LogisticRegression
    except ImportError as exc:
        return Row("dask-ml", solver, None, status="not available", notes=[str(exc)[:120]])

    def fit() -> tuple[np.ndarray, float]:
        # C = inf: no penalty (lbfgs; newton has none).
        model = LogisticRegression(solver=solver, C=math.inf).fit(Xd, yd)
        return np.asarray(model.coef_), float(model.intercept_)

    return _timed("dask-ml", f"LogisticRegression, {solver}", fit)


def _objective_fn(X: np.ndarray, y: np.ndarray) -> Callable[[Row], float]:
    ones = np.ones(X.shape[1])

    def objective(row: Row) -> float:
        return penalised_objective(
            X, y, row.coef, row.intercept, C=math.inf, l1_ratio=0.0, std=ones
        )

    return objective


# --- report -------------------------------------------------------------------------------------


def stream_table(result: StreamResult) -> str:
    """The streamed case as a Markdown table and a verdict line."""
    run = result.run
    peak = run.peak_bytes
    ratio = result.per_pass / result.read_seconds
    rows = [
        ["data (float64)", format_bytes(result.n * result.p * 8)],
        ["Parquet file (snappy)", format_bytes(result.file_bytes)],
        ["pyarrow alone: read every column (best of 6)", format_seconds(result.read_seconds)],
        ["first pass: classes (target column only)", format_seconds(run.schema_seconds)],
        ["pass 1: moments, class totals, row sample", format_seconds(run.pass_seconds[0])],
        [
            f"solver passes over the file ({len(run.pass_seconds) - 1}), mean",
            format_seconds(result.per_pass),
        ],
        [
            "  slowest / fastest solver pass",
            " / ".join(
                format_seconds(s)
                for s in (max(run.pass_seconds[1:] or [0.0]), min(run.pass_seconds[1:] or [0.0]))
            ),
        ],
        ["**time per pass / pyarrow read**", f"**{ratio:.2f}x**"],
        [
            "whole fit (all passes, Newton iterations)",
            f"{format_seconds(run.seconds)} ({run.n_iter} iterations)",
        ],
        ["optimality (largest KKT violation / total weight)", f"{run.kkt:.1e}"],
        ["peak resident memory of the fitting process", format_bytes(peak)],
        ["  of which above its size after the imports", format_bytes(peak - run.baseline_bytes)],
    ]
    if result.memory_coef_diff is not None:
        rows.append(
            ["coefficients vs in-memory fit (max rel. diff.)", f"{result.memory_coef_diff:.1e}"]
        )
    verdict = (
        f"Time per pass / read = {ratio:.2f}x (target <= {PASS_TARGET}x: "
        f"{'met' if ratio <= PASS_TARGET else 'NOT met'}); peak memory {format_bytes(peak)} "
        f"(target < {format_bytes(MEMORY_TARGET)}: {'met' if peak < MEMORY_TARGET else 'NOT met'})."
    )
    return markdown_table(["", "value"], rows) + "\n\n" + verdict


def dask_table(result: DaskResult) -> str:
    """The Dask case as a Markdown table and a verdict line."""
    memory = result.rows[0]
    rows = []
    for row in result.rows:
        over = (
            f"{row.seconds / memory.seconds:.2f}"
            if row.seconds is not None and memory.seconds
            else "-"
        )
        rows.append(
            [
                row.label,
                row.setting,
                format_seconds(row.seconds) if row.seconds is not None else "-",
                over,
                f"{row.gap:.1e}" if math.isfinite(row.gap) else "-",
                f"{row.coef_diff:.1e}" if math.isfinite(row.coef_diff) else "-",
                row.status + (f"; {row.notes[0]}" if row.notes and row.status != "ok" else ""),
            ]
        )
    headers = ["contender", "setting", "time", "/ in memory", "rel. gap", "coef diff", "status"]
    ours = next((r for r in result.rows if r.setting.startswith("Dask")), None)
    verdict = ""
    if ours is not None and ours.seconds is not None and memory.seconds:
        ratio = ours.seconds / memory.seconds
        verdict = (
            f"\n\nlogitkit on Dask / in memory = {ratio:.2f}x (target <= {DASK_TARGET}x: "
            f"{'met' if ratio <= DASK_TARGET else 'NOT met'}); loading the Parquet file onto the "
            f"workers (not in any time above): {format_seconds(result.load_seconds)}."
        )
    return markdown_table(headers, rows) + verdict


def report(
    stream: StreamResult | None, dask: DaskResult | None, *, smoke: bool, start: CpuSnapshot
) -> str:
    """The whole Markdown section."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Scale: `python -m benchmarks.scale`" + (" (smoke sizes)" if smoke else ""),
        "",
        f"Run {when}.",
        "",
        *(f"- {line}" for line in machine_lines(PACKAGES, start)),
        "",
        (
            "Unpenalised fits (maximum likelihood) on standard-normal features with a shared"
            " factor and a logistic 0/1 target; logitkit at its default tol=1e-10. The file"
            " is read from the page cache (it was just written), so reading is decoding, not"
            " disk."
        ),
    ]
    if stream is not None:
        lines += [
            "",
            f"### Streamed: {stream.n:,} x {stream.p} Parquet, batches of {BATCH_ROWS:,} rows",
            "",
        ]
        lines += [stream_table(stream)]
    if dask is not None:
        lines += [
            "",
            f"### Dask LocalCluster (2 worker processes, 1 thread each) beside memory: {dask.n:,} x {dask.p}",
            "",
            (
                "Rel. gap: (log-loss - least log-loss) / least log-loss. Coef diff: largest"
                " |coef - coef(logitkit in memory)| over its largest |coef|."
            ),
            "",
            dask_table(dask),
        ]
    return "\n".join(lines) + "\n"


def run(
    cases: Sequence[str] = ("stream", "dask"),
    *,
    smoke: bool = False,
    data_dir: Path = DATA_DIR,
    keep_data: bool = False,
    out: Path | None = None,
    sizes: Sizes | None = None,
    echo: Callable[[str], None] = print,
) -> tuple[StreamResult | None, DaskResult | None]:
    """Run the cases, print the report and, with ``out``, write its section.

    ``sizes`` overrides the sizes ``smoke`` picks (tests use tinier ones).
    """
    unknown = set(cases) - {"stream", "dask"}
    if unknown:
        msg = f"Unknown case(s) {sorted(unknown)}; choose from stream, dask."
        raise ValueError(msg)
    sizes = sizes or (SMOKE if smoke else FULL)
    start = cpu_snapshot()
    stream = dask = None
    made = not data_dir.exists()
    try:
        if "stream" in cases:
            echo("stream ...")
            stream = stream_case(sizes, data_dir, echo)
        if "dask" in cases:
            echo("dask ...")
            dask = dask_case(sizes, data_dir, echo)
    finally:
        if not keep_data:
            for name in (
                f"stream_{sizes.stream[0]}x{sizes.stream[1]}",
                f"dask_{sizes.dask[0]}x{sizes.dask[1]}",
            ):
                (data_dir / f"{name}.parquet").unlink(missing_ok=True)
            if made:  # the folder this run made, if nothing else is in it now
                with contextlib.suppress(OSError):
                    data_dir.rmdir()
    text = report(stream, dask, smoke=smoke, start=start)
    echo(text)
    if out is not None:
        replace_section(out, SECTION, text)
        echo(f"wrote the {SECTION} section of {out}")
    return stream, dask


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.scale [--smoke] [--cases stream,dask]``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="small sizes, a minute or less")
    parser.add_argument("--cases", default="stream,dask", help="comma-separated: stream,dask")
    parser.add_argument("--keep-data", action="store_true", help="keep benchmarks/data/*.parquet")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS_PATH} for a full run; smoke runs write nothing"
        " unless given)",
    )
    args = parser.parse_args(argv)
    out = args.out if args.out is not None or args.smoke else RESULTS_PATH
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    run(cases, smoke=args.smoke, keep_data=args.keep_data, out=out)


if __name__ == "__main__":
    main()
