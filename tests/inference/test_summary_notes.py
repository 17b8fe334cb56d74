"""The summary says what its numbers are, and when Wald intervals cannot be trusted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from logitkit import LogisticModel

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def birthwt() -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(DATA / "birthwt.csv")
    return frame[["age", "lwt", "smoke", "ptl", "ht", "ui", "ftv"]], frame["low"]


def test_profile_summary_says_what_its_z_is(birthwt):
    X, y = birthwt
    model = LogisticModel(penalty=None).fit(X, y)
    wald, profile = model.summary(), model.summary(method="profile", X=X, y=y)
    assert any("signed square root of the likelihood-ratio" in n for n in profile.notes)
    # z is the signed root of the LR statistic, not coef / std_err ...
    ratio = profile["coef"] / profile["std_err"]
    assert not np.allclose(profile["z"], ratio, rtol=1e-3)
    assert (np.sign(profile["z"]) == np.sign(profile["coef"])).all()
    # ... while std_err stays the Wald one.
    np.testing.assert_allclose(profile["std_err"], wald["std_err"], rtol=1e-12)


def test_small_samples_get_a_note_offering_profile_intervals(birthwt):
    X, y = birthwt  # 59 low-weight births for 8 parameters
    notes = LogisticModel(penalty=None).fit(X, y).summary().notes
    note = next(n for n in notes if n.startswith("Wald intervals may be unreliable"))
    assert "7.4 rows of the smaller class per estimated parameter" in note
    assert "method='profile'" in note


def test_separation_like_coefficients_get_the_note_and_large_samples_do_not():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = (x + 0.05 * rng.normal(size=2000) > 0).astype(int)  # nearly separated
    near = LogisticModel(penalty=None).fit(x[:, None], y).summary().notes
    assert any("(near) separation" in n for n in near)
    y = (x + rng.normal(size=2000) > 0).astype(int)
    plain = LogisticModel(penalty=None).fit(x[:, None], y).summary().notes
    assert not any("Wald intervals may be unreliable" in n for n in plain)
