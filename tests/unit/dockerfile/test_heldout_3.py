"""Lint mistakes from the third held-out survey of public Dockerfiles, as `imgaudit lint
--context` reports them (each pattern in a file of our own; the project that showed it named).

- `uv sync --no-group dev` leaves the dev group out, as `--no-dev` does (a public uv Dockerfile
  following uv's installer guide): no dev-dependencies-installed.
- `pip install --no-index --find-links=/wheels` downloads nothing: no pip cache (the `pip
  wheel` builder of a public two-stage Dockerfile).
- uv installed by its installer script saved with ADD (`ADD https://astral.sh/uv/0.5.13/
  install.sh /uv-installer.sh`, `RUN sh /uv-installer.sh`): uv reaches the image.
- `pip-sync` runs `pip install`, which keeps pip's cache (jamert/tg2fibery)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from tests.unit.dockerfile.test_heldout_2 import lint

UV_DEV = (
    '[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["click"]\n\n'
    '[dependency-groups]\ndev = ["pytest"]\n'
)


UV_SYNC = """\
FROM python:3.12-slim AS builder
COPY --from=ghcr.io/astral-sh/uv:0.5.13 /uv /bin/uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN {env}uv sync --frozen --no-cache {flags}

FROM python:3.12-slim
COPY --from=builder /app/.venv /app/.venv
"""


@pytest.mark.parametrize(
    ("env", "flags", "dev"),
    [
        ("", "--no-group dev", False),
        ("", "--no-group=dev", False),
        ("UV_NO_GROUP=dev ", "", False),
        ("", "--no-group lint", True),
        ("", "", True),
    ],
)
def test_uv_sync_no_group_dev_leaves_the_dev_group_out(
    tmp_path: Path, env: str, flags: str, dev: bool
) -> None:
    found = lint(tmp_path, UV_SYNC.format(env=env, flags=flags), {"pyproject.toml": UV_DEV, "uv.lock": ""})
    assert ((5, "dev-dependencies-installed") in found) is dev


def test_uv_no_group_reads_the_projects_default_groups(tmp_path: Path) -> None:
    # default-groups = ["dev", "test"]: leaving out dev still installs test.
    project = UV_DEV + 'test = ["coverage"]\n\n[tool.uv]\ndefault-groups = ["dev", "test"]\n'
    found = lint(
        tmp_path, UV_SYNC.format(env="", flags="--no-group dev"), {"pyproject.toml": project, "uv.lock": ""}
    )
    assert (5, "dev-dependencies-installed") in found
    found = lint(
        tmp_path,
        UV_SYNC.format(env="", flags="--no-group dev --no-group test"),
        {"pyproject.toml": project, "uv.lock": ""},
    )
    assert (5, "dev-dependencies-installed") not in found


def test_uv_sync_extra_dev_says_it_is_the_extra(tmp_path: Path) -> None:
    project = '[project]\nname = "app"\nversion = "1"\n\n[project.optional-dependencies]\ndev = ["pytest"]\n'
    (tmp_path / "Dockerfile").write_text(UV_SYNC.format(env="", flags="--extra dev"))
    (tmp_path / "pyproject.toml").write_text(project)
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "Dockerfile"), "--format", "json"])
    messages = [
        f["message"] for f in json.loads(result.output)["findings"] if f["id"] == "dev-dependencies-installed"
    ]
    assert messages and "dev" in messages[0] and "extra" in messages[0]


WHEELS = """\
FROM python:3.12 AS builder
COPY requirements.txt .
RUN pip wheel --no-cache-dir -w /wheels -r requirements.txt

FROM python:3.12-slim
COPY requirements.txt .
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \\
    pip install {flags} -r requirements.txt
