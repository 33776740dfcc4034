"""A naive Poetry image, built for real: Poetry installed globally with pip, `poetry install`
with dev dependencies, default cache and venv location. imgaudit's dev-only packages, pip/Poetry
toolchain, Poetry cache and runtime venv must match figures computed independently inside the
container (Python walking RECORD files and the filesystem with os.stat) within 1 %.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from tests.integration.conftest import POETRY_PRELUDE, Engine

pytestmark = pytest.mark.integration

LOCKS = Path(__file__).parent.parent / "assets" / "locks" / "poetry-2"
TAG = "imgaudit-test/naive-poetry:latest"
# From the lock: pytest and what only it pulls in; packaging is needed by main too.
EXPECTED_DEV_ONLY = {"pytest", "iniconfig", "pluggy", "pygments"}
MAIN = {"six", "idna", "packaging"}

DOCKERFILE = (
    POETRY_PRELUDE
    + """\
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --no-root --no-interaction
COPY measure.py app.py ./
"""
)

# Runs inside the container: sizes by os.stat, file lists from RECORD, nothing from imgaudit.
MEASURE = r"""
import csv, glob, json, os, sys

def record_bytes(dist_info):
    site = os.path.dirname(dist_info)
    total, seen = 0, set()
    with open(os.path.join(dist_info, "RECORD"), newline="") as handle:
        for row in csv.reader(handle):
            path = os.path.normpath(os.path.join(site, row[0]))
            if row and path not in seen and os.path.isfile(path) and not os.path.islink(path):
                seen.add(path)
                total += os.stat(path).st_size
    return total

def tree_bytes(root, skip=None):
    total = 0
    for directory, dirs, files in os.walk(root):
        if skip and directory == skip:
            dirs[:] = []
            continue
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                total += os.stat(path).st_size
    return total

def dists(site):
    found = {}
    for info in glob.glob(os.path.join(site, "*.dist-info")):
        with open(os.path.join(info, "METADATA"), encoding="utf-8") as handle:
            name = next(l.split(":", 1)[1].strip() for l in handle if l.startswith("Name:"))
        found[name.lower().replace("_", "-").replace(".", "-")] = record_bytes(info)
    return found

venv = glob.glob("/root/.cache/pypoetry/virtualenvs/*")[0]
print(json.dumps({
    "venv": venv,
    "venv_bytes": tree_bytes(venv),
    "venv_dists": dists(glob.glob(venv + "/lib/python3*/site-packages")[0]),
    "system_dists": dists(glob.glob("/usr/local/lib/python3*/dist-packages")[0]),
    "poetry_cache_bytes": tree_bytes("/root/.cache/pypoetry", skip="/root/.cache/pypoetry/virtualenvs"),
}))
"""


@dataclass
class Built:
    report: dict[str, Any]
    measured: dict[str, Any]


@pytest.fixture(scope="module")
def naive_poetry(
    docker_engine: Engine,
    python_base_image: str,
    poetry_prelude: str,
    pypi_simple_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Built]:
    context = tmp_path_factory.mktemp("naive-poetry")
    for name in ("pyproject.toml", "poetry.lock"):
        shutil.copy(LOCKS / name, context / name)
    (context / "measure.py").write_text(MEASURE)
    (context / "app.py").write_text("import six, idna, packaging\nprint('ok')\n")
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=python_base_image))
    docker_engine.build(context, TAG, build_args={"POETRY_PYPI_MIRROR_URL": pypi_simple_url})
    measured = subprocess.run(
        [
            "docker",
            "-H",
            docker_engine.host,
            "run",
            "--rm",
            "--network",
            "none",
            TAG,
            "python3",
            "/app/measure.py",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    runner = CliRunner()
    outcome = runner.invoke(main, ["audit", f"docker://{TAG}", "--format", "json"], env=docker_engine.env())
    assert outcome.exit_code == 0, outcome.output
    yield Built(json.loads(outcome.output), json.loads(measured))
    docker_engine.client.images.remove(TAG, force=True)


def _close(label: str, ours: int, theirs: int) -> None:
    """Within 1 % of the independent figure; printed (-s) for the record."""
    assert theirs > 0
    print(
        f"\n[attribution] {label}: imgaudit {ours} B, independent {theirs} B, error {ours / theirs - 1:+.3%}"
    )
    assert abs(ours - theirs) <= 0.01 * theirs, f"{label}: imgaudit {ours} vs independent {theirs}"


def _environment(report: dict[str, Any], path: str) -> dict[str, Any]:
    return next(e for e in report["environments"] if e["path"] == path)


def test_dev_only_packages_are_named_with_reasons_and_sized(naive_poetry: Built) -> None:
    report, measured = naive_poetry.report, naive_poetry.measured
    venv = _environment(report, measured["venv"])
    dev_only = {d["name"]: d for d in venv["distributions"] if d["dev_only"]}
    assert set(dev_only) == EXPECTED_DEV_ONLY
    assert dev_only["pytest"]["reason"] == "dev dependency (dev)"
    assert dev_only["pluggy"]["reason"] == "required by pytest (dev)"
    names = {d["name"] for d in venv["distributions"]}
    assert names >= MAIN  # packaging: needed by main and by pytest, so not in dev_only above
    assert report["dev_dependencies"]["source"] == "poetry.lock"
    assert report["dev_dependencies"]["project"] == "/app"
    independent = sum(measured["venv_dists"][name] for name in EXPECTED_DEV_ONLY)
    _close("dev_packages category", report["categories"]["dev_packages"], independent)
    _close("dev-only distributions", sum(d["bytes"] for d in dev_only.values()), independent)
    for name in sorted(EXPECTED_DEV_ONLY):
        _close(f"dev-only {name}", dev_only[name]["bytes"], measured["venv_dists"][name])


def test_poetry_toolchain_is_everything_pip_installed_for_poetry(naive_poetry: Built) -> None:
    report, measured = naive_poetry.report, naive_poetry.measured
    # Poetry, its plugin and everything only they need: all that `pip install` put there.
    _close(
        "python_toolchain category",
        report["categories"]["python_toolchain"],
        sum(measured["system_dists"].values()),
    )
    system = next(e for e in report["environments"] if e["path"].startswith("/usr/local/lib/python3"))
    assert {d["name"] for d in system["distributions"] if d["toolchain"]} >= {
        "poetry",
        "poetry-core",
        "requests",
    }


def test_runtime_venv_and_poetry_cache_match_the_filesystem(naive_poetry: Built) -> None:
    report, measured = naive_poetry.report, naive_poetry.measured
    venv = _environment(report, measured["venv"])
    assert venv["kind"] == "venv"
    assert venv["python"].startswith("3.11")
    _close("runtime venv", venv["bytes"], measured["venv_bytes"])
    _close("poetry_cache category", report["categories"]["poetry_cache"], measured["poetry_cache_bytes"])
    seeded = {d["name"] for d in venv["distributions"] if not d["dev_only"]} - MAIN
    assert "pip" in seeded  # the venv's own pip stays with the venv, not the toolchain
    assert sum(report["categories"].values()) == report["image"]["final_bytes"]
