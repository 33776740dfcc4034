"""The advisor's estimates against real rebuilds.

A naive Poetry image (Poetry unpinned, the whole context copied before `poetry install`, dev
dependencies installed, default cache and venv location, a separate `RUN rm -rf`) is built
from the small real project in tests/assets/poetry-project. Then, on the same daemon:

- for the big findings, the naive Dockerfile with only that finding's fix applied;
- the Dockerfile `imgaudit fix` writes (the whole plan), which must also run the app.

Each estimate must be within 10 % of the measured difference in shipped bytes (`total_bytes`
of the rebuilt image, the quantity the estimates are about). The figures are printed (-s).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from imgaudit.model import Report
from tests.integration.conftest import POETRY_PRELUDE, Engine

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parent.parent / "assets" / "poetry-project"
TOLERANCE = 0.10
TAG = "imgaudit-test/advisor-{name}:latest"

# The shared Poetry prelude (built once per session), then the app's directory.
PRELUDE = POETRY_PRELUDE.replace("FROM {base}", "FROM {base}{stage}") + "WORKDIR /app\n"
NAIVE_BODY = """\
COPY . .
RUN poetry install
RUN rm -rf /root/.cache/pypoetry/artifacts
"""
NAIVE_START = 'CMD ["poetry", "run", "python", "-m", "greeter"]\n'
RUNTIME = """
FROM {base}
WORKDIR /app
ENV VIRTUAL_ENV=/app/.venv PATH="/app/.venv/bin:$PATH"
COPY --from=builder /app/.venv /app/.venv
COPY greeter/ ./greeter/
CMD ["python", "-m", "greeter"]
"""

# The naive Dockerfile with one finding's fix applied, and nothing else.
SINGLE_FIXES: dict[str, tuple[str, str]] = {
    "dev-dependencies-installed": ("RUN poetry install\n", "RUN poetry install --without dev\n"),
    "poetry-cache-in-layer": (
        "COPY . .\nRUN poetry install\n",
        "ENV POETRY_CACHE_DIR=/tmp/poetry_cache POETRY_VIRTUALENVS_IN_PROJECT=1\n"
        "COPY . .\nRUN poetry install && rm -rf $POETRY_CACHE_DIR\n",
    ),
    "late-deletion": (
        "RUN poetry install\nRUN rm -rf /root/.cache/pypoetry/artifacts\n",
        "RUN poetry install && rm -rf /root/.cache/pypoetry/artifacts\n",
    ),
}


def naive_dockerfile(base: str) -> str:
    return PRELUDE.format(base=base, stage="") + NAIVE_BODY + NAIVE_START


def multi_stage_only(base: str) -> str:
    """The multi-stage fix alone: the same install (dev group included), venv in the project."""
    return (
        PRELUDE.format(base=base, stage=" AS builder")
        + "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\n"
        + NAIVE_BODY
        + RUNTIME.format(base=base)
    )


@dataclass
class Builder:
    engine: Engine
    base: str
    mirror: str
    work: Path

    def context(self, name: str, dockerfile: str) -> Path:
        context = self.work / name
        shutil.copytree(PROJECT, context)
        (context / "Dockerfile").write_text(dockerfile)
        # Sent to the daemon, never copied: the naive `COPY . .` layer stays the same for all.
        (context / ".dockerignore").write_text("Dockerfile\n.dockerignore\nDockerfile.*\n")
        return context

    def build(self, name: str, context: Path) -> Report:
        tag = TAG.format(name=name)
        self.engine.build(context, tag, build_args={"POETRY_PYPI_MIRROR_URL": self.mirror})
        return self.engine.audit(tag)


@pytest.fixture(scope="module")
def builder(
    docker_engine: Engine,
    python_base_image: str,
    poetry_prelude: str,
    pypi_simple_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Builder]:
    yield Builder(docker_engine, python_base_image, pypi_simple_url, tmp_path_factory.mktemp("advisor"))


@pytest.fixture(scope="module")
def naive(builder: Builder) -> tuple[Report, Path]:
    context = builder.context("naive", naive_dockerfile(builder.base))
    return builder.build("naive", context), context


def saving(report: Report, finding_id: str) -> int:
    return sum(f.estimated_savings_bytes for f in report.findings if f.id == finding_id)


def check(label: str, estimate: int, measured: int) -> None:
    error = (estimate - measured) / measured if measured else float("inf")
    print(f"\n[accuracy] {label}: estimate {estimate} B, measured {measured} B, error {error:+.2%}")
    assert measured > 0, f"{label}: the rebuild saved nothing"
    assert abs(error) <= TOLERANCE, f"{label}: estimate {estimate} vs measured {measured} ({error:+.2%})"


def test_naive_image_has_the_articles_findings(naive: tuple[Report, Path]) -> None:
    report, _ = naive
    ids = {f.id for f in report.findings}
    assert {
        "poetry-cache-in-layer",
        "late-deletion",
        "dev-dependencies-installed",
        "toolchain-at-runtime",
        "venv-not-in-project",
        "unpinned-poetry",
        "cache-unfriendly-order",
        "unneeded-files-copied",
    } <= ids
    assert report.plan is not None
    assert report.plan.estimated_final_bytes == report.total_bytes - report.plan.estimated_savings_bytes
    assert sum(s.estimated_savings_bytes for s in report.plan.steps) == report.plan.estimated_savings_bytes


@pytest.mark.parametrize("finding_id", sorted(SINGLE_FIXES))
def test_single_finding_estimate_matches_its_rebuild(
    builder: Builder, naive: tuple[Report, Path], finding_id: str
) -> None:
    report, _ = naive
    old, new = SINGLE_FIXES[finding_id]
    dockerfile = naive_dockerfile(builder.base)
    assert old in dockerfile
    rebuilt = builder.build(finding_id, builder.context(finding_id, dockerfile.replace(old, new)))
    check(finding_id, saving(report, finding_id), report.total_bytes - rebuilt.total_bytes)


def test_multi_stage_estimate_matches_its_rebuild(builder: Builder, naive: tuple[Report, Path]) -> None:
    report, _ = naive
    rebuilt = builder.build("multi-stage", builder.context("multi-stage", multi_stage_only(builder.base)))
    check(
        "toolchain-at-runtime",
        saving(report, "toolchain-at-runtime"),
        report.total_bytes - rebuilt.total_bytes,
    )


def test_fixed_dockerfile_builds_runs_and_saves_what_the_plan_says(
    builder: Builder, naive: tuple[Report, Path]
) -> None:
    report, naive_context = naive
    image = f"docker://{TAG.format(name='naive')}"
    result = CliRunner().invoke(
        main, ["fix", "--dockerfile", str(naive_context / "Dockerfile"), image], env=builder.engine.env()
    )
    assert result.exit_code == 0, result.output
    fixed = (naive_context / "Dockerfile.imgaudit").read_text()
    assert "poetry run" not in fixed and "poetry==" in fixed and "--without dev" in fixed
    context = builder.context("plan", fixed)
    rebuilt = builder.build("plan", context)

    run = subprocess.run(
        ["docker", "-H", builder.engine.host, "run", "--rm", "--network", "none", TAG.format(name="plan")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.stdout.strip() == "hello, xn--bcher-kva.example", run.stderr

    assert report.plan is not None
    for step in report.plan.steps:
        print(
            f"\n[accuracy] plan step {step.title}: {step.estimated_savings_bytes} B -> {step.estimated_final_bytes} B"
        )
    check("plan", report.plan.estimated_savings_bytes, report.total_bytes - rebuilt.total_bytes)
    check("plan final bytes", report.plan.estimated_final_bytes, rebuilt.total_bytes)
