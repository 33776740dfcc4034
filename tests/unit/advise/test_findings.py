"""The advisor on a small naive Poetry image: every figure is a sum of the spec's file sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.advise import FINDING_IDS
from imgaudit.audit import AuditOptions
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.errors import UsageError
from imgaudit.model import Report
from tests.unit.advise.naive import (
    APP_CODE,
    APP_EXTRA,
    ARTIFACTS,
    BASE,
    CACHE,
    NAIVE_DOCKERFILE,
    PYVENV_CFG,
    VENV_FILES,
    audit_spec,
    naive_spec,
)

PASSWD = len(b"root:x:0:0:root:/root:/bin/sh\n")
PYPROJECT_SIZE = len(
    b'[project]\nname = "greeter"\nversion = "0.1.0"\ndependencies = ["click"]\n\n'
    b'[tool.poetry]\npackages = [{ include = "greeter" }]\n'
)


@pytest.fixture
def report(tmp_path: Path) -> Report:
    return audit_spec(tmp_path, naive_spec())


def by_id(report: Report, finding_id: str) -> int:
    return sum(f.estimated_savings_bytes for f in report.findings if f.id == finding_id)


def test_poetry_cache_counts_the_cache_left_and_the_cache_deleted_later(report: Report) -> None:
    assert by_id(report, "poetry-cache-in-layer") == sum(CACHE.values()) + sum(ARTIFACTS.values())


def test_late_deletion_is_the_deleted_bytes_per_instruction_pair(report: Report) -> None:
    [finding] = [f for f in report.findings if f.id == "late-deletion"]
    assert finding.estimated_savings_bytes == sum(ARTIFACTS.values())
    assert finding.evidence.layers == (3, 4)
    assert "deleted by: RUN rm -rf /root/.cache/pypoetry/artifacts" in finding.evidence.details


def test_multi_stage_saves_everything_above_the_base_but_the_venv_and_the_package(report: Report) -> None:
    venv = sum(VENV_FILES.values()) + len(PYVENV_CFG)
    kept = sum(BASE.values()) + PASSWD + venv + sum(APP_CODE.values())
    assert by_id(report, "toolchain-at-runtime") == report.total_bytes - kept
    [finding] = [f for f in report.findings if f.id == "toolchain-at-runtime"]
    assert "poetry==2.1.3" in finding.evidence.packages


def test_unneeded_files_are_the_copied_tests_and_git(report: Report) -> None:
    assert by_id(report, "unneeded-files-copied") == sum(APP_EXTRA.values())


def test_findings_without_bytes_say_why(report: Report) -> None:
    for finding_id in ("unpinned-poetry", "venv-not-in-project", "cache-unfriendly-order"):
        [finding] = [f for f in report.findings if f.id == finding_id]
        assert finding.estimated_savings_bytes == 0
        assert finding.savings_basis
    [order] = [f for f in report.findings if f.id == "cache-unfriendly-order"]
    rebuilt = sum(APP_CODE.values()) + sum(APP_EXTRA.values()) + PYPROJECT_SIZE
    rebuilt += sum(VENV_FILES.values()) + len(PYVENV_CFG) + sum(CACHE.values()) + sum(ARTIFACTS.values())
    assert f"{rebuilt} bytes rebuilt and re-pushed per code change" in order.savings_basis


def test_pinned_poetry_is_not_a_finding(tmp_path: Path) -> None:
    report = audit_spec(tmp_path, naive_spec("pip install poetry==2.1.3 poetry-plugin-export"))
    assert "unpinned-poetry" not in {f.id for f in report.findings}


def test_plan_counts_each_byte_once(report: Report) -> None:
    plan = report.plan
    assert plan is not None
    findings_sum = sum(f.estimated_savings_bytes for f in report.findings)
    # The multi-stage build also drops the caches and the copied tests: overlap is not summed.
    assert plan.estimated_savings_bytes < findings_sum
    assert plan.estimated_savings_bytes == report.total_bytes - (
        sum(BASE.values()) + PASSWD + sum(VENV_FILES.values()) + len(PYVENV_CFG) + sum(APP_CODE.values())
    )
    assert sum(step.estimated_savings_bytes for step in plan.steps) == plan.estimated_savings_bytes
    assert plan.steps[-1].estimated_final_bytes == plan.estimated_final_bytes
    assert [s.finding_ids[0] for s in plan.steps] == [
        "unpinned-poetry",
        "unneeded-files-copied",
        "venv-not-in-project",
        "late-deletion",
        "cache-unfriendly-order",
        "toolchain-at-runtime",
    ]
    # The late deletion's bytes were already saved by cleaning Poetry's cache in the same RUN.
    late = next(s for s in plan.steps if s.finding_ids == ("late-deletion",))
    assert late.estimated_savings_bytes == 0


def test_ignore_drops_the_finding_and_its_plan_step(tmp_path: Path) -> None:
    report = audit_spec(tmp_path, naive_spec(), options=AuditOptions(ignore=("poetry-cache-in-layer",)))
    assert "poetry-cache-in-layer" not in {f.id for f in report.findings}
    assert report.plan is not None
    assert all("poetry-cache-in-layer" not in s.finding_ids for s in report.plan.steps)


def test_unknown_ignore_id_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown finding id"):
        audit_spec(tmp_path, naive_spec(), options=AuditOptions(ignore=("no-such-finding",)))


def test_compressed_estimate_only_for_compressed_layers(tmp_path: Path, report: Report) -> None:
    assert report.plan is not None and report.plan.estimated_savings_compressed_bytes is None
    gzipped = audit_spec(tmp_path, naive_spec(), compression="gzip")
    assert gzipped.plan is not None
    compressed = gzipped.plan.estimated_savings_compressed_bytes
    assert compressed is not None and compressed > 0
    assert gzipped.plan.estimated_savings_bytes == report.plan.estimated_savings_bytes


def test_dockerfile_lines_name_the_instructions(tmp_path: Path) -> None:
    parsed = parse_dockerfile(NAIVE_DOCKERFILE)
    report = audit_spec(tmp_path, naive_spec(), options=AuditOptions(dockerfile=parsed))
    lines = {f.id: [line.start for line in f.dockerfile_lines] for f in report.findings}
    assert lines["late-deletion"] == [5, 6]
    assert lines["unpinned-poetry"] == [2]
    assert lines["cache-unfriendly-order"] == [4, 5]


def test_catalogue_has_the_issue_ids() -> None:
    assert set(FINDING_IDS) == {
        "poetry-cache-in-layer",
        "pip-cache-in-layer",
        "late-deletion",
        "files-rewritten-later",
        "duplicate-venv",
        "dev-dependencies-installed",
        "toolchain-at-runtime",
        "build-toolchain-at-runtime",
        "fat-base-image",
        "venv-not-in-project",
        "unpinned-poetry",
        "cache-unfriendly-order",
        "unneeded-files-copied",
        "apt-lists-left",
        "apt-recommends",
        "uv-cache-in-layer",
        "pdm-cache-in-layer",
        "pipenv-cache-in-layer",
        "conda-cache-in-layer",
        "apk-cache-left",
    }
