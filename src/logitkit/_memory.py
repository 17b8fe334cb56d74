"""Handing free memory back to the system between the stages of a run at scale.

numpy frees its temporaries into the C library's heap. glibc keeps what it can reuse:
once an array of a few MB has been freed, it serves later arrays of up to 32 MB from its
heaps instead of mapping fresh pages, and a heap gives back only what lies free at its
top. After a stage that sorted or scored tens of millions of rows, hundreds of MB can so
stay counted in the process though nothing uses them, and the next stage's peak comes on
top. :func:`hand_back_free_memory` asks glibc to return every free page (``malloc_trim``);
with another C library it does nothing.

The row vectors of a run at scale live in files mapped into memory: the pages a stage
reads count in the process until :func:`release_pages` hands them back (their values
stay in the file).
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

from numpy.typing import NDArray

__all__ = ["STEP_ROWS", "hand_back_free_memory", "release_pages"]

#: Rows per step of a pass over row vectors held whole (out-of-fold probabilities,
#: labels, scores): a step's temporaries take a few bytes a row, a few MB in all, where
#: tens of millions of rows at once would take gigabytes.
STEP_ROWS = 1 << 20


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def hand_back_free_memory() -> bool:
    """Return the heap's free pages to the system; True when the C library could.

    It costs a few milliseconds (a walk over the heaps), so it is called between the
    stages of a run, not inside them.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def release_pages(*arrays: NDArray[Any]) -> None:
    """Hand the memory pages of arrays mapped from files back to the system.

    Their values stay in the file (a shared mapping: the page cache keeps them until they
    are written), and a later read brings back only the pages it touches; so a row
    vector read once does not stay counted in the process's memory for the rest of the
    run. Arrays in memory are left alone.
    """
    for array in arrays:
        base: Any = array
        while base is not None and not isinstance(base, mmap.mmap):
            base = getattr(base, "base", None)
        if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            base.madvise(mmap.MADV_DONTNEED)