"""


@pytest.mark.parametrize(
    ("flags", "cache"), [("--no-index --find-links=/wheels", False), ("--find-links=/wheels", True)]
)
def test_pip_install_from_local_wheels_only_keeps_no_cache(tmp_path: Path, flags: str, cache: bool) -> None:
    found = lint(tmp_path, WHEELS.format(flags=flags), {"requirements.txt": "click\n"})
    assert ((7, "pip-cache-in-layer") in found) is cache


UV_INSTALLER = """\
FROM python:3.12-slim
WORKDIR /app
ADD https://astral.sh/uv/0.5.13/install.sh {destination}
RUN sh {script} && rm {script}
ENV PATH="/root/.local/bin/:$PATH"
COPY . .
RUN uv sync --frozen --no-cache --no-dev
CMD ["python", "-m", "app"]
"""


@pytest.mark.parametrize(
    ("destination", "script"),
    [
        ("/uv-installer.sh", "/uv-installer.sh"),
        ("/tmp/", "/tmp/install.sh"),
        ("installer.sh", "./installer.sh"),
    ],
)
def test_uv_installed_by_its_saved_installer_reaches_the_image(
    tmp_path: Path, destination: str, script: str
) -> None:
    found = lint(
        tmp_path, UV_INSTALLER.format(destination=destination, script=script), {"pyproject.toml": UV_DEV}
    )
    assert (4, "toolchain-at-runtime") in found


def test_another_saved_script_installs_no_uv(tmp_path: Path) -> None:
    dockerfile = UV_INSTALLER.replace(
        "https://astral.sh/uv/0.5.13/install.sh", "https://example.com/setup.sh"
    )
    found = lint(
        tmp_path, dockerfile.format(destination="/setup.sh", script="/setup.sh"), {"pyproject.toml": UV_DEV}
    )
    assert (4, "toolchain-at-runtime") not in found


PIP_SYNC = """\
FROM python:3.12-slim
RUN pip install --no-cache-dir pip-tools==7.4.1
COPY requirements.txt .
RUN pip-sync {flags}
"""


@pytest.mark.parametrize(
    ("flags", "cache"),
    [
        ("", True),
        ("requirements.txt", True),
        ("--pip-args '--no-cache-dir --no-deps' requirements.txt", False),
    ],
)
def test_pip_sync_keeps_pips_cache(tmp_path: Path, flags: str, cache: bool) -> None:
    found = lint(tmp_path, PIP_SYNC.format(flags=flags), {"requirements.txt": "click==8.1.7\n"})
    assert ((4, "pip-cache-in-layer") in found) is cache


@pytest.mark.parametrize(
    ("run", "found"),
    [
        ("[uv sync --no-dev]", True),  # GuilhermeBelisario/mongodb_streamlit: the shell seeks `[uv`
        ("['uv', 'sync']", True),
        ('["uv", "sync"]', False),
        ("[ -f uv.lock ] && uv sync", False),
        ("[[ -f uv.lock ]] && uv sync || echo [no lock]", False),
        ("[[ -f uv.lock ]]", False),
    ],
)
def test_a_bracketed_run_that_is_not_json_is_said(tmp_path: Path, run: str, found: bool) -> None:
    dockerfile = f"FROM python:3.12-slim\nRUN pip install --no-cache-dir uv==0.5.7\nRUN {run}\n"
    assert ((3, "exec-form-not-json") in lint(tmp_path, dockerfile)) is found


PDM_INSTALLER = """\
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
RUN {run}
ENV PATH="/root/.local/bin:$PATH"
WORKDIR /app
COPY . .
RUN pdm install --prod && rm -rf /root/.cache/pdm
CMD ["python", "-m", "app"]
"""


@pytest.mark.parametrize(
    "run",
    [
        "curl -sSL https://raw.githubusercontent.com/pdm-project/pdm/main/install-pdm.py | python3 -",
        "curl -sSLO https://pdm-project.org/install-pdm.py && python3 install-pdm.py && rm install-pdm.py",
    ],
)
def test_pdm_from_its_installer_script_reaches_the_image(tmp_path: Path, run: str) -> None:
    # A public PDM Dockerfile (__pypackages__ on PATH) found by the third held-out survey.
    project = '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n'
    found = lint(tmp_path, PDM_INSTALLER.format(run=run), {"pyproject.toml": project})
    assert (3, "toolchain-at-runtime") in found
