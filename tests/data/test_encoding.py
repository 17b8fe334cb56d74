"""TableEncoder and formulas: the same columns at training and serving, clear errors otherwise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from logitkit import DataError, LogisticModel
from logitkit.data.encoding import TableEncoder
from logitkit.data.formula import FormulaTerms, decode_state, encode_state, split_formula


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),
            "income": rng.normal(3, 1, n),
            "debt": rng.uniform(0.1, 10, n),
            "region": rng.choice(["south", "north", "east"], n),
            "member": rng.random(n) < 0.4,
            "visits": rng.integers(0, 9, n),
        }
    )


def _json_round_trip(encoder: TableEncoder) -> TableEncoder:
    return TableEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))


def test_columns_types_and_names(frame):
    enc = TableEncoder().fit(frame)
    assert enc.encoded_features_ == [
        "age",
        "income",
        "debt",
        "region[T.north]",
        "region[T.south]",
        "member[T.True]",
        "visits",
    ]
    types = {c.name: c.type for c in enc.columns_}
    assert types == {
        "age": "float",
        "income": "float",
        "debt": "float",
        "region": "category",
        "member": "bool",
        "visits": "int",
    }
    # The reference level is the first in sorted order: "east" gets no column.
    assert enc.columns_[3].levels == ("east", "north", "south")
    out = enc.transform(frame)
    np.testing.assert_array_equal(out["region[T.south]"], (frame["region"] == "south") * 1.0)
    np.testing.assert_array_equal(out["age"], frame["age"])
    assert out.dtypes.unique().tolist() == [np.dtype(np.float64)]


def test_json_round_trip_and_row_order_do_not_change_columns(frame):
    enc = TableEncoder().fit(frame)
    again = _json_round_trip(enc)
    shuffled = frame.iloc[::-1, ::-1].assign(extra="ignored")
    np.testing.assert_array_equal(
        again.transform(shuffled).to_numpy(), enc.transform(frame).to_numpy()[::-1]
    )


def test_unseen_level_names_column_level_and_known_levels(frame):
    enc = TableEncoder().fit(frame)
    new = frame.head(3).assign(region=["north", "west", "south"])
    with pytest.raises(DataError, match=r"Column 'region' has level.*'west'.*row 1") as err:
        enc.transform(new)
    assert "'east', 'north', 'south'" in str(err.value)
    assert err.value.column == "region"
    assert err.value.row == 1


def test_missing_values_listed_or_imputed(frame):
    holes = frame.astype({"member": object}).copy()
    holes.loc[[0, 5, 9], "age"] = np.nan
    holes.loc[3, "region"] = None
    holes.loc[4, "member"] = None
    with pytest.raises(DataError, match=r"'age' \(3\), 'region' \(1\), 'member' \(1\)"):
        TableEncoder().fit(holes)
    enc = TableEncoder(impute="median").fit(holes)
    specs = {c.name: c for c in enc.columns_}
    assert specs["age"].fill == float(np.median(frame["age"].drop([0, 5, 9])))
    assert specs["age"].n_missing == 3
    assert specs["region"].fill == holes["region"].value_counts().idxmax()
    out = enc.transform(holes)
    assert out.notna().all().all()
    assert out.loc[5, "age"] == specs["age"].fill
    # The stored values fill serving rows too, after a JSON round trip.
    row = holes.head(1).assign(income=np.nan)
    served = _json_round_trip(enc).transform(row)
    assert served.loc[0, "income"] == specs["income"].fill
    most = TableEncoder(impute="most_frequent").fit(holes)
    assert {c.name: c.fill for c in most.columns_}["visits"] == float(
        frame["visits"].value_counts().sort_index().idxmax()
    )


def test_missing_values_at_prediction_without_imputation(frame):
    enc = TableEncoder().fit(frame)
    with pytest.raises(DataError, match=r"Missing values in the rows: 'income' \(2\)"):
        enc.transform(frame.head(4).assign(income=[1.0, np.nan, np.nan, 2.0]))


def test_missing_column_wrong_type_and_identifier_columns(frame):
    enc = TableEncoder().fit(frame)
    with pytest.raises(DataError, match="lack column\\(s\\) 'debt'") as err:
        enc.transform(frame.drop(columns=["debt"]))
    assert err.value.column == "debt"
    with pytest.raises(DataError, match="'age' was numeric in training but holds 'n/a' at row 1"):
        enc.transform(frame.head(2).assign(age=["41", "n/a"]))
    with pytest.raises(DataError, match="'member' was boolean in training but holds 'maybe'"):
        enc.transform(frame.head(1).assign(member=["maybe"]))
    ids = frame.assign(customer=[f"c{i}" for i in range(len(frame))])
    with pytest.raises(
        DataError, match=r"'customer' has 300 distinct text values.*--drop customer"
    ):
        TableEncoder().fit(ids)
    dated = frame.assign(when=pd.Timestamp("2024-01-01"))
    with pytest.raises(DataError, match="Column 'when' has type datetime"):
        TableEncoder().fit(dated)


def test_polars_pyarrow_and_records_encode_like_pandas(frame):
    enc = TableEncoder().fit(frame)
    expected = enc.transform(frame).to_numpy()
    np.testing.assert_array_equal(enc.transform(pl.from_pandas(frame)).to_numpy(), expected)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    np.testing.assert_array_equal(enc.transform(table).to_numpy(), expected)
    records = frame.head(5).to_dict(orient="records")
    np.testing.assert_array_equal(enc.transform(records).to_numpy(), expected[:5])


def test_model_predicts_from_raw_rows(frame):
    y = (frame["age"] + 8 * (frame["region"] == "south") > 52).to_numpy()
    enc = TableEncoder().fit(frame)
    encoded = enc.transform(frame)
    model = LogisticModel().fit(encoded, y)
    assert model.encoder_ is None
    expected = model.predict_proba(encoded)
    model.encoder_ = enc
    np.testing.assert_array_equal(model.predict_proba(frame), expected)
    np.testing.assert_array_equal(model.predict_proba(encoded), expected)  # passes through
    single = model.predict_proba(frame.iloc[[7]].to_dict(orient="records"))
    np.testing.assert_array_equal(single, expected[[7]])
    with pytest.raises(DataError, match="level\\(s\\) 'west'"):
        model.predict(frame.head(1).assign(region="west"))


FORMULA = "age + C(region) + age:income + bs(debt, 4) + poly(income, 2) + np.log(debt)"


def test_formula_columns_and_serving_rebuild_are_identical(frame):
    enc = TableEncoder(formula=FORMULA).fit(frame)
    assert enc.input_names == ["age", "income", "debt", "region"]
    assert enc.encoded_features_[:3] == ["age", "C(region)[T.north]", "C(region)[T.south]"]
    assert "bs(debt, 4)[4]" in enc.encoded_features_
    assert enc.encoded_features_[-1] == "age:income"
    full = enc.transform(frame).to_numpy()
    served = _json_round_trip(enc)
    # Rebuilt from JSON, on a few rows: the learned knots and levels, not re-learned ones.
    rows = [3, 17, 250]
    np.testing.assert_array_equal(served.transform(frame.iloc[rows]).to_numpy(), full[rows])
    stored = enc.to_dict()["formula"]["transform_state"]
    assert stored["bs(debt, 4)"]["lower_bound"] == frame["debt"].min()


def test_splines_clip_values_outside_the_training_range(frame):
    inside = frame[frame["debt"] < 5]
    enc = TableEncoder(formula="bs(debt, 3)").fit(inside)
    assert enc.encoded_features_ == ["bs(debt, 3)[1]", "bs(debt, 3)[2]", "bs(debt, 3)[3]"]
    top = inside["debt"].max()
    beyond = enc.transform(frame.head(2).assign(debt=[top, 9.5])).to_numpy()
    np.testing.assert_array_equal(beyond[1], beyond[0])


def test_formula_state_codec_is_lossless():
    state = {"alpha": {0: np.float64(0.1), 1: np.float64(1 / 3)}, "t": (1, [2.5]), "a": None}
    state["arr"] = np.arange(6.0).reshape(2, 3)
    back = decode_state(json.loads(json.dumps(encode_state(state))))
    assert back["alpha"] == state["alpha"]
    assert isinstance(back["alpha"][0], np.float64)
    assert back["t"] == (1, [2.5])
    np.testing.assert_array_equal(back["arr"], state["arr"])


@pytest.mark.parametrize(
    "term",
    ["eval('1')", "__import__('os')", "np.load(debt)", "C(region)[0]", "lag(age)", "I(age ** 99)"],
)
def test_formula_runs_no_code(frame, term):
    with pytest.raises(DataError, match="logitkit does not evaluate"):
        TableEncoder(formula=f"age + {term}").fit(frame)


def test_hand_written_formula_in_a_stored_encoder_is_refused(frame):
    spec = TableEncoder(formula="age + np.log(debt)").fit(frame).to_dict()
    spec["formula"]["formula"] = "1 + age + I(open(debt))"
    with pytest.raises(DataError, match="a call of 'open'"):
        TableEncoder.from_dict(spec)


def test_formula_errors_are_clear(frame):
    with pytest.raises(DataError, match="removes the intercept"):
        TableEncoder(formula="age - 1").fit(frame)
    with pytest.raises(DataError, match="'height'"):
        TableEncoder(formula="age + height").fit(frame)
    enc = TableEncoder(formula="age + C(visits)").fit(frame[frame["visits"] < 8])
    with pytest.raises(DataError, match="level it did not see in training"):
        enc.transform(frame[frame["visits"] == 8])
    raising = TableEncoder(formula="bs(debt, 3, extrapolation='raise')").fit(frame.head(50))
    with pytest.raises(DataError, match="extend beyond upper and/or lower bounds"):
        raising.transform(frame.assign(debt=frame["debt"] * 2))
    assert split_formula("outcome ~ .") == ("outcome", ".")
    dotted = TableEncoder(formula=".").fit(frame[["age", "region"]])
    assert dotted.formula_ is not None
    assert dotted.formula_.formula == "1 + age + region"


def test_formula_terms_with_quoted_names():
    data = pd.DataFrame({"mean radius": [1.0, 2.0, 3.0, 4.0], "area": [2.0, 3.0, 5.0, 8.0]})
    terms = FormulaTerms.fit("`mean radius` + np.log(area) + `mean radius`:area", data)
    again = FormulaTerms.from_dict(json.loads(json.dumps(terms.to_dict())))
    assert again.formula == "1 + `mean radius` + np.log(area) + `mean radius`:area"
    np.testing.assert_array_equal(again.transform(data.iloc[[2]]), terms.transform(data)[[2]])


def _spelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with 'north' also typed 'North ' and 'NORTH' in a few rows."""
    region = frame["region"].to_numpy(dtype=object).copy()
    north = np.flatnonzero(region == "north")
    region[north[[2, 5]]] = "North "
    region[north[7]] = "NORTH"
    return frame.assign(region=region)


