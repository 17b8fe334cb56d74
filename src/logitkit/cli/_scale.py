"""Training on data larger than memory, for ``logitkit train --stream`` and ``--dask``.

:func:`fit_streamed` fits a :class:`~logitkit.model.LogisticModel` on a Parquet or CSV
file without loading it: streamed in record batches (:class:`~logitkit.data.stream.
FileSource`), or read by a Dask cluster (``dask="local"`` starts a
``LocalCluster`` of worker processes, ``dask="tcp://host:8786"`` joins a running
scheduler) and fitted by map-and-tree-reduce over its partitions. Text and boolean
columns are one-hot encoded against levels found in a first pass, as in memory, and
the model keeps the encoder, so ``logitkit predict`` (which streams) reads raw rows.
:func:`should_stream` tells whether a file would not fit in memory.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from numpy.typing import NDArray

from logitkit.artifact import save
from logitkit.data._batches import encoder_for
from logitkit.data.encoding import DEFAULT_MAX_LEVELS, ColumnSpec, TableEncoder
from logitkit.data.stream import FileSource
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel
from logitkit.workflow import TrainingSpec

__all__ = [
    "available_memory",
    "dask_client",
    "estimated_bytes",
    "fit_streamed",
    "should_stream",
    "streamed_labels",
]

#: Stream when the data as float64 would take more than this share of available memory
#: (an in-memory fit holds the frame, the float64 matrix and a few row-sized vectors).
STREAM_SHARE = 0.4


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``), if known."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def estimated_bytes(path: str | Path) -> int:
    """Size of the data as a float64 matrix: rows x columns x 8 for Parquet (from its
    metadata), the file's size for a CSV (text takes about as many bytes as float64).
    """
    p = Path(path)
    if p.is_dir() or p.suffix.lower() in (".parquet", ".pq"):
        files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
        total = 0
        for f in files:
            meta = pq.ParquetFile(f).metadata
            total += int(meta.num_rows) * int(meta.num_columns) * 8
        return total
    return p.stat().st_size


def should_stream(path: str | Path, *, share: float = STREAM_SHARE) -> bool:
    """Whether ``path`` would take more than ``share`` of the available memory to fit.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "small.csv"
    >>> _ = path.write_text("x,y\\n1,0\\n2,1\\n")
    >>> should_stream(path)
    False
    """
    free = available_memory()
    return free is not None and estimated_bytes(path) > share * free


@contextmanager
def dask_client(address: str, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: a new local cluster for ``"local"``, else the scheduler.

    The local cluster has one single-threaded worker process per core (``n_workers``
    to choose) on 127.0.0.1 and is closed on exit.
    """
    try:
        from distributed import Client, LocalCluster  # noqa: PLC0415 - optional extra
    except ImportError:
        msg = "--dask needs Dask: pip install 'logitkit[dask]'."
        raise DataError(msg) from None
    if address == "local":
        workers = n_workers or max(1, os.cpu_count() or 1)
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    with Client(address) as client:
        yield client


def _encode_partition(
    part: pd.DataFrame, encoder: TableEncoder, keep: Sequence[str]
) -> pd.DataFrame:
    """The model's columns of one partition, with the target (and weight) columns kept."""
    out = encoder.transform(part)
    out.index = part.index
    for column in keep:
        out[column] = part[column]
    return out


def _dask_frame(
    path: str, target: str, weight: str | None, drop: Sequence[str], max_levels: int
) -> tuple[Any, TableEncoder]:
    """The file as a dask frame of encoded features, the target and the weight."""
    import dask.dataframe as dd  # noqa: PLC0415 - optional extra
    from dask.base import compute  # noqa: PLC0415

    lowered = path.rstrip("/").lower()
    csv = lowered.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz"))
    frame = (
        dd.read_csv(path, blocksize="64MB", sep="\t" if ".tsv" in lowered else ",")
        if csv
        else dd.read_parquet(path)
    )
    names = [str(c) for c in frame.columns]
    keep = [target, *([weight] if weight is not None else [])]
    for column in [*keep, *drop]:
        if column not in names:
            msg = f"Column '{column}' is not in {path}; its columns are: {', '.join(names[:30])}."
            raise DataError(msg, column=column)
    features = [c for c in names if c not in {*keep, *drop}]
    meta = frame._meta
    kinds: dict[str, str] = {}
    for c in features:
        dtype = meta[c].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kinds[c] = "bool"
        elif pd.api.types.is_numeric_dtype(dtype):
            kinds[c] = "int" if pd.api.types.is_integer_dtype(dtype) else "float"
        else:
            kinds[c] = "category"
    text = [c for c in features if kinds[c] == "category"]
    # Levels by a tree reduction (split_out=1), not a shuffle.
    found = compute(*[frame[c].dropna().astype(str).unique(split_out=1) for c in text])
    specs = []
    for c in features:
        if kinds[c] == "category":
            levels = tuple(sorted(set(found[text.index(c)].tolist())))
            if len(levels) > max_levels:
                msg = f"Column '{c}' of {path} has more than {max_levels} distinct text values; drop it."
                raise DataError(msg, column=c)
            specs.append(ColumnSpec(c, "category", levels))
        else:
            specs.append(ColumnSpec(c, kinds[c], (False, True) if kinds[c] == "bool" else ()))
    encoder = encoder_for(specs, max_levels)
    out_meta = pd.DataFrame({e: np.zeros(0) for e in encoder.encoded_features_})
    for column in keep:
        out_meta[column] = meta[column]
    encoded = frame[features + keep].map_partitions(_encode_partition, encoder, keep, meta=out_meta)
    return encoded, encoder


