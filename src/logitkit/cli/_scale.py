"""Training on data larger than memory, for ``logitkit train --stream`` and ``--dask``.

:func:`train_streamed` runs the whole pipeline on hash folds
(:mod:`logitkit.workflow._scaled`: C by cross-validation, out-of-fold probabilities, the
policy, evaluation, diagnostics, reference profiles) over the rows of a Parquet or CSV
file that :func:`rows_of_file` opens: streamed in record batches
(:class:`~logitkit.data.stream.FileSource`), or read by a Dask cluster (``dask="local"``
starts a ``LocalCluster`` of worker processes, ``dask="tcp://host:8786"`` joins a
running scheduler). The encoding is the file's levels, or an encoder learned in passes
(:func:`learn_encoder`) for a formula, imputation, merged spellings or reference
levels; the artifact equals the in-memory pipeline's on the same rows
(``fold_scheme="hash"``) but for the provenance of the rows. :func:`fit_streamed` fits
the coefficients alone; :func:`should_stream` tells whether a file would not fit in
memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from logitkit.data._batches import add_label_counts, encoder_for
from logitkit.data._csv_checks import _NULL_TOKENS, csv_only, csv_reading
from logitkit.data.arrow import _na_tokens, file_format
from logitkit.data.checks import spelling_merges
from logitkit.data.encoding import DEFAULT_MAX_LEVELS, ColumnSpec, TableEncoder
from logitkit.data.sources import RawSplit
from logitkit.data.stream import FileSource
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel
from logitkit.workflow import TrainingResult, TrainingSpec
from logitkit.workflow._grouped import SourceGroups, run_grouped_on
from logitkit.workflow._rows import SourceRows
from logitkit.workflow._scaled import raw_split, run_on_rows

__all__ = [
    "available_memory",
    "dask_client",
    "estimated_bytes",
    "fit_streamed",
    "learn_encoder",
    "rows_of_file",
    "should_stream",
    "streamed_labels",
    "train_streamed",
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
                dashboard_address=":0",  # a free port: None takes 8787, which may be in use
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


def _null_partition(
    part: pd.DataFrame, tokens: tuple[str, ...], numbers: list[str]
) -> pd.DataFrame:
    """One partition of a Parquet frame with the ``na_values`` tokens as missing in its
    text columns, and ``numbers`` (text columns of numbers and tokens) as float64."""
    out = part.copy()
    for c in part.columns:
        if part[c].dtype.kind == "O" or isinstance(part[c].dtype, pd.StringDtype):
            text = part[c].astype(object)
            out[c] = text.where(~text.isin(tokens), None)
            if c in numbers:
                column = pa.array(out[c], type=pa.string(), from_pandas=True)
                out[c] = pc.cast(pc.utf8_trim_whitespace(column), pa.float64()).to_numpy(
                    zero_copy_only=False
                )
    return out


def _token_columns(part: pd.DataFrame, tokens: tuple[str, ...]) -> pd.DataFrame:
    """Per text column of one partition: whether it holds a token, and whether the rest
    are all numbers (the rule of :func:`~logitkit.data.arrow.read_table`)."""
    hit, castable = {}, {}
    for c in part.columns:
        nulled = _null_partition(part[[c]], tokens, [])[c]
        hit[c] = bool(part[c].isin(tokens).any())
        try:
            pc.cast(pc.utf8_trim_whitespace(pa.array(nulled, type=pa.string())), pa.float64())
            castable[c] = True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            castable[c] = False
    return pd.DataFrame({"hit": hit, "castable": castable})


def _dask_raw(
    path: str,
    target: str,
    drop: Sequence[str],
    reading: Mapping[str, Any] | None = None,
    *,
    weight: str | None = None,
    trials: str | None = None,
    offset: str | None = None,
) -> tuple[Any, list[str], list[str]]:
    """The file as a dask frame of raw columns, its feature columns, and the target (weight
    or trials).

    ``reading`` holds ``na_values``, ``sep`` and ``decimal`` as
    :func:`~logitkit.data.arrow.read_table` takes them, and they read the file as it
    does: pandas (Dask's CSV reader) is given the same separator and decimal mark (found
    from the file's first lines when not given, for a local file) and exactly pyarrow's
    missing tokens plus ``na_values`` (not pandas' defaults, which add ``None`` and
    ``<NA>``); in a Parquet file the tokens are missing in text columns, and a text
    column of tokens and numbers becomes numbers.
    """
    import dask.dataframe as dd  # noqa: PLC0415 - optional extra

    options = dict(reading or {})
    tokens = _na_tokens(options.get("na_values"))
    sep, decimal = options.get("sep"), options.get("decimal")
    lowered = path.rstrip("/").lower()
    csv = lowered.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz"))
    if csv:
        if "://" not in path:  # a local file: its dialect is found as in memory
            dialect = csv_reading(
                Path(path),
                file_format(Path(path)),
                sep=sep,
                decimal=decimal,
                na_values=tokens,
                types=None,
            )
            sep, decimal = dialect.sep, dialect.decimal
        frame = dd.read_csv(
            path,
            blocksize="64MB",
            sep=sep or ("\t" if ".tsv" in lowered else ","),
            decimal=decimal or ".",
            na_values=list(dict.fromkeys((*_NULL_TOKENS, *tokens))),
            keep_default_na=False,
        )
    else:
        if "://" not in path:
            csv_only(Path(path), sep, decimal)
        frame = dd.read_parquet(path)
        text = [
            str(c)
            for c in frame.columns
            if frame._meta[c].dtype.kind == "O" or isinstance(frame._meta[c].dtype, pd.StringDtype)
        ]
        if tokens and text:
            from dask.base import compute  # noqa: PLC0415 - optional extra

            found = frame[text].map_partitions(
                _token_columns, tokens, meta=pd.DataFrame({"hit": [True], "castable": [True]})
            )
            (stats,) = compute(found)
            by = stats.groupby(level=0)
            numbers = [c for c in text if by["hit"].any()[c] and by["castable"].all()[c]]
            meta = _null_partition(frame._meta, tokens, [])
            for c in numbers:
                meta[c] = meta[c].astype(np.float64)
            frame = frame.map_partitions(_null_partition, tokens, numbers, meta=meta)
    names = [str(c) for c in frame.columns]
    keep = [target, *(c for c in (weight, trials, offset) if c is not None)]
    for column in [*keep, *drop]:
        if column not in names:
            msg = f"Column '{column}' is not in {path}; its columns are: {', '.join(names[:30])}."
            raise DataError(msg, column=column)
    return frame, [c for c in names if c not in {*keep, *drop}], keep


def _dask_frame(
    path: str,
    target: str,
    drop: Sequence[str],
    max_levels: int,
    reading: Mapping[str, Any] | None = None,
    *,
    weight: str | None = None,
    trials: str | None = None,
    offset: str | None = None,
) -> tuple[Any, TableEncoder]:
    """The file as a dask frame of encoded features, the target and the weight (or trials)."""
    from dask.base import compute  # noqa: PLC0415 - optional extra

    frame, features, keep = _dask_raw(
        path, target, drop, reading, weight=weight, trials=trials, offset=offset
    )
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
        frame, encoder = _dask_frame(where, target, drop, max_levels, weight=weight)
        model.fit(DaskSource(frame, target=target, weight=weight, progress=progress))
    model.encoder_ = encoder
    return model


def learn_encoder(source: Any, spec: TrainingSpec) -> TableEncoder:
    """The encoding the options ask for, learned in passes over ``source`` (the one call).

    Equal to ``TableEncoder(...).fit(frame)`` on the same rows in memory (levels,
    imputation values, merged spellings, reference levels, formula state): see
    :func:`~logitkit.data.streamed_encoding.fit_encoder_streamed`.
    """
    from logitkit.data.streamed_encoding import fit_encoder_streamed  # noqa: PLC0415

    return fit_encoder_streamed(
        source,
        impute=spec.impute,
        formula=spec.rhs,
        normalize_levels=spec.normalize_labels,
        reference=dict(spec.reference) or None,
    )


def _check_labels(rows: SourceRows, spec: TrainingSpec) -> None:
    """Refuse target labels spelt several ways unless ``--normalize-labels`` merged them,
    as in memory."""
    counts = getattr(rows.source, "label_counts", {})
    _, shown = spelling_merges(counts.items())
    if shown and not spec.normalize_labels:
        msg = (
            f"Target column '{spec.target}' of {rows.where} spells one label several ways, "
            f"differing only in case or spaces: {'; '.join(shown[:5])} (rows of each). Give "
            "--normalize-labels to merge each group into its most frequent spelling (as in "
            "memory), or fix them in the file."
        )
        raise DataError(msg, column=spec.target)


def _dask_label_merges(frame: Any, target: str) -> dict[str, str]:
    """The target spellings to merge, from every partition's labels (a tree reduction)."""
    from dask.base import compute  # noqa: PLC0415 - optional extra

    (counts,) = compute(frame[target].value_counts(split_out=1))
    return spelling_merges(counts.items())[0]


def _file_label_merges(data: Path, target: str, options: Mapping[str, Any]) -> dict[str, str]:
    """The target spellings to merge, from every row's label (one pass over the column)."""
    counts: dict[Any, int] = {}
    source = FileSource(data, target, **options)
    for batch in source.record_batches([target]):
        add_label_counts(counts, batch.column(0))
    return spelling_merges(counts.items())[0]


@contextmanager
def rows_of_file(
    data: Path,
    spec: TrainingSpec,
    *,
    batch_rows: int = 65_536,
    dask: str | None = None,
    n_workers: int | None = None,
    progress: bool = False,
    reading: Mapping[str, Any] | None = None,
    spill: bool = False,
) -> Iterator[tuple[SourceRows, str, SourceRows | None]]:
    """The rows of ``data`` for the pipeline on hash folds, how they are read, and the
    held-out rows when they are split off by their raw values (else None).

    The one place where a file becomes encoded rows at scale: streamed in record
    batches (:class:`~logitkit.data.stream.FileSource`), or read by a Dask cluster
    (``dask``; the cluster stays up while the context is open). The encoding is the
    file's levels, or, with a formula, imputation, merged spellings or reference levels,
    an encoder learned in passes (:func:`learn_encoder`); with ``test_size`` too, the
    held-out rows are split off first by a hash of their raw values
    (:func:`~logitkit.workflow._scaled.raw_split`) and the encoder learns from the
    fitting rows only. ``reading`` holds the reading options ``na_values``, ``sep`` and
    ``decimal``, applied as :func:`~logitkit.data.arrow.read_table` applies them.
    ``spill`` keeps a streamed file's encoded fitting rows in a scratch file between
    passes (:mod:`logitkit.data.spill`); ``how`` says whether it did.
    """
    reading = {k: v for k, v in dict(reading or {}).items() if v is not None}
    target = str(spec.target)
    if dask is None:
        options = _file_options(spec, batch_rows, progress, reading)
        how = f"streamed in record batches of {batch_rows} rows"
        if spec.normalize_labels:  # merged as all rows spell them, held-out rows too
            options["merged_labels"] = _file_label_merges(data, target, options)
        if spec.splits_raw_rows:
            columns = list(FileSource(data, target, **options).feature_types())
            fit, held = (raw_split(spec, columns, held=h) for h in (False, True))
            encoder = learn_encoder(FileSource(data, target, split=fit, **options), spec)
            fitting = FileSource(data, target, encoder=encoder, split=fit, spill=spill, **options)
            rows = SourceRows(fitting)
            _check_labels(rows, spec)
            held_source = FileSource(data, target, encoder=encoder, split=held, **options)
            yield rows, _spilled(how, fitting), SourceRows(held_source)
            return
        source = _file_source(data, spec, options, spill)
        rows = SourceRows(source)
        _check_labels(rows, spec)
        yield rows, _spilled(how, source), None
        return
    where = _dask_path(data)
    with dask_client(dask, n_workers):
        how = f"read by a Dask cluster ({dask})"
        if not spec.splits_raw_rows:
            partitions, encoder = _dask_source(where, spec, reading, progress)
            rows = SourceRows(partitions, encoder, where)
            _check_labels(rows, spec)
            yield rows, how, None
            return
        from logitkit.data.dask import DaskSource  # noqa: PLC0415 - optional extra

        # Held-out rows split off by their raw values before the encoding is learned.
        frame, features, keep = _dask_raw(
            where, target, spec.drop, reading, weight=spec.weight, offset=spec.offset
        )
        merges = _dask_label_merges(frame, target) if spec.normalize_labels else None
        fit, held = (raw_split(spec, features, held=h) for h in (False, True))
        meta = frame._meta
        held_frame = frame.map_partitions(_split_rows, held, meta=meta)
        frame = frame.map_partitions(_split_rows, fit, meta=meta)
        encoder = learn_encoder(frame[features], spec)
        partitions, held_parts = (
            DaskSource(
                part[features + keep],
                target=target,
                weight=spec.weight,
                offset=spec.offset,
                encoder=encoder,
                progress=progress,
                merged_labels=merges,
            )
            for part in (frame, held_frame)
        )
        rows = SourceRows(partitions, encoder, where)
        _check_labels(rows, spec)
        yield rows, how, SourceRows(held_parts, encoder, where)


def _file_options(
    spec: TrainingSpec, batch_rows: int, progress: bool, reading: Mapping[str, Any]
) -> dict[str, Any]:
    """:class:`~logitkit.data.stream.FileSource`'s options for the spec's columns."""
    return {
        "weight": spec.weight,
        "offset": spec.offset,
        "trials": spec.trials,
        "drop": spec.drop,
        "batch_rows": batch_rows,
        "progress": progress,
        **reading,
    }


def _file_source(
    data: Path, spec: TrainingSpec, options: Mapping[str, Any], spill: bool
) -> FileSource:
    """The file's rows, encoded by its levels or by an encoder learned in passes (which
    read raw columns: only encoded passes write the spill)."""
    source = FileSource(data, str(spec.target), spill=spill, **options)
    if spec.learned_encoding:
        encoder = learn_encoder(source, spec)
        source = FileSource(data, str(spec.target), encoder=encoder, spill=spill, **options)
    return source


def _dask_path(data: Path) -> str:
    """The data's path for the workers (a URL such as ``s3://...`` is theirs to read)."""
    where = str(data)
    if "://" not in where and not Path(where).exists():
        msg = f"Data file {where} does not exist."
        raise DataError(msg)
    return where


def _dask_source(
    where: str, spec: TrainingSpec, reading: Mapping[str, Any], progress: bool
) -> tuple[Any, TableEncoder]:
    """The file's rows (or groups) on the cluster, and their encoder: the file's levels,
    or an encoder learned in passes."""
    from logitkit.data.dask import DaskSource  # noqa: PLC0415 - optional extra

    target, weight, offset, trials = str(spec.target), spec.weight, spec.offset, spec.trials
    if spec.learned_encoding:
        frame, features, keep = _dask_raw(
            where, target, spec.drop, reading, weight=weight, trials=trials, offset=offset
        )
        merges = _dask_label_merges(frame, target) if spec.normalize_labels else None
        encoder = learn_encoder(frame[features], spec)
        partitions = DaskSource(
            frame[features + keep],
            target=target,
            weight=weight,
            trials=trials,
            offset=offset,
            encoder=encoder,
            progress=progress,
            merged_labels=merges,
        )
        return partitions, encoder
    frame, encoder = _dask_frame(
        where,
        target,
        spec.drop,
        DEFAULT_MAX_LEVELS,
        reading,
        weight=weight,
        trials=trials,
        offset=offset,
    )
    partitions = DaskSource(
        frame,
        target=target,
        weight=weight,
        trials=trials,
        offset=offset,
        progress=progress,
        normalize_labels=spec.normalize_labels,
    )
    return partitions, encoder


@contextmanager
def groups_of_file(
    data: Path,
    spec: TrainingSpec,
    *,
    batch_rows: int = 65_536,
    dask: str | None = None,
    n_workers: int | None = None,
    progress: bool = False,
    reading: Mapping[str, Any] | None = None,
    spill: bool = False,
) -> Iterator[tuple[SourceGroups, str]]:
    """The groups of ``data`` (``spec.trials`` set) for :func:`~logitkit.workflow.
    _grouped.run_grouped_on`, and how they are read: streamed in record batches, or by
    a Dask cluster (kept up while the context is open); the encoding as in
    :func:`rows_of_file` (the file's levels, or one learned in passes)."""
    reading = {k: v for k, v in dict(reading or {}).items() if v is not None}
    if dask is None:
        source = _file_source(data, spec, _file_options(spec, batch_rows, progress, reading), spill)
        groups = SourceGroups(source, source.schema().encoder, str(data))
        yield groups, _spilled(f"streamed in record batches of {batch_rows} rows", source)
        return
    where = _dask_path(data)
    with dask_client(dask, n_workers):
        partitions, encoder = _dask_source(where, spec, reading, progress)
        yield SourceGroups(partitions, encoder, where), f"read by a Dask cluster ({dask})"


def _spilled(how: str, source: FileSource) -> str:
    """``how`` the rows are read, with whether later passes read a scratch file."""
    note = source.spill_note
    return how if note is None else f"{how}; {note}"


def _split_rows(part: pd.DataFrame, split: RawSplit) -> pd.DataFrame:
    """The rows of one partition that ``split`` keeps (by a hash of their raw values)."""
    return part[split.mask(part)]


def train_streamed(
    data: Path,
    spec: TrainingSpec,
    *,
    batch_rows: int,
    dask: str | None,
    progress: bool,
    explicit: bool,
    n_workers: int | None = None,
    reading: Mapping[str, Any] | None = None,
    spill: bool = True,
) -> TrainingResult:
    """``logitkit train --stream|--dask``: the whole pipeline on hash folds, out of core.

    The same stages as in memory (:mod:`logitkit.workflow._scaled`): C by cross-validation,
    out-of-fold probabilities, the policy, evaluation, diagnostics and reference profiles;
    with ``trials``, the grouped stages (:mod:`logitkit.workflow._grouped`). The result
    writes the same artifact and report. Stratified folds cannot run at scale and are
    refused, saying why. ``reading`` holds the reading options (``na_values``, ``sep``,
    ``decimal``; see :func:`rows_of_file`).
    """
    why = "--stream/--dask" if explicit else f"{data} is too large to read into memory, so it"
    if spec.fold_scheme == "stratified":
        msg = (
            f"--folds-by stratified cannot be combined with a streamed fit: {why} splits "
            "rows into folds by a hash of their values (stratified folds shuffle row "
            "numbers in memory). Leave --folds-by out, or give --folds-by hash."
        )
        raise DataError(msg)
    if spec.trials is not None:  # groups of trials: no folds, policy or row evaluation
        with groups_of_file(
            data,
            spec,
            batch_rows=batch_rows,
            dask=dask,
            n_workers=n_workers,
            progress=progress,
            reading=reading,
            spill=spill,
        ) as (groups, how):
            return run_grouped_on(groups, spec, source=str(data), how=how)
    spec = replace(spec, fold_scheme="hash")
    with rows_of_file(
        data,
        spec,
        batch_rows=batch_rows,
        dask=dask,
        n_workers=n_workers,
        progress=progress,
        reading=reading,
        spill=spill,
    ) as (rows, how, held):
        return run_on_rows(rows, spec, source=str(data), how=how, held=held)
