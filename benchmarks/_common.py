"""What the benchmarks share: timing, peak memory, the common objective, machine, results file.

Every benchmark module runs logitkit and its peers in one process, prints a table made by
`markdown_table`, and (for a full run) replaces its own section of ``benchmarks/RESULTS.md``
with `replace_section`, headed by `machine_lines`. Nothing here imports logitkit.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

RESULTS_PATH = Path(__file__).with_name("RESULTS.md")
RESULTS_TITLE = "# Benchmark results\n"

T = TypeVar("T")


# --- timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Wall time of one contender: ``seconds`` is the ``statistic`` over ``repeats`` calls."""

    seconds: float
    repeats: int
    statistic: str  # "best" or "median"
    batch: int = 1  # calls per timed sample (see time_calls)


def time_calls(
    fn: Callable[[], T],
    repeats: int,
    *,
    statistic: str = "best",
    budget_s: float | None = None,
    batch: int = 1,
) -> tuple[Timing, T]:
    """Time ``repeats`` samples of ``fn``; return the per-call timing and the last result.

    Garbage is collected before each sample, outside the timed region. With ``batch == 1``
    a sample is one call (made after that collection: a cold call). With ``batch > 1`` a
    sample is one untimed call (the collection leaves caches cold) and then ``batch``
    calls back to back with the collector paused, as ``timeit`` does, counted as their
    mean: the steady state of a loop of fits. When ``budget_s`` is given,
    sampling stops once the samples so far took that long (slow contenders on big cases
    then run once).
    """
    if repeats < 1 or batch < 1:
        msg = f"repeats and batch must be at least 1. Got {repeats} and {batch} instead."
        raise ValueError(msg)
    times: list[float] = []
    result: T
    for _ in range(repeats):
        gc.collect()
        paused = batch > 1 and gc.isenabled()
        if paused:
            gc.disable()
        try:
            if batch > 1:
                fn()
            start = time.perf_counter()
            for _ in range(batch):
                result = fn()
            times.append((time.perf_counter() - start) / batch)
        finally:
            if paused:
                gc.enable()
        if budget_s is not None and sum(times) * batch >= budget_s:
            break
    value = min(times) if statistic == "best" else statistics.median(times)
    return Timing(value, len(times), statistic, batch), result


# --- memory -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryUse:
    """Resident memory just before a call and its peak during the call, in bytes."""

    baseline_bytes: int
    peak_bytes: int
    method: str  # how the peak was read

    @property
    def extra_bytes(self) -> int:
        """Peak increase over the baseline."""
        return max(self.peak_bytes - self.baseline_bytes, 0)


