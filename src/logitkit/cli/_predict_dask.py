"""``logitkit predict --dask``: score a Parquet file or directory on a Dask cluster.

Each partition is one row group of one Parquet file; a worker reads it in batches,
scores them with the same function as the streamed ``predict`` (so the values are the
same, bit for bit) and writes them to its own file, ``part-00000.parquet``,
``part-00001.parquet``, ... in row order, in a directory beside ``--out`` that becomes
``--out`` once every partition is written (a failure leaves nothing behind). Errors
name the row in the whole file. On a cluster (``tcp://...``), the data, the model's
rows and ``--out`` must be on storage the workers share.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from logitkit.data.arrow import _na_tokens, _null_tokens, _parquet_files, file_format
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel

__all__ = ["check_dask_options", "predict_on_dask"]

#: Suffixes of the single-file outputs that a partitioned write cannot be.
_FILE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".tsv")


def check_dask_options(
    data: Path, out: Path | None, sep: str | None, decimal: str | None, as_json: bool
) -> Path:
    """Refuse, before any work, what a partitioned Dask scoring cannot do; the output
    directory.

    Raises
    ------
    DataError
        Naming the option and why: no ``--out``, an ``--out`` that is a CSV/JSON file or
        exists already, CSV input, or a CSV dialect.
    """
    if out is None:
        why = "JSON lines on stdout" if as_json else "CSV on stdout"
        msg = (
            f"--dask writes a directory of Parquet files (one per partition), not {why}: "
            "give --out DIR (e.g. --out scored/)."
        )
        raise DataError(msg)
    if out.suffix.lower() in _FILE_SUFFIXES:
        msg = (
            f"--dask writes a directory of Parquet files (one per partition), not the "
            f"{out.suffix} file {out}: give --out DIR (e.g. --out scored/), or leave "
            "--dask out to stream into one file."
        )
        raise DataError(msg)
    if out.exists():
        msg = f"--out {out} exists already; remove it or choose another directory."
        raise DataError(msg)
    if file_format(data) != "parquet":
        msg = (
            f"--dask reads Parquet (a file or a directory of files); {data} is CSV. Leave "
            "--dask out (predict streams a CSV of any size), or convert it to Parquet."
        )
        raise DataError(msg)
    if sep is not None or decimal is not None:
        msg = "--sep and --decimal apply to CSV files; --dask reads Parquet. Leave them out."
        raise DataError(msg)
    return out


def _partitions(data: Path) -> list[tuple[str, int, int]]:
    """``(file, row group, first row)`` of every row group with rows, in row order."""
    parts = []
    offset = 0
    for file in _parquet_files(data):
        meta = pq.ParquetFile(file).metadata
        for group in range(meta.num_row_groups):
            rows = int(meta.row_group(group).num_rows)
            if rows:
                parts.append((str(file), group, offset))
            offset += rows
    if not parts:
        msg = f"{data} has no rows."
        raise DataError(msg)
    return parts


def _score_partition(
    model: LogisticModel,
    file: str,
    group: int,
    offset: int,
    target: str,
    batch_size: int,
    tokens: tuple[str, ...],
    options: dict[str, Any],
) -> int:
    """Score one row group on a worker and write it to ``target``; the rows written."""
    from logitkit.cli.predict import _in_file, predictions  # noqa: PLC0415 - no cycle

    reader = pq.ParquetFile(file)
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for batch in reader.iter_batches(batch_size=batch_size, row_groups=[group]):
            try:
                scored = predictions(model, _null_tokens(batch, tokens), **options)
            except DataError as exc:
                raise _in_file(exc, offset + rows) from None
            if writer is None:
                writer = pq.ParquetWriter(target, scored.schema)
            writer.write_batch(scored)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def predict_on_dask(
    model: LogisticModel,
    data: Path,
    out: Path,
    address: str,
    *,
    batch_size: int,
    na_values: Sequence[str] | None,
    options: dict[str, Any],
) -> tuple[int, int]:
    """Score ``data`` on the cluster at ``address`` (``"local"``: a new local cluster)
    into ``out``, one Parquet file per partition; the rows and the files written."""
    from dask.base import compute  # noqa: PLC0415 - optional extra
    from dask.delayed import delayed  # noqa: PLC0415

    from logitkit.cli._scale import dask_client  # noqa: PLC0415

    parts = _partitions(data)
    cluster = ExitStack()
    try:
        cluster.enter_context(dask_client(address))
    except (OSError, TimeoutError) as exc:
        msg = f"--dask {address}: cannot reach the Dask scheduler ({exc}); is it running?"
        raise DataError(msg) from None
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        with cluster:
            shared = delayed(model, pure=True)
            tasks = [
                delayed(_score_partition, pure=False)(
                    shared,
                    file,
                    group,
                    offset,
                    str(tmp / f"part-{i:05d}.parquet"),
                    batch_size,
                    _na_tokens(na_values),
                    options,
                )
                for i, (file, group, offset) in enumerate(parts)
            ]
            rows = sum(compute(*tasks))
        tmp.replace(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return int(rows), len(parts)
