"""A model fitted with an offset is never served without it.

A request carries only features, so serving such a model would drop the offset from
every log-odds. The service refuses it at load (and ``logitkit serve`` exits 2 naming
the column) instead of answering shifted probabilities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit.cli import app as cli
from logitkit.exceptions import ArtifactError
from logitkit.serve.predictor import load_predictor

DATA = Path(__file__).parents[1] / "data" / "birthwt.csv"


@pytest.fixture(scope="module")
def offset_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("offset")
    frame = pd.read_csv(DATA)
    frame["log_odds_shift"] = np.log(frame["age"] / 25.0)
    path = where / "rows.csv"
    frame[["low", "lwt", "smoke", "log_odds_shift"]].to_csv(path, index=False)
    out = where / "model.json"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(path),
            "--target",
            "low",
            "--positive",
            "1",
            "--penalty",
            "none",
            "--offset",
            "log_odds_shift",
            "--out",
            str(out),
            "--no-report",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_a_model_fitted_with_an_offset_is_refused_by_the_service(offset_model: Path) -> None:
    assert logitkit.load(offset_model).fitted_with_offset_
    with pytest.raises(ArtifactError, match="log_odds_shift"):
        load_predictor(offset_model, name="offset")


def test_serve_exits_2_naming_the_offset_column(offset_model: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", str(offset_model), "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "offset" in result.output
    assert "log_odds_shift" in result.output
