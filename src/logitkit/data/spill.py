"""Encoded rows kept on local disk between passes: a file is decoded and encoded once.

A fit of a streamed file, and even more the pipeline on hash folds, reads the file
many times. Decoding Parquet (or parsing CSV) and encoding each batch (indicator
columns of the categoricals, a formula's terms) cost more than the arithmetic of most
passes. With a :class:`Spill`, the first complete pass writes each encoded block (the
features as C-ordered float64, the class codes and the sample weights) to a scratch
file, and every later pass reads the blocks back: the same numbers, bit for bit, with
no decoding or encoding. The blocks are cut to at most :data:`BLOCK_BYTES` of features
(a size the allocator reuses between blocks rather than mapping fresh pages each time).

The file takes ``8 (p + 2)`` bytes a row and is written only where the scratch folder
has that much room and :data:`ROOM_MARGIN` more (:attr:`Spill.skipped` says why not;
the passes then read the file each time, as without a spill). It has no name in the
folder (unlinked on creation, read through its descriptor), so nothing is left behind
when the spill is garbage-collected, a pass that writes it stops early, or the process
ends in any way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Generator, Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["BLOCK_BYTES", "ROOM_MARGIN", "EncodedBlock", "Spill", "size_text"]

FloatArray = NDArray[np.float64]
EncodedBlock = tuple[FloatArray, NDArray[np.intp], FloatArray, int, FloatArray | None]
"""``(X, codes, sample_weight, start, offsets)``: a block's rows, the first one row
``start``, and their log-odds offsets (None when the source has none)."""

#: Features of one spilled block at most (glibc maps blocks above 32 MiB afresh).
BLOCK_BYTES = 8 << 20
#: Free space left on the scratch folder's disk after the spill is written.
ROOM_MARGIN = 1 << 30


def size_text(n: float) -> str:
    """A byte count for people: ``'1.5 GiB'``, ``'12.0 MiB'``.

    Examples
    --------
    >>> size_text(3 * 2**29), size_text(12 * 2**20), size_text(512)
    ('1.5 GiB', '12.0 MiB', '512 B')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


class Spill:
    """A scratch file of a source's encoded blocks (see the module notes).

    The file is unlinked as soon as it is created and read through its open
    descriptor: it takes no name in the folder, and the system frees its space when
    the spill is closed, garbage-collected, or its process ends, killed or not.

    Parameters
    ----------
    n_rows, n_features : int
        The source's rows and encoded features (to size the file).
    folder : str or Path, optional
        Where to write it (default: the system's temporary folder, ``TMPDIR``).
    offsets : bool, default=False
        Whether the blocks carry log-odds offsets (kept too: 8 more bytes a row).

    Examples
    --------
    >>> import numpy as np
    >>> spill = Spill(n_rows=6, n_features=2)
    >>> blocks = [(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]), np.ones(3), 0, None)]
    >>> first = [X.sum() for X, *_ in spill.write(iter(blocks))]
    >>> spill.ready, [X.sum() for X, *_ in spill.blocks()] == first
    (True, True)
    """

    def __init__(
        self,
        n_rows: int,
        n_features: int,
        folder: str | Path | None = None,
        *,
        offsets: bool = False,
    ) -> None:
        self.n_features = int(n_features)
        self.offsets = offsets
        self.folder = Path(folder) if folder is not None else Path(tempfile.gettempdir())
        self.rows_per_block = max(1, BLOCK_BYTES // (8 * max(self.n_features, 1)))
        self.size = int(n_rows) * 8 * (self.n_features + 2 + int(offsets))
        self.skipped: str | None = None
        free = shutil.disk_usage(self.folder).free if self.folder.is_dir() else 0
        if free < self.size + ROOM_MARGIN:
            self.skipped = (
                f"{self.folder} has {size_text(free)} free; the encoded rows take "
                f"{size_text(self.size)} and {size_text(ROOM_MARGIN)} is kept free"
            )
        self._fd: int | None = None
        self._blocks: list[tuple[int, int, int]] = []  # (rows, first row, byte position)

    @property
    def ready(self) -> bool:
        """Whether a complete pass has been written (later passes read it)."""
        return self._fd is not None

    def write(self, encoded: Iterator[EncodedBlock]) -> Generator[EncodedBlock, None, None]:
        """Pass ``encoded`` through, cut into blocks, writing each; ready once exhausted.

        A pass stopped early keeps nothing (the next pass writes it again).
        """
        fd, name = tempfile.mkstemp(prefix="logitkit-spill-", dir=self.folder)
        Path(name).unlink()  # no name to leave behind: the space goes with the descriptor
        blocks: list[tuple[int, int, int]] = []
        position = 0
        try:
            for X, codes, sw, first, offsets in encoded:
                if (offsets is not None) != self.offsets:
                    msg = "The blocks' offsets do not match the spill's layout."
                    raise ValueError(msg)
                for start in range(0, X.shape[0], self.rows_per_block):
                    rows = slice(start, start + self.rows_per_block)
                    block = (
                        np.ascontiguousarray(X[rows], dtype=np.float64),
                        np.ascontiguousarray(codes[rows], dtype=np.intp),
                        np.ascontiguousarray(sw[rows], dtype=np.float64),
                    )
                    kept = None if offsets is None else np.ascontiguousarray(offsets[rows])
                    blocks.append((block[0].shape[0], first + start, position))
                    for part in (*block, *([] if kept is None else [kept])):
                        position += _write_all(fd, part)
                    yield (*block, first + start, kept)
        except BaseException:
            os.close(fd)
            raise
        if self._fd is not None:  # another pass finished writing first: keep one
            os.close(fd)
            return
        self._fd, self._blocks = fd, blocks
        weakref.finalize(self, os.close, fd)

    def blocks(self) -> Generator[EncodedBlock, None, None]:
        """The written blocks, in order (fresh arrays each pass; positional reads, so
        several passes may read at once)."""
        if self._fd is None:
            msg = "The spill has not been written yet: pass over the source once first."
            raise RuntimeError(msg)
        fd, p = self._fd, self.n_features
        for rows, first, position in self._blocks:
            X = np.empty((rows, p))
            codes = np.empty(rows, dtype=np.intp)
            sw = np.empty(rows)
            offsets = np.empty(rows) if self.offsets else None
            at = position
            for part in (X, codes, sw, *([] if offsets is None else [offsets])):
                at += _read_all(fd, part, at)
            yield X, codes, sw, first, offsets


def _write_all(fd: int, array: NDArray[np.generic]) -> int:
    """Write ``array``'s bytes at the descriptor's position; the bytes written."""
    view = array.data.cast("B")
    done = 0
    while done < len(view):
        done += os.write(fd, view[done:])
    return done


def _read_all(fd: int, array: NDArray[np.generic], position: int) -> int:
    """Fill ``array`` from the file at byte ``position`` (a read may return fewer bytes)."""
    view = array.data.cast("B")
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], position + got)
        if not n:
            msg = "The spill file ended early: was it truncated?"
            raise OSError(msg)
        got += n
    return got
