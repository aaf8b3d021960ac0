"""Settings: defaults, file + environment overlay, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[3]


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config/hotline.toml here
    s = load_settings(None, {})
    assert s.ari.app == "hotline"
    assert s.ari.password == "", "no working secret by default"
    assert s.web.secret_key == ""


def test_shipped_config_is_valid_and_has_no_secrets() -> None:
    path = REPO / "config" / "hotline.toml"
    s = load_settings(path, {})
    assert s.ari.password == ""
    assert "password" not in path.read_text().replace("ari.password", "")


def test_environment_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text('[ari]\nurl = "http://10.0.0.1:8088"\nping_interval = 3\n')
    s = load_settings(cfg, {"HOTLINE_ARI_PING_INTERVAL": "1.5", "HOTLINE_ARI_PASSWORD": "pw"})
    assert s.ari.url == "http://10.0.0.1:8088"
    assert s.ari.ping_interval == 1.5
    assert s.ari.password == "pw"


def test_bad_value_names_file_line_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text('[node]\nname = "n1"\n\n[ari]\nusername = "x"\nping_interval = -1\n')
    with pytest.raises(SettingsError) as err:
        load_settings(cfg, {})
    message = str(err.value)
    assert message.startswith(f"{cfg}:6: ari.ping_interval: ")
    assert "greater than 0" in message
    assert "\n" not in message


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text("[database]\nurll = 'sqlite:///x'\n")
    with pytest.raises(SettingsError, match=r":2: database\.urll: unknown setting"):
        load_settings(cfg, {})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^environment HOTLINE_DATABASE_URL: database\.url"):
        load_settings(None, {"HOTLINE_DATABASE_URL": "mysql://x"})


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text("[ari\nurl=1\n")
    with pytest.raises(SettingsError, match=r"not valid TOML"):
        load_settings(cfg, {})


def test_missing_password_is_reported_for_run() -> None:
    s = load_settings(None, {})
    with pytest.raises(SettingsError, match=r"^ari\.password: required"):
        s.require_ari_password()
