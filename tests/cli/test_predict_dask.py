"""``logitkit predict --dask``: a real Dask cluster scores a Parquet file into one Parquet
file per partition, equal (columns, order and every value) to the streamed output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from logitkit.cli import app
from tests.cli.helpers import loan_frame, save_loan_model
from tests.helpers import two_worker_cluster

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

runner = CliRunner()
ROW_GROUP = 500


@pytest.fixture(scope="module")
def loans(tmp_path_factory):
    where = tmp_path_factory.mktemp("dask-loans")
    frame = loan_frame(3000, seed=2)
    frame.to_parquet(where / "loans.parquet", index=False, row_group_size=ROW_GROUP)
    frame.to_csv(where / "loans.csv", index=False)
    model = save_loan_model(
        where / "model.json", loan_frame(), formula="bs(age, 4) + C(region) + debt + member"
    )
    return where, frame, model


@pytest.fixture(scope="module")
def scheduler():
    with two_worker_cluster() as client:
        client.run(_warm_up)
        yield client.scheduler.address


def _warm_up() -> None:
    """Import the scoring code on a worker (the first import takes seconds)."""
    import logitkit.cli.predict  # noqa: F401


def _streamed(model: Path, data: Path, out: Path, *extra: str) -> pd.DataFrame:
    result = runner.invoke(app, ["predict", str(model), str(data), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return pq.read_table(out).to_pandas()


def test_partitioned_output_equals_the_streamed_output(loans, scheduler):
    where, frame, model = loans
    out = where / "scored"
    data = str(where / "loans.parquet")
    args = ["--dask", scheduler, "--keep", "id", "--json"]
    result = runner.invoke(app, ["predict", str(model), data, "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"part-{i:05d}.parquet" for i in range(len(frame) // ROW_GROUP)]
    assert [pq.ParquetFile(out / f).metadata.num_rows for f in files] == [ROW_GROUP] * 6
    assert '"rows": 3000' in result.output
    assert '"files": 6' in result.output
    scored = pd.concat([pq.read_table(out / f).to_pandas() for f in files], ignore_index=True)
    streamed = _streamed(model, where / "loans.parquet", where / "s.parquet", "--keep", "id")
    assert list(scored.columns) == ["id", "p_default", "label", "decision"]
    pd.testing.assert_frame_equal(scored, streamed, check_exact=True)
    assert not (where / "scored.tmp").exists()


@pytest.mark.slow
def test_a_local_cluster_gives_the_same_files(loans):
    where, _, model = loans
    out = where / "scored-local.parquet"  # a directory, as Spark names them
    result = runner.invoke(
        app,
        ["predict", str(model), str(where / "loans.parquet"), "--out", str(out), "--dask", "local"],
    )
    assert result.exit_code == 0, result.output
    assert "(6 Parquet files, one per partition)" in result.output
    streamed = _streamed(model, where / "loans.parquet", where / "s2.parquet")
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), streamed, check_exact=True)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "give --out DIR"),
        (["--out", "scored.csv"], "not the .csv file"),
        (["--out", "scored.jsonl"], "not the .jsonl file"),
        (["--out", "model.json"], "exists already"),
        (["--out", "fresh", "--sep", ";"], "--sep and --decimal apply to CSV files"),
    ],
)
def test_combinations_that_cannot_work_are_refused(loans, args, says, monkeypatch):
    where, _, model = loans
    monkeypatch.chdir(where)
    result = runner.invoke(
        app, ["predict", str(model), "loans.parquet", *args, "--dask", "tcp://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert says in result.output
    assert "Traceback" not in result.output
    assert not (where / "fresh").exists()


def test_csv_input_and_an_unreachable_scheduler_are_refused(loans, monkeypatch):
    where, _, model = loans
    monkeypatch.chdir(where)
    monkeypatch.setitem(dask.config.config["distributed"]["comm"]["timeouts"], "connect", "1s")
    result = runner.invoke(
        app, ["predict", str(model), "loans.csv", "--out", "a", "--dask", "tcp://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "--dask reads Parquet" in result.output
    result = runner.invoke(
        app,
        ["predict", str(model), "loans.parquet", "--out", "b", "--dask", "tcp://127.0.0.1:1"],
    )
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.output
    assert not (where / "b").exists()


def test_a_bad_row_names_its_row_in_the_file_and_leaves_nothing(loans, scheduler, tmp_path):
    _, frame, model = loans
    bad = frame.assign(region=frame["region"].where(frame.index != 1234, "centre"))
    data = tmp_path / "bad.parquet"
    bad.to_parquet(data, index=False, row_group_size=ROW_GROUP)
    out = tmp_path / "scored"
    result = runner.invoke(
        app, ["predict", str(model), str(data), "--out", str(out), "--dask", scheduler]
    )
    assert result.exit_code == 2
    assert "Column 'region' has level(s) 'centre' not seen in training" in result.output
    assert "In the file that is row 1234" in result.output
    assert not out.exists()
    assert not (tmp_path / "scored.tmp").exists()
    rows = ["--batch-size", str(ROW_GROUP)]
    to = str(tmp_path / "s.parquet")
    streamed = runner.invoke(app, ["predict", str(model), str(data), "--out", to, *rows])
    assert streamed.exit_code == 2
    assert " ".join(streamed.output.split()) == " ".join(result.output.split())
