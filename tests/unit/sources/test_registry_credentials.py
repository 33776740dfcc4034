from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from imgaudit.errors import SourceError
from imgaudit.sources.registry.credentials import Credentials, docker_config_path, from_docker_config


def _config(tmp_path: Path, content: dict[str, object]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    return path


def _helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, script: str) -> Path:
    """A real `docker-credential-NAME` executable on PATH, speaking the helper protocol."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    helper = bin_dir / f"docker-credential-{name}"
    helper.write_text("#!/bin/sh\n" + script)
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return helper


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_auths_entry(tmp_path: Path) -> None:
    path = _config(
        tmp_path, {"auths": {"https://reg.example.com:5000": {"auth": _auth("bob", "pw:with:colons")}}}
    )
    assert from_docker_config("reg.example.com:5000", path) == Credentials("bob", "pw:with:colons")
    assert from_docker_config("other.example.com", path) is None


def test_docker_hub_key(tmp_path: Path) -> None:
    path = _config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": _auth("hubuser", "hubpw")}}})
    assert from_docker_config("docker.io", path) == Credentials("hubuser", "hubpw")


def test_missing_config_is_no_credentials(tmp_path: Path) -> None:
    assert from_docker_config("reg.example.com", tmp_path / "absent.json") is None


def test_unreadable_auth_never_echoes_it(tmp_path: Path) -> None:
    path = _config(tmp_path, {"auths": {"reg.example.com": {"auth": "!!not-base64-secret!!"}}})
    with pytest.raises(SourceError) as caught:
        from_docker_config("reg.example.com", path)
    assert "secret" not in str(caught.value)


def test_cred_helper_for_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The helper reads the server URL on stdin and answers with JSON.
    _helper(
        tmp_path,
        monkeypatch,
        "fake",
        'read server\n[ "$1" = get ] || exit 3\n'
        'printf \'{"ServerURL":"%s","Username":"helped","Secret":"from-helper"}\' "$server"\n',
    )
    path = _config(tmp_path, {"credHelpers": {"reg.example.com": "fake"}, "auths": {}})
    assert from_docker_config("reg.example.com", path) == Credentials("helped", "from-helper")


def test_creds_store_after_auths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _helper(tmp_path, monkeypatch, "store", 'echo \'{"Username":"stored","Secret":"store-pw"}\'\n')
    path = _config(
        tmp_path,
        {"credsStore": "store", "auths": {"direct.example.com": {"auth": _auth("direct", "pw")}}},
    )
    assert from_docker_config("direct.example.com", path) == Credentials("direct", "pw")
    assert from_docker_config("other.example.com", path) == Credentials("stored", "store-pw")


def test_helper_without_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _helper(tmp_path, monkeypatch, "empty", "echo 'credentials not found in native keychain'\nexit 1\n")
    path = _config(tmp_path, {"credsStore": "empty"})
    assert from_docker_config("reg.example.com", path) is None


def test_identity_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _helper(tmp_path, monkeypatch, "idp", 'echo \'{"Username":"<token>","Secret":"refresh-me"}\'\n')
    path = _config(tmp_path, {"credsStore": "idp"})
    found = from_docker_config("reg.example.com", path)
    assert found is not None and found.identity_token and found.password == "refresh-me"


def test_failing_and_missing_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _helper(tmp_path, monkeypatch, "broken", "echo 'secret-ish output' >&2\nexit 2\n")
    with pytest.raises(SourceError, match=r"docker-credential-broken failed \(exit 2\)") as caught:
        from_docker_config("reg.example.com", _config(tmp_path, {"credsStore": "broken"}))
    assert "secret-ish" not in str(caught.value)
    with pytest.raises(SourceError, match="docker-credential-nonesuch is not on PATH"):
        from_docker_config("reg.example.com", _config(tmp_path, {"credsStore": "nonesuch"}))


def test_config_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_config_path() == tmp_path / "config.json"