def test_levels_spelled_several_ways_are_refused_naming_them(frame):
    spelled = _spelled(frame)
    with pytest.raises(DataError, match=r"Column 'region' has levels that differ only") as err:
        TableEncoder().fit(spelled)
    message = str(err.value)
    n_north = int((frame["region"] == "north").sum())
    assert f"'north' ({n_north - 3}), 'North ' (2), 'NORTH' (1)" in message
    assert "--normalize-labels" in message
    assert "TableEncoder(normalize_levels=True)" in message
    assert err.value.column == "region"
    assert err.value.row == int(np.flatnonzero(frame["region"] == "north")[2])
    assert err.value.count == 3


def test_normalized_levels_are_merged_stored_and_applied_when_encoding(frame):
    enc = TableEncoder(normalize_levels=True).fit(_spelled(frame))
    assert enc.encoded_features_ == TableEncoder().fit(frame).encoded_features_
    spec = enc.to_dict()["columns"][3]
    assert spec["levels"] == ["east", "north", "south"]
    assert spec["aliases"] == {"NORTH": "north", "North ": "north"}
    np.testing.assert_array_equal(
        enc.transform(_spelled(frame)).to_numpy(), TableEncoder().fit(frame).transform(frame)
    )
    again = _json_round_trip(enc)
    assert again.normalize_levels
    rows = frame.head(3).assign(region=["nORth", " south", "east"])
    out = again.transform(rows)
    assert out["region[T.north]"].tolist() == [1.0, 0.0, 0.0]
    assert out["region[T.south]"].tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(DataError, match="'nORth' not seen in training"):
        TableEncoder().fit(frame).transform(rows)


