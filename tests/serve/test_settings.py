"""Settings from the environment, keys, and the refusal to serve a public host without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from logitkit.serve.runtime import Keyring
from logitkit.serve.settings import Settings, is_loopback, read_keys

KEY = "k" * 20


def test_environment_and_overrides(tmp_path: Path):
    keys = tmp_path / "keys"
    keys.write_text(f"# ops\n{'a' * 16}, {'b' * 16}\n\n")
    env = {
        "LOGITKIT_MODEL": "m.json",
        "LOGITKIT_DB_URL": "postgresql+psycopg://u@h/db",
        "LOGITKIT_API_KEYS": KEY,
        "LOGITKIT_API_KEYS_FILE": str(keys),
        "LOGITKIT_MAX_BODY_BYTES": "2048",
        "LOGITKIT_REQUEST_TIMEOUT_S": "2.5",
        "LOGITKIT_ALLOW_NO_AUTH": "yes",
    }
    s = Settings.from_env(env, port=9000, max_batch=None)
    assert s.model_path == Path("m.json")
    assert s.db_url.startswith("postgresql")
    assert s.api_keys == (KEY, "a" * 16, "b" * 16)
    assert (s.max_body_bytes, s.request_timeout_s, s.allow_no_auth, s.port) == (
        2048,
        2.5,
        True,
        9000,
    )
    assert s.max_batch == 10_000
    assert s.name == "m"
    assert KEY not in repr(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "No model given"),
        ({"LOGITKIT_MODEL": "m", "LOGITKIT_PORT": "eighty"}, "'port' setting"),
        (
            {"LOGITKIT_MODEL": "m", "LOGITKIT_MAX_BATCH": "0"},
            "'max_batch' setting must be an int in [1, inf)",
        ),
        ({"LOGITKIT_MODEL": "m", "LOGITKIT_API_KEYS": "short"}, "at least 16"),
        ({"LOGITKIT_MODEL": "m", "LOGITKIT_DB_SYNCHRONOUS": "off"}, "'full', 'normal'"),
        ({"LOGITKIT_MODEL": "m", "LOGITKIT_DB_TABLE_PREFIX": "x; drop"}, "db_table_prefix"),
        ({"LOGITKIT_MODEL": "m", "LOGITKIT_ALLOW_NO_AUTH": "maybe"}, "true or false"),
    ],
)
def test_bad_settings_say_what_to_do(env, message):
    with pytest.raises(
        ValueError, match=message.replace("[", r"\[").replace(")", r"\)").replace("(", r"\(")
    ):
        Settings.from_env(env)


def test_exposure_rules():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host)
        Settings(model_path=Path("m"), host=host).check_exposure()
    for host in ("0.0.0.0", "10.0.0.1", "example.org", "::"):
        assert not is_loopback(host)
        with pytest.raises(ValueError, match="Refusing"):
            Settings(model_path=Path("m"), host=host).check_exposure()
        Settings(model_path=Path("m"), host=host, api_keys=(KEY,)).check_exposure()
        Settings(model_path=Path("m"), host=host, allow_no_auth=True).check_exposure()


def test_keyring_compares_every_key():
    ring = Keyring([KEY, "z" * 32])
    assert ring.check(KEY)
    assert ring.check("z" * 32)
    for wrong in (KEY[:-1], "", KEY + "x"):
        assert not ring.check(wrong)
    assert not Keyring([])


def test_unreadable_key_file(tmp_path: Path):
    with pytest.raises(ValueError, match="Cannot read the API key file"):
        read_keys(tmp_path / "missing")


def test_precedence_is_command_line_then_environment_then_file(tmp_path: Path):
    config = tmp_path / "serve.toml"
    config.write_text(
        'model_path = "from-file.json"\nport = 9001\nmax_batch = 50\nmax_in_flight = 7\n'
        "docs_public = true\n"
    )
    env = {"LOGITKIT_PORT": "9002", "LOGITKIT_MAX_BATCH": "60", "LOGITKIT_CONFIG": str(config)}
    s = Settings.from_env(env, port=9003, max_in_flight=None)
    assert (s.port, s.max_batch, s.max_in_flight) == (9003, 60, 7)
    assert s.model_path == Path("from-file.json")
    assert s.docs_public is True
    assert s.metrics_public is True
    assert s.max_body_bytes == 16 << 20  # the default, given nowhere
    # --config (config_file) wins over LOGITKIT_CONFIG.
    other = tmp_path / "other.toml"
    other.write_text('model_path = "other.json"\n')
    assert Settings.from_env(env, config_file=other).model_path == Path("other.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('model_path = "m"\nmax_bach = 5\n', "Unknown setting 'max_bach'"),
        ('model_path = "m"\nport = "eighty"\n', "'port' setting"),
        ('model_path = "m"\nheader_timeout_s = 0\n', "'header_timeout_s' setting must be"),
        ("model_path = [", "serve.toml"),
    ],
)
def test_bad_settings_files_name_the_setting(tmp_path: Path, text, message):
    config = tmp_path / "serve.toml"
    config.write_text(text)
    with pytest.raises(ValueError, match=message):
        Settings.from_env({}, config_file=config)


def test_a_missing_settings_file_is_an_error():
    with pytest.raises(ValueError, match="does not exist"):
        Settings.from_env({"LOGITKIT_CONFIG": "/nonexistent/serve.toml"})


def test_new_fields_read_their_environment_variables():
    env = {
        "LOGITKIT_MODEL": "m.json",
        "LOGITKIT_DOCS_PUBLIC": "true",
        "LOGITKIT_METRICS_PUBLIC": "0",
        "LOGITKIT_MAX_HEADER_BYTES": "4096",
        "LOGITKIT_HEADER_TIMEOUT_S": "2.5",
        "LOGITKIT_MAX_CONNECTIONS": "50",
        "LOGITKIT_ALLOW_SCHEMA_CHANGE": "yes",
        "LOGITKIT_WORKERS": "3",
        "LOGITKIT_CANARY_TIMEOUT_S": "1.5",
    }
    s = Settings.from_env(env)
    assert (s.docs_public, s.metrics_public, s.allow_schema_change) == (True, False, True)
    assert (s.max_header_bytes, s.header_timeout_s, s.max_connections) == (4096, 2.5, 50)
    assert (s.workers, s.canary_timeout_s) == (3, 1.5)


def test_settings_built_directly_read_no_environment(monkeypatch):
    monkeypatch.setenv("LOGITKIT_PORT", "9999")
    monkeypatch.setenv("LOGITKIT_API_KEYS", KEY)
    s = Settings(model_path=Path("m"))
    assert (s.port, s.api_keys) == (8000, ())
    assert s.with_(port=9000).port == 9000
    with pytest.raises(ValueError, match="'port' setting must be an int in"):
        s.with_(port=-1)


def test_serve_reads_its_config_file_and_says_what_is_wrong(tmp_path: Path):
    from typer.testing import CliRunner

    from logitkit.cli import app as cli

    config = tmp_path / "serve.toml"
    config.write_text("max_connections = 0\n")
    result = CliRunner().invoke(cli, ["serve", "m.json", "--config", str(config)], env={})
    assert result.exit_code == 2
    assert "'max_connections' setting must be an int in [1, inf)" in " ".join(result.output.split())


@pytest.mark.parametrize(("value", "on"), [(None, False), ("1", True), ("false", False)])
def test_fastapi_native_telemetry_follows_the_otel_setting(demo_model: Path, tmp_path, value, on):
    """FastAPI's per-request OpenTelemetry check runs only when asked for (LOGITKIT_OTEL)."""
    from logitkit.serve import create_app

    env = {"LOGITKIT_MODEL": str(demo_model), "LOGITKIT_DB_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    if value is not None:
        env["LOGITKIT_OTEL"] = value
    settings = Settings.from_env(env)
    assert settings.otel is on
    config = create_app(settings)._telemetry  # FastAPI's own record of the switches
    assert (config["tracing"], config["metrics"], config["logs"]) == (on, on, on)