def streamed_labels(path: str | Path, target: str, *, batch_rows: int = 65_536) -> NDArray[Any]:
    """The target column in file order, read alone (for out-of-fold policies at scale).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "rows.csv"
    >>> _ = path.write_text("x,y\\n1,no\\n2,yes\\n")
    >>> streamed_labels(path, "y").tolist()
    ['no', 'yes']
    """
    source = FileSource(path, target, batch_rows=batch_rows)
    parts = [
        batch.column(0).to_numpy(zero_copy_only=False) for batch in source.record_batches([target])
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def fit_streamed(
    path: str | Path,
    target: str,
    model_params: Mapping[str, Any] | None = None,
    *,
    weight: str | None = None,
    drop: Sequence[str] = (),
    batch_rows: int = 65_536,
    dask: str | None = None,
    n_workers: int | None = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    progress: bool = False,
) -> LogisticModel:
    """Fit a model on a Parquet file or directory, or a CSV, without loading it.

    Parameters
    ----------
    path : str or Path
        The data.
    target : str
        The target column.
    model_params : mapping, optional
        :class:`~logitkit.model.LogisticModel` parameters (``penalty``, ``C``, ...).
    weight : str, optional
        A column of row weights.
    drop : sequence of str, default=()
        Columns to leave out.
    batch_rows : int, default=65536
        Rows per record batch when streaming.
    dask : str, optional
        ``"local"`` (a local cluster of worker processes) or a scheduler address
        (``"tcp://host:8786"``): the cluster reads the file and runs the passes; the
        path (or URL, e.g. ``s3://bucket/rows/``) must be readable by the workers.
        None streams in this process.
    n_workers : int, optional
        Worker processes of a local cluster (default: one per core).
    max_levels : int, default=100
        A text column with more distinct values is refused as an identifier.
    progress : bool, default=False
        Show a progress bar per pass on stderr.

    Returns
    -------
    LogisticModel
        Fitted, with ``encoder_`` set (it predicts from raw rows).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=300)})
    >>> frame["y"] = (frame["x"] + rng.normal(size=300) > 0).astype(int)
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.parquet")
    >>> frame.to_parquet(path)
    >>> fit_streamed(path, "y", {"C": 1.0}).classes_.tolist()
    [0, 1]
    """
    model = LogisticModel(**dict(model_params or {}))
    if dask is None:
        source = FileSource(
            path,
            target,
            weight=weight,
            drop=drop,
            batch_rows=batch_rows,
            max_levels=max_levels,
            progress=progress,
        )
        return model.fit(source)
    from logitkit.data.dask import DaskSource  # noqa: PLC0415 - optional extra

    where = str(path)
    if "://" not in where and not Path(where).exists():  # URLs (s3://...) are the workers'
        msg = f"Data file {where} does not exist."
        raise DataError(msg)
    with dask_client(dask, n_workers):
        frame, encoder = _dask_frame(where, target, weight, drop, max_levels)
        model.fit(DaskSource(frame, target=target, weight=weight, progress=progress))
    model.encoder_ = encoder
    return model


def train_streamed(
    data: Path,
    spec: TrainingSpec,
    refused: list[str],
    *,
    batch_rows: int,
    dask: str | None,
    out: Path,
    say: Callable[..., None],
    as_json: bool,
    progress: bool,
    explicit: bool,
) -> None:
    """``logitkit train --stream|--dask``: the coefficients, fitted out of core.

    What needs the rows in memory (``refused``: a policy, cross-validation, the report,
    ...) is refused by name rather than dropped.
    """
    if refused:
        why = "--stream/--dask" if explicit else f"{data} is too large to read into memory, so it"
        msg = (
            f"{', '.join(refused)} cannot be combined with a streamed fit: {why} fits the "
            "coefficients out of core, and these need the rows in memory. Leave them out, "
            "or train on a sample that fits in memory."
        )
        raise DataError(msg)
    params = {
        "penalty": spec.penalty,
        "C": spec.C,
        "l1_ratio": spec.l1_ratio,
        **spec.fit_params,
        "positive_class": spec.positive,
    }
    start = time.perf_counter()
    model = fit_streamed(
        data,
        str(spec.target),
        params,
        weight=spec.weight,
        drop=spec.drop,
        batch_rows=batch_rows,
        dask=dask,
        progress=progress,
    )
    elapsed = time.perf_counter() - start
    fit = "streamed" if dask is None else f"dask ({dask})"
    positive = None if model.positive_class_ is None else str(model.positive_class_)
    save(
        model,
        out,
        training={
            "source": str(data),
            "target": spec.target,
            "positive": positive,
            "fit": fit,
            "provenance": {"model": f"fitted {fit} on every row of {data}"},
        },
        summary=model.summary(),
    )
    record = {
        "source": str(data),
        "rows": int(np.sum(model.class_counts_)),
        "classes": [str(c) for c in model.classes_],
        "positive": positive,
        "iterations": int(model.n_iter_[0]),
        "passes": int(model.solver_result_.n_passes),
        "fit_seconds": elapsed,
        "model_path": str(out),
    }
    if as_json:
        say(json.dumps(record), markup=False, highlight=False)
        return
    say(model.summary())
    say(
        f"Fitted {record['rows']} rows in {record['iterations']} iterations "
        f"({record['passes']} passes, {elapsed:.1f} s). Model written to [bold]{out}[/]. "
        "No policy, performance estimate or report: a streamed fit gives the coefficients."
    )
