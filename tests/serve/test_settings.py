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