def test_reference_level_is_stored_first_and_gets_no_column(frame):
    enc = TableEncoder(reference={"region": "south"}).fit(frame)
    assert enc.columns_[3].levels == ("south", "east", "north")
    assert enc.encoded_features_[3:5] == ["region[T.east]", "region[T.north]"]
    out = enc.transform(frame)
    np.testing.assert_array_equal(out["region[T.east]"], (frame["region"] == "east") * 1.0)
    again = _json_round_trip(enc)
    assert again.reference == {"region": "south"}
    assert again.columns_[3].levels == ("south", "east", "north")
    np.testing.assert_array_equal(again.transform(frame).to_numpy(), out.to_numpy())


def test_reference_changes_the_coding_not_the_fitted_probabilities(frame):
    z = 0.05 * (frame["age"] - 50) + 0.8 * (frame["region"] == "north")
    y = np.random.default_rng(1).random(len(frame)) < 1 / (1 + np.exp(-z))
    default = TableEncoder().fit(frame)
    south = TableEncoder(reference={"region": "south"}).fit(frame)
    p_default = (
        LogisticModel(penalty=None)
        .fit(default.transform(frame), y)
        .predict_proba(default.transform(frame))
    )
    p_south = (
        LogisticModel(penalty=None)
        .fit(south.transform(frame), y)
        .predict_proba(south.transform(frame))
    )
    np.testing.assert_allclose(p_south, p_default, atol=1e-8)


