"""The JSON artifact: exact round trip, and loud failure on anything not as written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import logitkit
from logitkit import ArtifactError, LogisticModel
from logitkit.artifact import SIGNING_KEY_ENV, content_hash, stored_diagnostics, stored_summary
from logitkit.data.encoding import TableEncoder
from tests.helpers import make_logistic


@pytest.fixture(autouse=True)
def _no_signing_key(monkeypatch):
    """Tests choose their key; one set in the environment must not leak in."""
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)


@pytest.fixture
def saved(tmp_path, breast_cancer):
    X, y = breast_cancer
    model = LogisticModel().fit(X, y)
    path = model.save(tmp_path / "model.json")
    return model, path, X


@pytest.mark.parametrize("labels", [None, ("benign", "malignant"), (False, True)])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_round_trip_is_bit_for_bit(tmp_path, labels, n_classes):
    X, y = make_logistic(n=200, p=4, n_classes=n_classes, seed=3)
    if labels is not None and n_classes == 2:
        y = np.array(labels)[y]
    model = LogisticModel(penalty="l1", C=0.5).fit(X, y)
    loaded = logitkit.load(model.save(tmp_path / "m.json"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.classes_.dtype.kind == model.classes_.dtype.kind


def test_file_is_readable_json_with_metadata(saved):
    _, path, _ = saved
    content = json.loads(path.read_text())
    assert content["format"] == "logitkit-model"
    assert content["training"]["n_rows"] == 569
    assert len(content["model"]["coef"][0]) == 30
    assert len(content["sha256"]) == 64


def test_tampered_file_is_refused(saved):
    _, path, _ = saved
    content = json.loads(path.read_text())
    content["model"]["coef"][0][3] += 1e-12
    path.write_text(json.dumps(content))
    with pytest.raises(ArtifactError, match="integrity check"):
        logitkit.load(path)


def test_truncated_file_is_refused(saved):
    _, path, _ = saved
    path.write_text(path.read_text()[:500])
    with pytest.raises(ArtifactError, match="not valid JSON"):
        logitkit.load(path)


def test_wrong_version_is_refused(saved):
    _, path, _ = saved
    content = json.loads(path.read_text())
    content["format_version"] = 99
    path.write_text(json.dumps(content))
    with pytest.raises(ArtifactError, match="format_version 99"):
        logitkit.load(path)


def test_missing_file_and_foreign_json(tmp_path):
    with pytest.raises(ArtifactError, match="Cannot read model file"):
        logitkit.load(tmp_path / "nope.json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ArtifactError, match="not a logitkit model file"):
        logitkit.load(tmp_path / "other.json")


# ------------------------------------------------------------------ signatures (HMAC)
def _forge(path, edit):
    """Edit a model file as someone who knows the format would: recompute its SHA-256."""
    content = json.loads(path.read_text())
    edit(content)
    content["sha256"] = content_hash(content)
    path.write_text(json.dumps(content))


def test_signed_file_loads_with_its_key(tmp_path, breast_cancer, monkeypatch):
    X, y = breast_cancer
    monkeypatch.setenv(SIGNING_KEY_ENV, "s3cret")
    model = LogisticModel().fit(X, y)
    path = model.save(tmp_path / "model.json")
    signature = json.loads(path.read_text())["signature"]
    assert signature["algorithm"] == "HMAC-SHA256"
    assert len(signature["value"]) == 64
    np.testing.assert_array_equal(logitkit.load(path).predict_proba(X), model.predict_proba(X))
    # Whitespace and key order are not content: a re-indented file still verifies.
    path.write_text(json.dumps(json.loads(path.read_text()), indent=1))
    logitkit.load(path)


def test_unsigned_file_is_refused_when_a_key_is_set(saved, monkeypatch):
    _, path, _ = saved
    monkeypatch.setenv(SIGNING_KEY_ENV, "s3cret")
    with pytest.raises(ArtifactError, match="is not signed, and LOGITKIT_SIGNING_KEY is set"):
        logitkit.load(path)


def test_wrong_key_is_refused(tmp_path, breast_cancer, monkeypatch):
    X, y = breast_cancer
    path = logitkit.save(LogisticModel().fit(X, y), tmp_path / "m.json", key="key-one")
    monkeypatch.setenv(SIGNING_KEY_ENV, "key-two")
    with pytest.raises(ArtifactError, match="signature does not match"):
        logitkit.load(path)
    monkeypatch.delenv(SIGNING_KEY_ENV)
    logitkit.load(path, key="key-one")


def test_hand_edited_file_with_recomputed_hash_is_refused_by_the_signature(
    tmp_path, breast_cancer, monkeypatch
):
    X, y = breast_cancer
    monkeypatch.setenv(SIGNING_KEY_ENV, "s3cret")
    path = LogisticModel().fit(X, y).save(tmp_path / "m.json")

    def lower_threshold(content):
        content["model"]["intercept"][0] += 1.0

    _forge(path, lower_threshold)
    with pytest.raises(ArtifactError, match="signature does not match"):
        logitkit.load(path)


def test_forged_formula_is_refused_even_with_a_valid_hash(tmp_path, mixed):
    frame, y = mixed
    model = _fit_encoded(frame, y, formula="age + np.log(debt)")
    path = model.save(tmp_path / "m.json")

    def inject(content):
        content["model"]["encoding"]["formula"]["formula"] = "1 + age + I(__import__('os'))"

    _forge(path, inject)
    with pytest.raises(ArtifactError, match="does not evaluate"):
        logitkit.load(path)


# ------------------------------------------------------- raw rows, encodings, inference
@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),
            "debt": rng.uniform(0.5, 10, n),
            "region": rng.choice(["east", "north", "south"], n),
            "member": rng.random(n) < 0.5,
        }
    )
    z = 0.06 * (frame["age"] - 50) + 0.8 * (frame["region"] == "south") - 0.2 * frame["debt"]
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-(z + 1))), "yes", "no")
    return frame, y


def _fit_encoded(frame, y, **options):
    encoder = TableEncoder(**options).fit(frame)
    model = LogisticModel().fit(encoder.transform(frame), y)
    model.encoder_ = encoder
    return model


@pytest.mark.parametrize(
    "options",
    [{}, {"impute": "median"}, {"formula": "age + C(region) + member + age:debt + bs(debt, 4)"}],
)
def test_raw_rows_round_trip_bit_for_bit(tmp_path, mixed, options):
    frame, y = mixed
    model = _fit_encoded(frame, y, **options)
    loaded = logitkit.load(model.save(tmp_path / "m.json"))
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    # One row at a time gives the same bits as the whole frame (no BLAS batch effects).
    for i in (0, 1, 199, 399):
        np.testing.assert_array_equal(
            loaded.predict_proba(frame.iloc[[i]]), model.predict_proba(frame)[[i]]
        )
    assert loaded.encoder_ is not None
    assert loaded.encoder_.to_dict() == model.encoder_.to_dict()


def test_features_are_the_raw_columns_and_encoded_features_the_model_columns(tmp_path, mixed):
    frame, y = mixed
    path = _fit_encoded(frame, y).save(tmp_path / "m.json")
    spec = json.loads(path.read_text())["model"]
    assert [(f["name"], f["type"]) for f in spec["features"]] == [
        ("age", "float"),
        ("debt", "float"),
        ("region", "category"),
        ("member", "bool"),
    ]
    assert spec["features"][2]["levels"] == ["east", "north", "south"]
    assert spec["encoded_features"] == [
        "age",
        "debt",
        "region[T.north]",
        "region[T.south]",
        "member[T.True]",
    ]
    assert len(spec["coef"][0]) == len(spec["encoded_features"])


def test_loaded_model_gives_summary_and_fit_statistics_without_rows(tmp_path, breast_cancer):
    X, y = breast_cancer
    model = LogisticModel(penalty=None).fit(X[:, :4], y)
    loaded = logitkit.load(model.save(tmp_path / "m.json"))
    pd.testing.assert_frame_equal(loaded.summary().table, model.summary().table)
    assert loaded.fit_statistics() == model.fit_statistics()
    stored = stored_summary(loaded.artifact_)
    pd.testing.assert_frame_equal(stored.table, model.summary().table)
    assert stored.header["fit_statistics"]["aic"] == model.fit_statistics()["aic"]


def test_penalised_summary_and_diagnostics_are_stored(tmp_path, breast_cancer):
    X, y = breast_cancer
    model = LogisticModel().fit(X, y)
    findings = logitkit.diagnose(model, X, y)
    path = logitkit.save(model, tmp_path / "m.json", diagnostics=findings)
    content = logitkit.load(path).artifact_
    table = stored_summary(content).table
    assert table["std_err"].isna().all()  # blank by design for a penalised fit
    assert table.loc["x0", "coef"] == model.coef_[0, 0]
    assert stored_diagnostics(content).to_list() == findings.to_list()


def test_multinomial_summary_is_stored(tmp_path):
    X, y = make_logistic(n=300, p=3, n_classes=3, seed=1)
    model = LogisticModel(penalty=None).fit(X, y)
    content = logitkit.load(model.save(tmp_path / "m.json")).artifact_
    assert content["inference"]["index"] == ["class", "term"]
    pd.testing.assert_frame_equal(stored_summary(content).table, model.summary().table)


def test_malformed_fields_fail_with_the_field(saved):
    _, path, _ = saved

    def break_encoding(content):
        content["model"]["encoded_features"] = content["model"]["encoded_features"][:-1]

    _forge(path, break_encoding)
    with pytest.raises(ArtifactError, match="malformed field"):
        logitkit.load(path)
