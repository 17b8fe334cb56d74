"""The encoder learned in passes over batches equals ``TableEncoder.fit`` on the same rows.

The reference is the in-memory fit on the file read whole (``read_table``): the same
types, levels and their order, reference levels, merged spellings, imputed values
(the median exactly, by selection) and formula state (knots and levels exactly; means
and standard deviations exactly on data whose sums are exact, else to rounding), for
CSV and Parquet and batches of 1, 3, 7 and 1000 rows. Streams with a pre-fitted encoder
impute and apply formulas, with the in-memory errors (column and row) for unseen levels
and missing values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from logitkit import DataError, LogisticModel
from logitkit.data.arrow import read_table
from logitkit.data.encoding import TableEncoder
from logitkit.data.formula import decode_state
from logitkit.data.quantiles import exact_ranks
from logitkit.data.stream import FileSource
from logitkit.data.streamed_encoding import fit_encoder_streamed
from tests.helpers import two_worker_cluster

BATCHES = [1, 3, 7, 1000]


def _frame(n: int = 64, seed: int = 0) -> pd.DataFrame:
    """Numbers on a grid of eighths (so sums are exact), integers, text with a case
    variant, booleans, a target; missing values in each kind of column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(160, 520, n) / 8,
            "debt": rng.integers(-40, 90, n) / 8,
            "count": rng.integers(0, 6, n),
            "region": rng.choice(["east", "north", "south", "west"], n),
            "member": rng.random(n) < 0.4,
            # a categorical (dictionary-encoded in Parquet), its categories not sorted
            "grade": pd.Categorical(rng.choice(["B", "A", "C"], n), categories=["C", "B", "A"]),
        }
    )
    frame["y"] = (frame["age"] / 40 + rng.normal(size=n) > 1).astype(int)
    return frame


def _with_missing(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype({"member": object, "count": "float64"})
    out.loc[[3, 20], "age"] = np.nan
    out.loc[[5], "count"] = np.nan
    out.loc[[7, 8, 40], "region"] = None
    out.loc[[11], "member"] = None
    out.loc[[13, 14], "grade"] = None
    return out


def _files(frame: pd.DataFrame, where: Path) -> dict[str, Path]:
    csv, parquet = where / "rows.csv", where / "rows.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    return {"csv": csv, "parquet": parquet}


def _memory(path: Path, **params) -> TableEncoder:
    return TableEncoder(**params).fit(read_table(path).drop(columns="y"))


def _streamed(path: Path, batch_rows: int, **params) -> TableEncoder:
    return fit_encoder_streamed(FileSource(path, "y", batch_rows=batch_rows), **params)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return _files(_with_missing(_frame()), tmp_path_factory.mktemp("rows"))


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("batch_rows", BATCHES)
@pytest.mark.parametrize(
    "params",
    [
        {"impute": "median"},
        {"impute": "most_frequent"},
        {"impute": "median", "reference": {"region": "south"}},
    ],
)
def test_columns_levels_and_fills_equal_the_in_memory_fit(files, kind, batch_rows, params):
    streamed = _streamed(files[kind], batch_rows, **params)
    memory = _memory(files[kind], **params)
    assert streamed == memory
    assert streamed.to_dict() == memory.to_dict()
    fills = {c.name: c.fill for c in streamed.columns_}
    frame = read_table(files[kind])
    if params["impute"] == "median":  # independent of both: numpy on the column
        assert fills["age"] == float(np.median(frame["age"].dropna()))


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("batch_rows", [1, 7])
def test_without_missing_values_no_imputation_is_needed(tmp_path, kind, batch_rows):
    path = _files(_frame(), tmp_path)[kind]
    streamed = _streamed(path, batch_rows)
    assert streamed == _memory(path)
    kinds = ["float", "float", "int", "category", "bool", "category"]
    assert [c.type for c in streamed.columns_] == kinds


def test_median_of_many_spread_values_is_exact_in_few_passes(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.standard_cauchy(200_001), "y": 0})
    frame.loc[::7, "x"] = np.nan
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path, index=False)
    encoder = fit_encoder_streamed(FileSource(path, "y", batch_rows=20_000), impute="median")
    assert encoder.columns_[0].fill == float(np.median(frame["x"].dropna()))