def test_unknown_reference_column_or_level_lists_the_choices(frame):
    with pytest.raises(DataError, match=r"no column 'regoin'; categorical columns: 'region'"):
        TableEncoder(reference={"regoin": "south"}).fit(frame)
    with pytest.raises(DataError, match=r"column 'age' is not categorical \(float\)"):
        TableEncoder(reference={"age": "40"}).fit(frame)
    with pytest.raises(
        DataError, match=r"'west' of column 'region' is not one of its levels: 'east', 'north'"
    ) as err:
        TableEncoder(reference={"region": "west"}).fit(frame)
    assert err.value.column == "region"
    assert "--reference region=LEVEL" in str(err.value)
    merged = TableEncoder(normalize_levels=True, reference={"region": "NORTH"}).fit(frame)
    assert merged.columns_[3].levels[0] == "north"


def test_reference_with_a_formula_applies_to_plain_terms_and_refuses_own_contrasts(frame):
    enc = TableEncoder(formula="age + C(region)", reference={"region": "south"}).fit(frame)
    assert enc.encoded_features_ == ["age", "C(region)[T.east]", "C(region)[T.north]"]
    served = _json_round_trip(enc)
    np.testing.assert_array_equal(
        served.transform(frame.iloc[[4, 9]]).to_numpy(), enc.transform(frame).to_numpy()[[4, 9]]
    )
    bare = TableEncoder(formula="age + region", reference={"region": "south"}).fit(frame)
    assert bare.encoded_features_[1:] == ["region[T.east]", "region[T.north]"]
    with pytest.raises(DataError, match=r"codes column 'region' itself.*contr\.treatment"):
        TableEncoder(
            formula="age + C(region, contr.treatment('east'))", reference={"region": "south"}
        ).fit(frame)
    with pytest.raises(DataError, match="the formula does not use column 'region'"):
        TableEncoder(formula="age + debt", reference={"region": "south"}).fit(frame)


def test_dicts_written_before_spellings_and_references_still_load(frame):
    spec = TableEncoder().fit(frame).to_dict()
    for key in ("normalize_levels", "reference"):
        del spec[key]
    old = TableEncoder.from_dict(spec)
    assert not old.normalize_levels
    assert old.reference is None
    np.testing.assert_array_equal(
        old.transform(frame).to_numpy(), TableEncoder().fit(frame).transform(frame).to_numpy()
    )
    spec["columns"][3]["levels"] = ["north", "south", "east"]  # others not sorted
    with pytest.raises(ValueError, match="the reference first and the others sorted"):
        TableEncoder.from_dict(spec)


def test_missing_values_when_encoding_name_a_fix_that_exists(frame):
    enc = TableEncoder().fit(frame)
    with pytest.raises(DataError) as err:
        enc.transform(frame.head(4).assign(income=[1.0, 2.0, np.nan, np.nan]))
    message = str(err.value)
    assert "first at row 2" in message
    assert "fill them in, or refit it with imputation (logitkit train --impute median" in message
    assert "--impute median|most_frequent" not in message
    assert err.value.row == 2
