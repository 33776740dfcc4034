"""Shared fixtures: build an image from a spec, audit it through the public API."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from imgaudit.audit import AuditOptions, audit
from imgaudit.model import Report
from imgaudit.sources.archive import open_path
from tests.support.imagespec import ImageSpec, write_image

AuditSpec = Callable[..., Report]

# The suite never touches the user's layer analysis cache: it is off (every test reads every
# layer, as the tests were written), and points at a temporary directory for tests that turn
# it on (`layer_cache`), their subprocesses included.
os.environ["IMGAUDIT_NO_CACHE"] = "1"
os.environ["IMGAUDIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="imgaudit-test-cache-")
atexit.register(shutil.rmtree, os.environ["IMGAUDIT_CACHE_DIR"], ignore_errors=True)


@pytest.fixture
def layer_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The layer analysis cache turned on, in a directory of this test's own."""
    directory = tmp_path / "layer-cache"
    monkeypatch.delenv("IMGAUDIT_NO_CACHE")
    monkeypatch.setenv("IMGAUDIT_CACHE_DIR", str(directory))
    return directory


def audit_path(path: Path, image: str | None = None, platform: str | None = None) -> Report:
    warnings: list[str] = []
    with open_path(path, image, platform, warnings.append) as source:
        return audit(source, AuditOptions())


@pytest.fixture
def audit_spec(tmp_path: Path) -> AuditSpec:
    """Write `spec` as an archive (any layout/compression) and audit it."""
    counter = iter(range(1_000_000))

    def run(spec: ImageSpec, layout: str = "docker-classic", compression: str = "none") -> Report:
        suffix = "" if layout == "oci-layout" else ".tar"
        path = tmp_path / f"image-{next(counter)}{suffix}"
        write_image(spec, path, layout, compression)
        return audit_path(path)

    return run
