"""The image side of two misses of the third held-out survey (see
tests/unit/dockerfile/test_heldout_3_missed.py): pip-compile's cache counted as pip's cache
wherever pip-tools keeps it, and two venvs of the same project shipped side by side."""

from __future__ import annotations

import pytest

from imgaudit.model import Category
from tests.conftest import AuditSpec
from tests.support.imagespec import File, ImageSpec, Layer, file

PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"


def base_layer() -> Layer:
    return Layer([File("etc/passwd", PASSWD), file("usr/bin/python3.12", 6000)], "ADD rootfs.tar /")


@pytest.mark.parametrize(
    ("env", "cache"),
    [
        ({}, "root/.cache/pip-tools"),
        ({"PIP_TOOLS_CACHE_DIR": "/opt/pt-cache"}, "opt/pt-cache"),
        ({"XDG_CACHE_HOME": "/var/cache/xdg"}, "var/cache/xdg/pip-tools"),
    ],
)
def test_pip_tools_cache_is_pips_cache(audit_spec: AuditSpec, env: dict[str, str], cache: str) -> None:
    # pip-compile keeps downloaded packages (pkgs/), wheels it built and its dependency cache.
    compiled = Layer(
        [
            file(f"{cache}/pkgs/django-5.0.tar.gz", 9000),
            file(f"{cache}/wheels/ab/cd/x-1.0-py3-none-any.whl", 700),
            file(f"{cache}/depcache-cp3.12.json", 300),
            file("app/requirements.txt", 50),
        ],
        "/bin/sh -c pip-compile requirements.in",
    )
    spec = ImageSpec(
        layers=[base_layer(), compiled],
        history=[(base_layer().created_by, False), (compiled.created_by, False)],
        env={"PATH": "/usr/bin:/bin", **env},
    )
    report = audit_spec(spec)
    assert report.categories[Category.PIP_CACHE] == 10000
    assert sum(report.categories.values()) == report.final_bytes
    found = next(f for f in report.findings if f.id == "pip-cache-in-layer")
    assert found.estimated_savings_bytes == 10000
    assert "pip-tools" in found.fix.text and "pip-compile" in found.fix.text
