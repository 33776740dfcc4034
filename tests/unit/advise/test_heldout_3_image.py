"""The image side of two misses of the third held-out survey (see
tests/unit/dockerfile/test_heldout_3_missed.py): pip-compile's cache counted as pip's cache
wherever pip-tools keeps it, and two venvs of the same project shipped side by side."""

from __future__ import annotations

import pytest

from imgaudit.model import Category
from tests.conftest import AuditSpec
from tests.support.imagespec import File, ImageSpec, Layer, file
from tests.support.pyimage import distribution

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


SITE = "lib/python3.12/site-packages"
DEPS = {"fastapi": ("0.115.0", 9000), "starlette": ("0.38.6", 7000), "pydantic": ("2.9.2", 12000)}


def venv_layer(venv: str, deps: dict[str, tuple[str, int]], created_by: str, project: bool = False) -> Layer:
    site = f"{venv}/{SITE}"
    entries = [File(f"{venv}/pyvenv.cfg", b"home = /usr/local/bin\nversion_info = 3.12.7\n")]
    for name, (version, size) in deps.items():
        entries += distribution(site, name, version, {f"{name}/__init__.py": size}, installer="uv")
    if project:  # uv installs the project itself, editable: a .pth and its dist-info
        entries += distribution(site, "app", "0.1.0", {"_app.pth": 20}, installer="uv")
    return Layer(entries, f"/bin/sh -c {created_by}")


def two_venvs(
    first: str = ".venv",
    deps: dict[str, tuple[str, int]] = DEPS,
    path: str = "/app/.venv/bin:",
    second: dict[str, tuple[str, int]] = DEPS,
) -> ImageSpec:
    layers = [
        base_layer(),
        Layer([file("bin/uv", 40000)], "/bin/sh -c #(nop) COPY multi:ab12 in /bin/ "),
        Layer(
            [file("pyproject.toml", 200), file("uv.lock", 900)], "/bin/sh -c #(nop) COPY multi:cd34 in ./ "
        ),
        venv_layer(first, deps, "uv sync --frozen --no-dev --no-install-project"),
        Layer(
            [file("app/pyproject.toml", 200), file("app/app/main.py", 800)],
            "/bin/sh -c #(nop) COPY dir:ef56 in . ",
        ),
        venv_layer("app/.venv", second, "uv sync --frozen --no-dev", project=True),
    ]
    return ImageSpec(
        layers=layers,
        history=[(layer.created_by, False) for layer in layers],
        workdir="/app",
        env={"PATH": f"{path}/usr/local/bin:/usr/bin:/bin"},
    )


def venv_bytes(report_environments: object, path: str) -> int:
    return next(e.bytes for e in report_environments if e.path == path)  # type: ignore[attr-defined]


@pytest.mark.parametrize("first", [".venv", "build/.venv"])
def test_a_second_venv_of_the_same_distributions_is_reported(audit_spec: AuditSpec, first: str) -> None:
    report = audit_spec(two_venvs(first))
    (found,) = [f for f in report.findings if f.id == "duplicate-venv"]
    # The venv the app does not run from (its distributions all in /app/.venv) is what goes.
    assert found.estimated_savings_bytes == venv_bytes(report.environments, f"/{first}")
    assert f"/{first}" in found.title and "/app/.venv" in found.title
    assert found.evidence.layers == (3,)
    assert "WORKDIR" in found.fix.text


def test_the_venv_on_path_stays_when_both_hold_the_same(audit_spec: AuditSpec) -> None:
    spec = two_venvs(path="/.venv/bin:")
    spec.layers[-1] = venv_layer("app/.venv", DEPS, "uv sync --frozen --no-dev")  # no project install
    report = audit_spec(spec)
    (found,) = [f for f in report.findings if f.id == "duplicate-venv"]
    assert found.estimated_savings_bytes == venv_bytes(report.environments, "/app/.venv")


@pytest.mark.parametrize(
    "deps",
    [
        # Another project's venv (a monorepo's worker): other distributions.
        {"celery": ("5.4.0", 30000), "redis": ("5.1.0", 9000), "kombu": ("5.4.2", 8000)},
        # A tool's small venv whose one distribution the app has too: not the same set.
        {"pydantic": ("2.9.2", 12000)},
        # The same names at other versions.
        {name: ("0.0.1", size) for name, (_version, size) in DEPS.items()},
    ],
)
def test_venvs_of_other_distributions_are_no_finding(
    audit_spec: AuditSpec, deps: dict[str, tuple[str, int]]
) -> None:
    report = audit_spec(two_venvs("opt/worker/.venv", deps))
    assert [f for f in report.findings if f.id == "duplicate-venv"] == []


def test_venvs_that_share_only_their_seed_are_no_finding(audit_spec: AuditSpec) -> None:
    # `python -m venv` twice: pip and setuptools in both, nothing of a project in common.
    seeds = {"pip": ("24.2", 9000), "setuptools": ("75.1.0", 12000)}
    report = audit_spec(two_venvs("opt/tools", seeds, second={**seeds, "fastapi": DEPS["fastapi"]}))
    assert [f for f in report.findings if f.id == "duplicate-venv"] == []
