"""Free heap memory goes back to the system between the stages of a run at scale."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from logitkit._memory import hand_back_free_memory


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and hand_back_free_memory()), reason="glibc only"
)
def test_freed_temporaries_leave_the_process():
    big = np.ones(2 << 20)  # 16 MB, mapped; freeing it lets glibc keep arrays up to 16 MB
    del big
    parts = [np.ones(1 << 19) for _ in range(60)]  # 60 x 4 MB, now from the heap
    for part in parts[:-1]:  # all but the top one: the heap cannot shrink past it
        part[:] = 2.0
    kept = parts.pop()
    del parts
    before = _resident_bytes()
    assert hand_back_free_memory()
    assert before - _resident_bytes() > 150e6  # most of the 236 MB freed under the top
    assert kept.sum() == 1 << 19  # memory in use is left alone