def test_exact_ranks_against_sorting_with_ties_and_tiny_brackets():
    rng = np.random.default_rng(5)
    for trial in range(50):
        n = int(rng.integers(1, 2000))
        x = np.round(rng.normal(size=n) ** 3, int(rng.integers(0, 3)))
        batches = np.array_split(x, int(rng.integers(1, 9)))

        def run(fn, merge, batches=batches):
            parts = [fn({"x": b}) for b in batches]
            total = parts[0]
            for part in parts[1:]:
                total = merge(total, part)
            return total

        ranks = sorted(set(rng.integers(0, n, 4).tolist()))
        found = exact_ranks(run, {"x": (n, x.min(), x.max(), ranks)}, bins=4, collect=3)["x"]
        assert [found[r] for r in ranks] == np.sort(x)[ranks].tolist(), trial


FORMULAS = [
    "center(age) + scale(debt) + standardize(age) + C(region) + member + grade",
    "bs(age, 4) + bs(debt, df=5, degree=2) + C(count) + region:age",
    "poly(age) + poly(debt, 2, raw=True) + I(age ** 2) + np.log(age)",
    "bs(center(age), 4) + scale(debt, ddof=0) + C(region, contr.sum)",
    "bs(age, knots=[30, 50], lower_bound=10, upper_bound=80) + center(age ** 2)",
]


@pytest.mark.parametrize(("kind", "batch_rows"), [("csv", 1), ("parquet", 3), ("parquet", 1000)])
@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_state_equals_formulaics_on_all_rows(files, kind, batch_rows, formula):
    streamed = _streamed(files[kind], batch_rows, impute="median", formula=formula)
    memory = _memory(files[kind], impute="median", formula=formula)
    assert streamed == memory  # exact: 64 rows on a grid of eighths have exact sums
    frame = read_table(files[kind])
    np.testing.assert_array_equal(streamed.transform(frame), memory.transform(frame))


def test_formula_means_agree_to_rounding_on_any_data(tmp_path):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": rng.lognormal(3, 1, 5000), "z": rng.normal(size=5000), "y": 0})
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path, index=False)
    formula = "scale(x) + standardize(z) + poly(x, 3) + bs(z, 5)"
    streamed = fit_encoder_streamed(FileSource(path, "y", batch_rows=777), formula=formula)
    memory = TableEncoder(formula=formula).fit(frame.drop(columns="y"))
    got = decode_state(streamed.formula_.transform_state)
    want = decode_state(memory.formula_.transform_state)
    assert got["bs(z, 5)"] == want["bs(z, 5)"]  # quantiles: exact
    for key in ("scale(x)", "standardize(z)"):
        for part in ("center", "scale"):
            np.testing.assert_allclose(got[key][part], want[key][part], rtol=1e-14)
    for part in ("alpha", "norms2"):
        for k, v in want["poly(x, 3)"][part].items():
            np.testing.assert_allclose(got["poly(x, 3)"][part][k], v, rtol=1e-12)


@pytest.mark.parametrize(
    ("formula", "term"),
    [("cr(age, df=4)", "cr(age, df=4)"), ("age + cc(debt, df=5)", "cc(debt, df=5)")],
)
def test_transforms_that_cannot_be_learned_in_passes_are_named(files, formula, term):
    with pytest.raises(DataError, match="cannot be learned in passes") as info:
        _streamed(files["parquet"], 7, impute="median", formula=formula)
    assert repr(term) in str(info.value)


def test_missing_values_without_imputation_are_the_in_memory_error(files):
    with pytest.raises(DataError) as memory:
        _memory(files["parquet"])
    with pytest.raises(DataError) as streamed:
        _streamed(files["parquet"], 3)
    assert str(streamed.value) == str(memory.value)
    assert streamed.value.column == memory.value.column == "age"


def test_spellings_are_refused_or_merged_as_in_memory(tmp_path):
    frame = _frame()
    frame.loc[[9, 30], "region"] = "North "
    path = _files(frame, tmp_path)["parquet"]
    with pytest.raises(DataError) as memory:
        _memory(path)
    with pytest.raises(DataError) as streamed:
        _streamed(path, 4)
    assert str(streamed.value) == str(memory.value)
    assert (streamed.value.row, streamed.value.count) == (memory.value.row, memory.value.count)
    assert _streamed(path, 4, normalize_levels=True) == _memory(path, normalize_levels=True)


def test_an_identifier_column_is_refused(tmp_path):
    frame = _frame().assign(code=[f"c{i}" for i in range(64)])
    path = _files(frame, tmp_path)["parquet"]
    with pytest.raises(DataError, match=r"'code' .* more than 20 distinct text values"):
        _streamed(path, 5, max_levels=20)


