"""imgaudit's own image: the repository's Dockerfile, built on the real engine from the
locally made Python base, then audited by imgaudit against the limits committed in
`imgaudit-image.toml`. The project fails its own CI if its image regresses.

Only the build stage is adapted to this network (Poetry's index mirror; the base trusts the host's CA): the
runtime stage, the one that ships, is the committed one. Figures are printed (-s).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from tests.integration.conftest import Engine

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
TAG = "imgaudit-test/report-own-image:latest"
BUILDER = "FROM ${PYTHON_IMAGE} AS builder\n"
POETRY = re.compile(r"^RUN pip install poetry==\d+\.\d+\.\d+$", re.MULTILINE)  # pinned
NETWORK = "ARG POETRY_PYPI_MIRROR_URL\n"  # the base trusts the host's CA already


def _context(target: Path) -> Path:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert BUILDER in dockerfile and POETRY.search(dockerfile)
    # The index mirror plugin goes into Poetry's own environment, in the same step.
    dockerfile = POETRY.sub(
        r"\g<0> poetry-plugin-pypi-mirror", dockerfile.replace(BUILDER, BUILDER + NETWORK)
    )
    target.mkdir()
    (target / "Dockerfile").write_text(dockerfile)
    for name in ("pyproject.toml", "poetry.lock", "README.md"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "imgaudit", target / "imgaudit", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_imgaudits_own_image_passes_its_own_gate(
    docker_engine: Engine,
    python_base_image: str,
    pypi_simple_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = time.perf_counter()
    docker_engine.build(
        _context(tmp_path / "context"),
        TAG,
        build_args={"PYTHON_IMAGE": python_base_image, "POETRY_PYPI_MIRROR_URL": pypi_simple_url},
    )
    built = time.perf_counter()
    version = subprocess.run(
        ["docker", "-H", docker_engine.host, "run", "--rm", TAG, "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert version.returncode == 0 and version.stdout.startswith("imgaudit, version"), version.stderr
    archive = docker_engine.save(TAG, tmp_path / "own.tar")
    base = docker_engine.save(python_base_image, tmp_path / "base.tar")

    monkeypatch.chdir(tmp_path)
    report_path = tmp_path / "own.json"
    result = CliRunner().invoke(
        main,
        [
            str(archive),
            "--base", str(base),
            "--dockerfile", str(ROOT / "Dockerfile"),
            "--config", str(ROOT / "imgaudit-image.toml"),
            "--format", f"json={report_path}",
            "--format", "terminal",
        ],
    )  # fmt: skip
    print(result.stdout)
    report = json.loads(report_path.read_text())
    image = report["image"]
    print(
        f"own image: {image['total_bytes']:,} bytes shipped, {image['final_bytes']:,} final; "
        f"above the base: {sum(layer['size_bytes'] for layer in report['layers'] if not layer['is_base']):,}; "
        f"build {built - started:.1f} s, total {time.perf_counter() - started:.1f} s"
    )
    assert report["gate"]["rules"], "imgaudit-image.toml sets no limit"
    assert result.exit_code == 0, report["gate"]["verdict"]
    assert report["gate"]["passed"]
