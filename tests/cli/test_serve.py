"""``logitkit serve`` as a user runs it: refusals before serving, and a real start and stop."""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path

import httpx
import pytest
from benchmarks.serve_load import ServerProcess, free_port
from typer.testing import CliRunner

from logitkit.cli import app

runner = CliRunner()
KEY = "cli-test-key-0123456789"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serve") / "model.json"
    result = runner.invoke(app, ["train", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_help_lists_the_endpoints():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "/v1/predict" in result.output
    assert "--allow-no-auth" in result.output


def test_a_public_host_without_keys_is_refused(model, monkeypatch):
    monkeypatch.delenv("LOGITKIT_API_KEYS", raising=False)
    result = runner.invoke(app, ["serve", str(model), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "Refusing to serve 0.0.0.0 without API keys" in result.output
    assert "--allow-no-auth" in result.output


def test_short_keys_and_missing_files_are_refused(model, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGITKIT_API_KEYS", "short")
    result = runner.invoke(app, ["serve", str(model)])
    assert result.exit_code == 2
    assert "at least 16" in result.output
    monkeypatch.delenv("LOGITKIT_API_KEYS")
    result = runner.invoke(
        app, ["serve", str(model), "--api-keys-file", str(tmp_path / "none.txt")]
    )
    assert result.exit_code == 2
    assert "Cannot read the API key file" in result.output


def test_a_tampered_model_is_refused_with_one_line(model, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(model.read_text().replace('"benign"', '"harmless"', 1))
    result = runner.invoke(app, ["serve", str(bad)])
    assert result.exit_code == 2
    assert "integrity" in result.output
    assert "Traceback" not in result.output


def test_without_the_extra_it_says_what_to_install(model, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a)
    )
    result = runner.invoke(app, ["serve", str(model)])
    assert result.exit_code == 2
    assert "install logitkit[serve]" in result.output


def test_serves_with_a_key_file_and_stops_cleanly_on_sigterm(model, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# the API keys\n{KEY}\n")
    port = free_port()
    server = ServerProcess.logitkit(
        model,
        port,
        "--db",
        f"sqlite:///{tmp_path / 'log.db'}",
        "--api-keys-file",
        str(keys),
        "--grace-period",
        "5",
    )
    with server:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/health/ready").status_code == 200
            assert client.get("/v1/model").status_code == 401
            assert (
                client.get("/v1/model", headers={"Authorization": f"Bearer {KEY}"}).status_code
                == 200
            )
        server.signal(signal.SIGTERM)
        assert server.wait(10) == 0


def test_host_and_port_come_from_the_environment_unless_given(model, monkeypatch):
    from logitkit.serve import server

    seen = []
    monkeypatch.setattr(server, "run", lambda settings, **_: seen.append(settings))
    monkeypatch.setenv("LOGITKIT_API_KEYS", "k" * 24)
    monkeypatch.setenv("LOGITKIT_HOST", "127.0.0.2")
    monkeypatch.setenv("LOGITKIT_PORT", "8123")
    assert runner.invoke(app, ["serve", str(model)]).exit_code == 0
    assert (seen[-1].host, seen[-1].port) == ("127.0.0.2", 8123)
    result = runner.invoke(app, ["serve", str(model), "--host", "127.0.0.3", "--port", "9000"])
    assert result.exit_code == 0
    assert (seen[-1].host, seen[-1].port) == ("127.0.0.3", 9000)
