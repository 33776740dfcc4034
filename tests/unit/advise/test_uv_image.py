"""A naive uv image as a spec: uv pip-installed (or copied as a bare binary), `uv sync` with its
dev group, and uv's cache hard-linked into the venv. Every figure is a sum of the spec's sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.model import Category, Report
from tests.conftest import AuditSpec
from tests.support.imagespec import File, Hardlink, ImageSpec, Layer, file
from tests.support.pyimage import distribution

LOCKS = Path(__file__).parents[2] / "assets" / "locks" / "uv"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"
SYSTEM = "usr/local/lib/python3.11/site-packages"
CACHE = "root/.cache/uv"
CACHE_ONLY = {f"{CACHE}/simple-v16/pypi/click.rkyv": 500, f"{CACHE}/sdists-v9/.gitignore": 1}
UV_DIST = {"uv/__init__.py": 300, "uv/__main__.py": 200, "../../../bin/uv": 30000, "../../../bin/uvx": 900}


def venv_layer(venv: str, cache_first: bool) -> Layer:
    """`uv sync`: the venv's files are hard links of the cache's unpacked wheels."""
    site = f"{venv}/lib/python3.11/site-packages"
    dists = [
        distribution(site, "click", "8.1.7", {"click/core.py": 8000}, installer="uv"),
        distribution(site, "idna", "3.7", {"idna/core.py": 3000}, installer="uv"),
        distribution(site, "pytest", "8.0.0", {"pytest/__init__.py": 5000}, ["pluggy"], installer="uv"),
        distribution(site, "pluggy", "1.5.0", {"pluggy/__init__.py": 2000}, installer="uv"),
    ]
    entries: list[File | Hardlink] = [File(f"{venv}/pyvenv.cfg", b"home = /usr/bin\nversion_info = 3.11.2\n")]
    links: list[File | Hardlink] = []
    for files in dists:
        for entry in files:
            name = entry.path.split("site-packages/", 1)[1]
            cached = f"{CACHE}/archive-v0/h{len(links)}/{name}"
            if cache_first:  # the cache's path comes first in the tar: it carries the bytes
                links += [File(cached, entry.data), Hardlink(entry.path, cached)]
            else:
                links += [entry, Hardlink(cached, entry.path)]
    return Layer([*entries, *links, *(file(p, s) for p, s in CACHE_ONLY.items())], "/bin/sh -c uv sync")


def uv_image(venv: str = "app/.venv", *, cache_first: bool = False, copied_binary: bool = False) -> ImageSpec:
    tool = (
        Layer([file("bin/uv", 40000), file("bin/uvx", 800)], "/bin/sh -c #(nop) COPY multi:ab12 in /bin/ ")
        if copied_binary
        else Layer(distribution(SYSTEM, "uv", "0.5.0", UV_DIST), "/bin/sh -c pip install uv")
    )
    project = Layer(
        [
            File("app/pyproject.toml", (LOCKS / "pyproject.toml").read_bytes()),
            File("app/uv.lock", (LOCKS / "uv.lock").read_bytes()),
            file("app/lockdemo/__init__.py", 700),
        ],
        "/bin/sh -c #(nop) COPY dir:0123 in /app ",
    )
    base = Layer([File("etc/passwd", PASSWD), file("usr/bin/python3.11", 6000)], "ADD rootfs.tar /")
    layers = [base, tool, project, venv_layer(venv, cache_first)]
    return ImageSpec(
        layers=layers,
        history=[(layer.created_by, False) for layer in layers],
        workdir="/app",
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
    )


def finding(report: Report, finding_id: str) -> tuple[int, tuple[str, ...]]:
    found = next(f for f in report.findings if f.id == finding_id)
    return found.estimated_savings_bytes, found.evidence.details


@pytest.mark.parametrize(("venv", "cache_first"), [("app/.venv", False), ("srv/.venv", True)])
def test_uv_cache_counts_only_what_it_alone_holds(
    audit_spec: AuditSpec, venv: str, cache_first: bool
) -> None:
    report = audit_spec(uv_image(venv, cache_first=cache_first))
    assert report.categories[Category.UV_CACHE] == sum(CACHE_ONLY.values())
    assert sum(report.categories.values()) == report.final_bytes
    env = next(e for e in report.environments if e.path == f"/{venv}")
    # The venv carries its files' bytes wherever the tar put them first.
    assert sum(d.bytes for d in env.distributions) >= 8000 + 3000 + 5000 + 2000
    saved, details = finding(report, "uv-cache-in-layer")
    assert saved == sum(CACHE_ONLY.values())
    assert any("hard links into /" + venv in d for d in details), details


def test_dev_group_from_uv_lock_and_uv_is_toolchain(audit_spec: AuditSpec) -> None:
    report = audit_spec(uv_image())
    assert report.dev_dependencies is not None
    assert report.dev_dependencies.format == "uv"
    env = next(e for e in report.environments if e.path == "/app/.venv")
    assert {d.name for d in env.distributions if d.dev_only} == {"pytest", "pluggy"}
    dev = next(f for f in report.findings if f.id == "dev-dependencies-installed")
    assert dev.evidence.packages == ("pluggy==1.5.0", "pytest==8.0.0")
    assert "uv sync --locked --no-dev" in dev.fix.dockerfile
    system = next(e for e in report.environments if e.path.startswith(f"/{SYSTEM}"))
    (uv,) = system.distributions
    assert uv.toolchain and uv.name == "uv"
    assert report.categories[Category.PYTHON_TOOLCHAIN] == uv.bytes >= sum(UV_DIST.values())
    assert "uv-cache-in-layer" in {s for step in report.plan.steps for s in step.finding_ids}  # type: ignore[union-attr]


def test_uv_copied_from_its_image_is_toolchain(audit_spec: AuditSpec) -> None:
    report = audit_spec(uv_image(copied_binary=True))
    assert report.categories[Category.PYTHON_TOOLCHAIN] == 40000 + 800
    assert report.categories[Category.APP] == 700 + len((LOCKS / "pyproject.toml").read_bytes()) + len(
        (LOCKS / "uv.lock").read_bytes()
    )


@pytest.mark.parametrize(
    ("env", "cache", "category", "finding_id"),
    [
        ({}, "root/.cache/uv", Category.UV_CACHE, "uv-cache-in-layer"),
        ({"UV_CACHE_DIR": "/opt/uv-cache"}, "opt/uv-cache", Category.UV_CACHE, "uv-cache-in-layer"),
        ({"XDG_CACHE_HOME": "/var/cache/xdg"}, "var/cache/xdg/uv", Category.UV_CACHE, "uv-cache-in-layer"),
        ({}, "root/.cache/pdm", Category.PDM_CACHE, "pdm-cache-in-layer"),
        ({"PDM_CACHE_DIR": "/tmp/pdm"}, "tmp/pdm", Category.PDM_CACHE, "pdm-cache-in-layer"),
        ({}, "root/.cache/pipenv", Category.PIPENV_CACHE, "pipenv-cache-in-layer"),
        (
            {"PIPENV_CACHE_DIR": "/cache/pipenv"},
            "cache/pipenv",
            Category.PIPENV_CACHE,
            "pipenv-cache-in-layer",
        ),
    ],
)
def test_each_tool_cache_wherever_env_puts_it(
    audit_spec: AuditSpec, env: dict[str, str], cache: str, category: Category, finding_id: str
) -> None:
    base = Layer([File("etc/passwd", PASSWD), file("usr/bin/python3.11", 6000)], "ADD rootfs.tar /")
    filled = Layer(
        [file(f"{cache}/http/ab/cd", 4000), file(f"{cache}/wheels/x.whl", 600)], "/bin/sh -c install"
    )
    spec = ImageSpec(
        layers=[base, filled],
        history=[(base.created_by, False), (filled.created_by, False)],
        env={"PATH": "/usr/bin:/bin", **env},
    )
    report = audit_spec(spec)
    assert report.categories[category] == 4600
    assert sum(report.categories.values()) == report.final_bytes
    assert finding(report, finding_id)[0] == 4600
