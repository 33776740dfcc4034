"""`late-deletion` advice never deletes what a later step uses, and apt snippets remove
exactly what `apt-lists-left` measured."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from imgaudit.model import Finding, Report
from tests.conftest import AuditSpec
from tests.support.imagespec import File, Layer, Whiteout, file
from tests.support.pyimage import distribution
from tests.unit.advise import naive
from tests.unit.classify.test_environments import image

SITE = "usr/local/lib/python3.11/dist-packages"
PYPROJECT = b'[project]\nname = "tally"\nversion = "0.1.0"\ndependencies = ["requests>=2.32"]\n'


def poetry_with(requests_version: str) -> list[File]:
    dists = [
        distribution(
            SITE,
            "poetry",
            "2.5.1",
            {"poetry/__init__.py": 30_000, "../../../bin/poetry": 60},
            ["requests (>=2.26,<3.0)", "packaging (>=24.2)"],
        ),
        distribution(SITE, "packaging", "25.0", {"packaging/__init__.py": 4_000}),
        requests(requests_version),
    ]
    return [f for d in dists for f in d]


def requests(version: str) -> list[File]:
    return distribution(
        SITE,
        "requests",
        version,
        {"requests/__init__.py": 5_000, "requests/api.py": 7_000},
        installer="Poetry",
    )


def late(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.id == "late-deletion"]


def test_poetry_install_replacing_poetrys_own_dependency_is_not_deleted_before_it_runs(
    audit_spec: AuditSpec,
) -> None:
    # `poetry install` into the system interpreter replaces the requests that Poetry itself
    # imports: the old version ships in the `pip install poetry` layer.
    report = audit_spec(
        image(
            Layer(poetry_with("2.31.0"), "RUN pip install poetry==2.5.1"),
            Layer([File("app/pyproject.toml", PYPROJECT)], "COPY pyproject.toml ./"),
            Layer(
                [
                    Whiteout(f"{SITE}/requests-2.31.0.dist-info"),
                    Whiteout(f"{SITE}/requests/api.py"),
                    *requests("2.32.5"),
                ],
                "RUN poetry config virtualenvs.create false && poetry install --only main",
            ),
        )
    )
    [finding] = late(report)
    assert finding.evidence.layers == (1, 3)
    assert any(
        "used by layer 3" in d and "runs poetry, which needs requests" in d for d in finding.evidence.details
    )
    # No deletion in `RUN pip install poetry`: the COPY stands between, so no same-RUN fix.
    assert "rm -rf" not in finding.fix.dockerfile
    assert "multi-stage" in finding.fix.text
    assert report.plan is not None
    assert all("late-deletion" not in step.finding_ids for step in report.plan.steps)


def test_a_deletion_a_later_run_needs_moves_after_it(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            Layer(
                [file("tmp/tool.tgz", 9_000)],
                "RUN curl -fsSL -o /tmp/tool.tgz https://example.invalid/tool.tgz",
            ),
            Layer([file("opt/tool/bin/tool", 3_000)], "RUN tar -xzf /tmp/tool.tgz -C /opt/tool"),
            Layer([Whiteout("tmp/tool.tgz")], "RUN rm -f /tmp/tool.tgz"),
        )
    )
    [finding] = late(report)
    assert finding.estimated_savings_bytes == 9_000
    assert finding.fix.dockerfile == (
        "RUN curl -fsSL -o /tmp/tool.tgz https://example.invalid/tool.tgz \\\n"
        "    && tar -xzf /tmp/tool.tgz -C /opt/tool \\\n"
        "    && rm -rf /tmp/tool.tgz"
    )
    assert any("used by layer 2" in d and "names /tmp/tool.tgz" in d for d in finding.evidence.details)
    assert report.plan is not None
    assert any(step.finding_ids == ("late-deletion",) for step in report.plan.steps)


def test_a_deletion_nothing_later_uses_stays_in_the_creating_run(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            Layer([file("root/.cache/pypoetry/artifacts/a.whl", 2_500)], "RUN poetry install"),
            Layer([file("app/tally/__init__.py", 100)], "COPY tally/ ./tally/"),
            Layer([Whiteout("root/.cache/pypoetry/artifacts")], "RUN rm -rf /root/.cache/pypoetry/artifacts"),
        )
    )
    [finding] = late(report)
    assert finding.fix.dockerfile == "RUN poetry install \\\n    && rm -rf /root/.cache/pypoetry/artifacts"


def test_apt_snippet_removes_the_package_caches_it_measured(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            Layer(
                [
                    file(
                        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
                        9_000,
                    ),
                    file("var/cache/apt/pkgcache.bin", 30_000),
                    file("var/cache/apt/srcpkgcache.bin", 29_000),
                    file("usr/bin/make", 200),
                ],
                "RUN apt-get update && apt-get install -y --no-install-recommends make",
            ),
        )
    )
    [finding] = [f for f in report.findings if f.id == "apt-lists-left"]
    assert finding.estimated_savings_bytes == 68_000
    assert finding.fix.dockerfile.endswith("rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin")


def test_a_venv_in_poetrys_cache_is_named_as_such(tmp_path: Path) -> None:
    report = naive.audit_spec(tmp_path, naive.naive_spec())
    [finding] = [f for f in report.findings if f.id == "toolchain-at-runtime"]
    assert finding.evidence.install_layout == f"venv in Poetry's cache /{naive.VENV}"
    # A venv is copied whole: the multi-stage fix needs no pip-less venv.
    assert "NO_PIP" not in finding.fix.dockerfile


def test_a_project_venv_is_named_as_such(tmp_path: Path) -> None:
    venv = "app/.venv"
    spec = naive.naive_spec()
    moved = [
        Layer(
            [
                File(f"{venv}/pyvenv.cfg", naive.PYVENV_CFG),
                *distribution(
                    f"{venv}/lib/python3.11/site-packages", "click", "8.1.7", {"click/core.py": 8000}
                ),
            ],
            "/bin/sh -c poetry install",
        )
        if layer.created_by == "/bin/sh -c poetry install"
        else layer
        for layer in spec.layers
    ]
    report = naive.audit_spec(tmp_path, replace(spec, layers=moved))
    [finding] = [f for f in report.findings if f.id == "toolchain-at-runtime"]
    assert finding.evidence.install_layout == "project venv /app/.venv (installed by pip)"