def test_a_stream_with_the_encoder_imputes_and_fits_as_in_memory(files):
    formula = "bs(age, 4) + C(region) + member + count"
    source = FileSource(files["parquet"], "y", batch_rows=7)
    encoder = fit_encoder_streamed(source, impute="median", formula=formula)
    streamed = LogisticModel().fit(FileSource(files["parquet"], "y", batch_rows=7, encoder=encoder))
    frame = read_table(files["parquet"])
    memory_encoder = TableEncoder(impute="median", formula=formula).fit(frame.drop(columns="y"))
    memory = LogisticModel().fit(memory_encoder.transform(frame), frame["y"].to_numpy())
    np.testing.assert_allclose(streamed.coef_, memory.coef_, rtol=1e-8)
    assert list(streamed.feature_names_in_) == memory_encoder.encoded_features_
    assert streamed.encoder_ == memory_encoder  # the artifact stores the learned encoder
    assert json.loads(json.dumps(streamed.encoder_.to_dict())) == memory_encoder.to_dict()


def test_unseen_levels_and_missing_values_in_a_stream_are_the_in_memory_errors(tmp_path):
    train = _frame()
    encoder = TableEncoder().fit(train.drop(columns="y"))
    rows = _frame(seed=1)
    rows.loc[45, "region"] = "centre"
    path = _files(rows, tmp_path)["parquet"]
    with pytest.raises(DataError) as memory:
        encoder.transform(rows)
    with pytest.raises(DataError) as streamed:
        LogisticModel().fit(FileSource(path, "y", batch_rows=10, encoder=encoder))
    assert str(streamed.value) == str(memory.value)
    assert "first at row 45" in str(streamed.value)
    assert (streamed.value.column, streamed.value.row) == ("region", 45)
    rows = _frame(seed=1).astype({"debt": "float64"})
    rows.loc[52, "debt"] = np.nan
    path = _files(rows, tmp_path)["parquet"]
    with pytest.raises(DataError) as memory:
        encoder.transform(rows)
    with pytest.raises(DataError) as streamed:
        LogisticModel().fit(FileSource(path, "y", batch_rows=10, encoder=encoder))
    assert str(streamed.value) == str(memory.value)
    assert (streamed.value.column, streamed.value.row) == ("debt", 52)


def test_encoder_and_columns_together_are_refused(files):
    encoder = _streamed(files["parquet"], 1000, impute="median")
    with pytest.raises(ValueError, match="either 'columns' or an 'encoder'"):
        FileSource(files["parquet"], "y", columns=["age"], encoder=encoder)
    with pytest.raises(DataError, match="Column 'region' is left out of"):
        FileSource(files["parquet"], "y", drop=["region"], encoder=encoder).schema()


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    with two_worker_cluster() as c:
        yield c


@pytest.mark.slow
def test_dask_frame_learns_the_in_memory_encoder_and_fits_with_it(client):
    dd = pytest.importorskip("dask.dataframe")
    from logitkit.data.dask import DaskSource

    frame = _with_missing(_frame(200, seed=4))
    rows = dd.from_pandas(frame, npartitions=6)
    formula = "bs(age, 4) + scale(debt) + C(region) + member + count"
    source = DaskSource(rows, target="y")
    encoder = fit_encoder_streamed(source, impute="median", formula=formula)
    computed = rows.compute()
    memory = TableEncoder(impute="median", formula=formula).fit(computed.drop(columns="y"))
    assert encoder.columns_ == memory.columns_
    assert encoder.formula_.columns == memory.formula_.columns
    got = decode_state(encoder.formula_.transform_state)
    want = decode_state(memory.formula_.transform_state)
    assert got["bs(age, 4)"] == want["bs(age, 4)"]
    np.testing.assert_allclose(
        got["scale(debt)"]["scale"], want["scale(debt)"]["scale"], rtol=1e-14
    )
    model = LogisticModel().fit(DaskSource(rows, target="y", encoder=encoder))
    reference = LogisticModel().fit(memory.transform(computed), computed["y"].to_numpy())
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-8)
    assert model.encoder_ is encoder
    bad = frame.assign(region=frame["region"].where(frame.index != 123, "centre"))
    with pytest.raises(DataError) as memory_error:
        encoder.transform(bad)
    with pytest.raises(DataError) as dask_error:
        DaskSource(dd.from_pandas(bad, npartitions=6), target="y", encoder=encoder).schema()
    assert str(dask_error.value) == str(memory_error.value)
    assert dask_error.value.row == 123
