"""Nothing unsigned or out of range decides: policy files and policies inside artifacts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from logitkit import ThresholdPolicy
from logitkit.artifact import write_content, write_policy
from logitkit.cli import app as cli
from logitkit.data.demo import load_demo
from logitkit.exceptions import ArtifactError
from logitkit.serve import Settings, create_app

KEY = "policy-signing-key-0123456789"


def _app(model, policy, tmp_path):
    settings = Settings(
        model_path=model, policy_path=policy, db_url=f"sqlite:///{tmp_path / 'l.db'}"
    )
    return create_app(settings)


@pytest.fixture
def signed_model(demo_model, tmp_path, monkeypatch):
    """The demo artifact, signed with KEY, and the key set as a deployment would."""
    monkeypatch.setenv("LOGITKIT_SIGNING_KEY", KEY)
    path = tmp_path / "signed.json"
    write_content(json.loads(demo_model.read_text()), path)  # signed with the key now set
    return path


def test_an_unsigned_policy_file_is_refused_while_a_key_is_set(signed_model, tmp_path):
    unsigned = tmp_path / "p.json"
    unsigned.write_text(json.dumps(ThresholdPolicy.fixed(0.9, positive="malignant").to_dict()))
    with pytest.raises(ArtifactError, match="integrity check"):
        _app(signed_model, unsigned, tmp_path)
    hashed_only = tmp_path / "hashed.json"
    write_policy(ThresholdPolicy.fixed(0.9, positive="malignant"), hashed_only, key="other-key")
    with pytest.raises(ArtifactError, match="signature"):
        _app(signed_model, hashed_only, tmp_path)
    signed = tmp_path / "signed-policy.json"
    write_policy(ThresholdPolicy.fixed(0.9, positive="malignant"), signed)  # key from env
    app = _app(signed_model, signed, tmp_path)
    assert app.state.runtime.predictor.rule.threshold == 0.9
    # Edited after signing: refused.
    content = json.loads(signed.read_text())
    content["threshold"] = 0.1
    signed.write_text(json.dumps(content))
    with pytest.raises(ArtifactError):
        _app(signed_model, signed, tmp_path)


@pytest.mark.parametrize("threshold", [5.0, -0.1, "0.5", True])
def test_a_threshold_outside_zero_one_is_refused_even_in_a_valid_artifact(
    demo_model, tmp_path, threshold
):
    content = json.loads(demo_model.read_text())
    content["policy"]["threshold"] = threshold
    path = tmp_path / "m.json"
    write_content(content, path)  # hash-valid, so only the range check can refuse it
    with pytest.raises(ArtifactError, match="not a probability"):
        _app(path, None, tmp_path)


def test_a_policy_without_a_type_is_refused_not_replaced_by_one_half(demo_model, tmp_path):
    policy = ThresholdPolicy.fixed(0.9, positive="malignant").to_dict()
    del policy["type"]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(policy))
    with pytest.raises(ArtifactError, match="no 'type'"):
        _app(demo_model, path, tmp_path)


def test_threshold_writes_a_signed_policy_file_that_serve_accepts(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGITKIT_SIGNING_KEY", KEY)
    model, rows = tmp_path / "m.json", tmp_path / "demo.csv"
    load_demo().to_csv(rows, index=False)
    trained = CliRunner().invoke(
        cli, ["train", "--test-size", "0.3", "--no-report", "-q", "--out", str(model)]
    )
    assert trained.exit_code == 0, trained.output
    policy = tmp_path / "p.json"
    # The training rows in demo.csv are left out; the held-out ones choose the policy.
    args = ["threshold", str(model), str(rows), "--threshold", "0.4"]
    result = CliRunner().invoke(cli, [*args, "--policy-out", str(policy)])
    assert result.exit_code == 0, result.output
    assert json.loads(policy.read_text())["signature"]["algorithm"] == "HMAC-SHA256"
    assert _app(model, policy, tmp_path).state.runtime.predictor.rule.threshold == 0.4