def _proc_status_bytes(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # reported in kB
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_peak_memory(fn: Callable[[], T]) -> tuple[MemoryUse, T]:
    """Run ``fn`` once and return how far resident memory rose above its level before.

    On Linux the peak counter (VmHWM) is reset first, so the baseline is the current
    resident size. Elsewhere the baseline is ``ru_maxrss`` so far, which hides any rise that
    stays below an earlier peak (keep data generation free of large temporaries).
    """
    gc.collect()
    if _reset_peak_rss() and (current := _proc_status_bytes("VmRSS")) is not None:
        result = fn()
        peak = _proc_status_bytes("VmHWM")
        if peak is not None:
            return MemoryUse(current, peak, "VmHWM after clear_refs"), result
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = fn()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return MemoryUse(baseline, peak, "ru_maxrss"), result


def run_in_child(func: Callable[..., T], *args: Any) -> T:
    """Call ``func(*args)`` in a fresh spawned process (clean memory) and return its result.

    ``func`` must be importable by name (a module-level function).
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(func, *args).result()


# --- the common objective -------------------------------------------------------------------


def column_mean_std(X: np.ndarray, chunk_rows: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Column means and population (ddof=0) standard deviations, as ``StandardScaler`` has.

    Two passes over row chunks, so no copy of ``X`` is made (``np.std`` would make one).
    Zero deviations are returned as 1, as ``StandardScaler`` does.
    """
    n = X.shape[0]
    mean = X.sum(axis=0, dtype=np.float64) / n
    ssq = np.zeros(X.shape[1])
    for start in range(0, n, chunk_rows):
        centred = X[start : start + chunk_rows] - mean
        ssq += np.einsum("ij,ij->j", centred, centred)
    std = np.sqrt(ssq / n)
    std[std == 0.0] = 1.0
    return mean, std


def penalised_objective(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    *,
    C: float,
    l1_ratio: float,
    std: np.ndarray,
    chunk_rows: int = 65_536,
) -> float:
    """``sum_i logloss_i + (1/C) * penalty(coef * std)`` for coefficients in original units.

    This is scikit-learn's objective (``C * sum logloss + penalty``) divided by ``C``, with
    the elastic-net penalty ``l1_ratio * ||b||_1 + (1 - l1_ratio) / 2 * ||b||_2^2`` on the
    standardised coefficients ``b = coef * std``; the intercept is not penalised.
    ``C = inf`` gives the unpenalised log-loss. ``log(1 + exp(eta))`` is evaluated stably.
    """
    coef = np.asarray(coef, dtype=np.float64).ravel()
    loss = 0.0
    for start in range(0, X.shape[0], chunk_rows):
        eta = X[start : start + chunk_rows] @ coef + intercept
        loss += float(np.sum(np.logaddexp(0.0, eta) - y[start : start + chunk_rows] * eta))
    if not np.isfinite(C):
        return loss
    b = coef * std
    penalty = l1_ratio * float(np.abs(b).sum()) + (1.0 - l1_ratio) / 2.0 * float(b @ b)
    return loss + penalty / C


# --- machine and versions -----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_bytes() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def package_version(name: str) -> str:
    """Installed version of a distribution, or ``"not installed"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True)
class CpuSnapshot:
    """Wall clock, CPU seconds busy on the whole machine, and CPU seconds of this process."""

    wall_s: float
    machine_busy_s: float | None  # None where /proc/stat is missing
    own_s: float  # this process and its reaped children


def cpu_snapshot() -> CpuSnapshot:
    """Take a snapshot now; compare two with `other_work_line`."""
    busy: float | None = None
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        ticks = [int(x) for x in first[1:9]]
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    return CpuSnapshot(time.monotonic(), busy, own)


def other_work_line(start: CpuSnapshot, unwaited_s: float = 0.0) -> str:
    """How many cores other processes kept busy since ``start``, flagged when it matters.

    With multi-threaded BLAS, other busy processes on the same cores can slow a fit tens of
    times (its threads wait on each other), so timings from a shared machine mislead.
    ``unwaited_s``: CPU seconds of the benchmark's own processes that it did not wait for
    (a JVM a peer started), which the kernel does not add to its own.
    """
    end = cpu_snapshot()
    if start.machine_busy_s is None or end.machine_busy_s is None:
        return "Other processes' CPU use during the run: unknown"
    wall = max(end.wall_s - start.wall_s, 1e-9)
    own = end.own_s - start.own_s + unwaited_s
    other = max(end.machine_busy_s - start.machine_busy_s - own, 0.0)
    cores = other / wall
    text = f"Other processes kept {cores:.2f} of {os.cpu_count()} cores busy during the run"
    if cores > 0.25:
        text += " -- BUSY MACHINE: timings are unreliable"
    return text


def machine_lines(
    packages: Sequence[str], start: CpuSnapshot | None = None, unwaited_s: float = 0.0
) -> list[str]:
    """One line each: CPU, cores, RAM, OS, Python, BLAS and the given packages' versions.

    Call after the benchmark has imported numpy and the peers, so that threadpoolctl sees
    the BLAS and OpenMP libraries they load. With ``start`` (taken when the run began), a
    last line tells how busy other processes kept the machine meanwhile.
    """
    from threadpoolctl import threadpool_info

    ram = _ram_bytes()
    blas = sorted(
        {
            f"{info.get('internal_api', '?')} {info.get('version') or ''}".strip()
            + f" ({info.get('num_threads', '?')} threads)"
            for info in threadpool_info()
        }
    )
    versions = ", ".join(f"{name} {package_version(name)}" for name in packages)
    lines = [
        f"CPU: {_cpu_model()}, {os.cpu_count()} logical cores",
        f"RAM: {format_bytes(ram) if ram is not None else 'unknown'}",
        f"OS: {platform.platform()}; Python {platform.python_version()}",
        f"Thread pools: {'; '.join(blas) if blas else 'none detected'}",
        f"Versions: {versions}",
    ]
    if start is not None:
        lines.append(other_work_line(start, unwaited_s))
    return lines


# --- formatting and the results file ------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """``12.3 ms`` below one second, ``4.56 s`` above."""
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def format_bytes(n: float) -> str:
    """Binary units: ``762.9 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - loop always returns


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A padded Markdown table, readable both as printed text and as rendered Markdown."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def replace_section(path: Path, name: str, body: str) -> None:
    """Write ``body`` between this benchmark's marker comments in ``path``.

    Other sections of the file (other benchmarks) are kept; the section is appended if the
    markers are missing, and the file is created if it does not exist.
    """
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    section = f"{begin}\n{body.strip()}\n{end}\n"
    text = path.read_text() if path.exists() else RESULTS_TITLE
    head, found, rest = text.partition(begin)
    if found:
        _, found_end, tail = rest.partition(end)
        if not found_end:
            msg = f"{path} has the marker {begin!r} but not {end!r}; fix the file by hand."
            raise ValueError(msg)
        tail = tail.lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
