"""The JSON artifact: exact round trip, and loud failure on anything not as written."""

from __future__ import annotations

import json

import numpy as np
import pytest

import logitkit
from logitkit import ArtifactError, LogisticModel
from tests.helpers import make_logistic


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
