"""The spill: a streamed file's encoded rows kept on disk between passes.

After one complete pass the file itself is no longer read (it can be moved away), the
numbers are the same, the scratch file has no name in its folder and is closed with
its source (nothing is left behind, even by a killed process), and a disk without room
falls back to reading the file on every pass, saying so.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from logitkit import LogisticModel
from logitkit.data import spill as spill_module
from logitkit.data.spill import Spill
from logitkit.data.stream import FileSource


@pytest.fixture
def rows(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    n = 2_000
    frame = pd.DataFrame(rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1], columns=["a", "b", "c"])
    frame["g"] = rng.choice(["x", "y", "z"], n)
    eta = frame["a"] - 0.1 * frame["b"] + (frame["g"] == "z")
    frame["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path, row_group_size=500)
    return path


def _spill_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("logitkit-spill-"))


def _open_spills() -> frozenset[tuple[int, int]]:
    """Scratch files this process holds open (unlinked: their links end in '(deleted)'),
    as (descriptor, inode), once the sources that earlier tests left to the garbage
    collector are gone. Tests compare what they open against what was open before, so
    that a file an earlier test left to a reading thread may close meanwhile."""
    gc.collect()
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if "logitkit-spill-" in str(fd.readlink()):
                found.add((int(fd.name), fd.stat().st_ino))
        except OSError:
            continue
    return frozenset(found)


def _opened(since: frozenset[tuple[int, int]]) -> int:
    """Scratch files open now that were not open ``since``."""
    return len(_open_spills() - since)


def _blocks(source: FileSource) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    return [(X.copy(), c.copy(), w.copy(), o) for X, c, w, o, _ in source.encoded_blocks()]


def test_later_passes_read_the_spill_not_the_file(rows, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    plain = LogisticModel().fit(FileSource(rows, "y", batch_rows=256))
    source = FileSource(rows, "y", batch_rows=256, spill=scratch)
    held = _open_spills()
    first = _blocks(source)
    assert _spill_files(scratch) == []  # no name in the folder
    assert _opened(held) == 1
    rows.replace(tmp_path / "moved.parquet")  # every later pass reads the spill
    again = _blocks(source)
    assert len(again) == len(first)
    for (X, c, w, o), (X2, c2, w2, o2) in zip(first, again, strict=True):
        assert X2.flags.c_contiguous
        assert np.array_equal(X, X2)
        assert np.array_equal(c, c2)
        assert np.array_equal(w, w2)
        assert o == o2
    spilled = LogisticModel().fit(source)
    # The same blocks (each batch under the spill's block size), row-major rather than
    # column-major: the products round differently in the last bits only.
    assert np.allclose(spilled.coef_, plain.coef_, rtol=1e-12, atol=0)
    assert np.allclose(spilled.intercept_, plain.intercept_, rtol=1e-12, atol=0)
    assert "read back from a scratch file" in (source.spill_note or "")


def test_a_fold_subset_shares_the_spill_and_the_file_goes_with_the_source(rows, tmp_path):
    from logitkit.data.sources import FoldFilter

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    source = FileSource(rows, "y", batch_rows=300, spill=scratch)
    plain = FileSource(rows, "y", batch_rows=300)
    fold = FoldFilter(5, 2)
    held = _open_spills()
    a = LogisticModel().fit(source.subset(fold))
    assert _opened(held) == 1
    b = LogisticModel().fit(source.subset(FoldFilter(5, 3)))  # reads the same spill
    assert _opened(held) == 1
    assert np.allclose(a.coef_, LogisticModel().fit(plain.subset(fold)).coef_, rtol=1e-10)
    assert not np.allclose(a.coef_, b.coef_)
    del source, a, b
    gc.collect()
    assert _opened(held) == 0  # closed with its source: the space is freed


def test_big_batches_are_cut_into_blocks_of_bounded_size(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(spill_module, "BLOCK_BYTES", 8 * 5 * 100)  # 100 rows of 5 features
    source = FileSource(rows, "y", batch_rows=1000, spill=tmp_path)
    written = _blocks(source)
    assert [X.shape[0] for X, *_ in written] == [100] * 20
    assert [o for *_, o in written] == list(range(0, 2000, 100))
    plain = LogisticModel().fit(FileSource(rows, "y", batch_rows=1000))
    assert np.allclose(LogisticModel().fit(source).coef_, plain.coef_, rtol=1e-10)


def test_a_pass_stopped_early_leaves_no_file_and_the_next_one_writes_it(rows, tmp_path):
    source = FileSource(rows, "y", batch_rows=256, spill=tmp_path)
    held = _open_spills()
    blocks = source.encoded_blocks()
    next(blocks)
    blocks.close()
    assert _opened(held) == 0
    assert len(_blocks(source)) == 8
    assert _opened(held) == 1


def test_no_room_reads_the_file_each_pass_and_says_why(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(spill_module, "ROOM_MARGIN", 1 << 62)
    source = FileSource(rows, "y", batch_rows=256, spill=tmp_path)
    held = _open_spills()
    model = LogisticModel().fit(source)
    assert _opened(held) == 0
    note = source.spill_note or ""
    assert note.startswith("each pass read the file again (no scratch file:")
    assert str(tmp_path) in note
    assert "is kept free" in note
    again = LogisticModel().fit(FileSource(rows, "y", batch_rows=256))
    assert np.array_equal(model.coef_, again.coef_)


def test_a_truncated_spill_fails_clearly(tmp_path):
    spill = Spill(n_rows=4, n_features=2, folder=tmp_path)
    block = (np.ones((4, 2)), np.zeros(4, dtype=np.intp), np.ones(4), 0, None)
    list(spill.write(iter([block])))
    assert spill._fd is not None
    os.ftruncate(spill._fd, 10)
    with pytest.raises(OSError, match="spill file ended early"):
        list(spill.blocks())
