"""BLAS threads for large fits: the cores other processes leave idle, not counting our own load."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import logitkit._fitting as fitting

pytestmark = pytest.mark.skipif(fitting._system_busy_s() is None, reason="needs /proc/stat (Linux)")


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_our_own_busy_loop_is_not_counted_as_other_load():
    fitting._others_load(2)  # start a window
    time.sleep(0.6)
    idle_window = fitting._others_load(2)  # what others use while we sleep
    _spin(1.0)
    # This process kept a core busy the whole window; none of it is "others".
    assert fitting._others_load(2) < idle_window + 0.5


def test_a_busy_process_beside_us_is_counted():
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        fitting._others_load(2)  # start a window with the other process running
        time.sleep(1.0)
        assert fitting._others_load(2) > 0.5
    finally:
        hog.kill()
        hog.wait()


def test_small_fits_run_on_one_blas_thread():
    from threadpoolctl import threadpool_info

    with fitting.blas_threads(10_000):
        counts = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert counts == {1}
