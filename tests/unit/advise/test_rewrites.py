"""`files-rewritten-later`: a later layer that writes the same files again (a `chown -R`, a
reinstall, a second COPY) leaves the first copies shipping; the finding says which step, what to
change, and saves exactly those bytes."""

from __future__ import annotations

from imgaudit.model import Finding, Report
from tests.conftest import AuditSpec
from tests.support.imagespec import File, Layer, file
from tests.support.pyimage import distribution
from tests.unit.classify.test_environments import image, venv_cfg

SITE = "app/.venv/lib/python3.11/site-packages"
CODE = {"app/tally/__init__.py": 700, "app/tally/cli.py": 1_300}


def rewrites(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.id == "files-rewritten-later"]


def venv(*dists: tuple[str, str, dict[str, int]]) -> list[File]:
    return [
        venv_cfg("app/.venv"),
        *(f for name, version, files in dists for f in distribution(SITE, name, version, files)),
    ]


def shipped(report: Report, layer: int) -> int:
    return next(item.size_bytes for item in report.layers if item.index == layer)


def test_a_chown_after_the_copy_wastes_the_first_copy_and_the_fix_is_copy_chown(
    audit_spec: AuditSpec,
) -> None:
    report = audit_spec(
        image(
            Layer([file(p, s) for p, s in CODE.items()], "COPY . /app # buildkit"),
            Layer(
                [File("etc/group", b"app:x:1000:\n"), *(file(p, s, seed=1) for p, s in CODE.items())],
                "RUN groupadd app && chown -R app:app /app",
            ),
        )
    )
    [finding] = rewrites(report)
    assert finding.estimated_savings_bytes == sum(CODE.values())
    assert finding.evidence.layers == (1, 2)
    assert finding.title == "Written again by layer 2, but layer 1 still ships the first copy"
    assert "written again by: RUN groupadd app && chown -R app:app /app" in finding.evidence.details
    assert "rewritten: /app/tally (2 files)" in finding.evidence.details
    assert "changes owner or mode" in finding.fix.text
    assert finding.fix.dockerfile == "COPY --chown=app:app . /app"
    assert report.plan is not None
    [step] = [s for s in report.plan.steps if "files-rewritten-later" in s.finding_ids]
    assert step.estimated_savings_bytes == sum(CODE.values())


def test_a_chmod_after_a_run_moves_into_that_run(audit_spec: AuditSpec) -> None:
    tool = {"opt/tool/bin/tool": 9_000, "opt/tool/share/data": 4_000}
    report = audit_spec(
        image(
            Layer([file(p, s) for p, s in tool.items()], "RUN tar -xzf /tmp/tool.tgz -C /opt/tool"),
            Layer([file(p, s) for p, s in tool.items()], "RUN chmod -R 755 /opt/tool"),
        )
    )
    [finding] = rewrites(report)
    assert finding.estimated_savings_bytes == 13_000
    assert (
        finding.fix.dockerfile == "RUN tar -xzf /tmp/tool.tgz -C /opt/tool \\\n    && chmod -R 755 /opt/tool"
    )


def test_a_reinstall_is_told_to_write_each_file_once(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            Layer(venv(("click", "8.1.7", {"click/core.py": 8_000})), "RUN pip install click==8.1.7"),
            Layer(
                venv(("click", "8.1.7", {"click/core.py": 8_000})), "RUN pip install --force-reinstall click"
            ),
        )
    )
    [finding] = rewrites(report)
    assert finding.fix.text.startswith(
        "Write each file once; layer 2 (RUN pip install --force-reinstall click)"
    )
    assert finding.fix.dockerfile == ""
    # The second install wrote every file of the first again: the whole first layer is saved.
    assert finding.estimated_savings_bytes == shipped(report, 1)


def dependency_files_first() -> Layer:
    """`COPY pyproject.toml poetry.lock ./`, as the reference practice writes it."""
    return Layer(
        [file("app/pyproject.toml", 300), file("app/poetry.lock", 9_000)],
        "COPY pyproject.toml poetry.lock ./",
    )


def test_dependency_files_copied_before_the_code_are_the_reference_practice(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            dependency_files_first(),
            Layer(
                [
                    file("app/pyproject.toml", 300),
                    file("app/poetry.lock", 9_000),
                    *(file(p, s) for p, s in CODE.items()),
                ],
                "COPY . .",
            ),
        )
    )
    assert rewrites(report) == []
    # The bytes are still wasted (the report does not hide them): no finding claims them.
    assert report.wasted_bytes == 9_300


def test_a_lock_the_tool_rewrites_is_no_finding(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            dependency_files_first(),
            Layer(
                [file("app/poetry.lock", 9_100), file("app/tally/__init__.py", 50)],
                "RUN poetry lock && poetry install",
            ),
        )
    )
    assert rewrites(report) == []


def test_a_directory_replaced_by_a_file_is_not_a_rewrite(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            Layer([file("app/data/a.bin", 5_000)], "RUN fetch-data"),
            Layer([file("app/data", 10)], "COPY data /app/data"),
        )
    )
    assert rewrites(report) == []


def test_the_plan_counts_a_chowned_venv_with_dev_packages_once(audit_spec: AuditSpec) -> None:
    # pytest is a dev-only package (a well-known dev tool): `--without dev` removes its final
    # copy, writing once removes the first copies of everything (pytest's included). With both
    # fixes the image is the final filesystem without pytest, exactly.
    dists = (
        ("click", "8.1.7", {"click/core.py": 8_000}),
        ("pytest", "8.3.3", {"pytest/__init__.py": 30_000}),
    )
    report = audit_spec(
        image(
            Layer(venv(*dists), "RUN python -m venv /app/.venv && /app/.venv/bin/pip install click pytest"),
            Layer(
                [File("etc/group", b"app:x:1000:\n"), *venv(*dists)],
                "RUN useradd app && chown -R app:app /app",
            ),
        )
    )
    [rewrite] = rewrites(report)
    [dev] = [f for f in report.findings if f.id == "dev-dependencies-installed"]
    assert report.plan is not None
    assert {i for s in report.plan.steps for i in s.finding_ids} == {
        "dev-dependencies-installed",
        "files-rewritten-later",
    }
    assert rewrite.estimated_savings_bytes == report.wasted_bytes
    assert report.plan.estimated_final_bytes == report.final_bytes - dev.estimated_savings_bytes


def test_a_chown_of_other_files_in_the_rewriting_run_is_not_the_cause(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        image(
            Layer(venv(("click", "8.1.7", {"click/core.py": 8_000})), "RUN pip install click==8.1.7"),
            Layer(
                [*venv(("click", "8.1.7", {"click/core.py": 8_000})), file("srv/run.sh", 100)],
                "RUN pip install --force-reinstall click && chmod 755 /srv/run.sh",
            ),
        )
    )
    [finding] = rewrites(report)
    assert finding.fix.text.startswith("Write each file once")


def test_a_small_rewrite_is_low_so_that_fail_on_high_does_not_fail_over_it(audit_spec: AuditSpec) -> None:
    """`COPY entrypoint.sh` then `RUN chmod +x entrypoint.sh`, in countless real images: the
    900 bytes still get a finding, at low severity; a chowned venv of megabytes is high."""
    script = {"app/entrypoint.sh": 900}
    packages = {"click/__init__.py": 2 << 20}
    report = audit_spec(
        image(
            Layer([file(p, s) for p, s in script.items()], "COPY entrypoint.sh /app/ # buildkit"),
            Layer([file(p, s, seed=1) for p, s in script.items()], "RUN chmod +x /app/entrypoint.sh"),
            Layer(venv(("click", "8.1.7", packages)), "RUN python -m venv /app/.venv && pip install click"),
            Layer(venv(("click", "8.1.7", packages)), "RUN chown -R 1000 /app/.venv"),
        )
    )
    severity = {f.estimated_savings_bytes: f.severity for f in rewrites(report)}
    assert severity[900] == "low"
    assert [s for b, s in severity.items() if b > 2 << 20] == ["high"]


DEV_DISTS = (
    ("click", "8.1.7", {"click/core.py": 8_000}),
    ("pytest", "8.3.3", {"pytest/__init__.py": 30_000, "pytest/python.py": 12_000}),
)


def pytest_bytes() -> int:
    """What pytest's files hold (its dist-info included), as the spec writes them."""
    return sum(len(f.data) for f in venv(*DEV_DISTS) if "/site-packages/pytest" in f.path)


def dev_finding(report: Report) -> Finding:
    [dev] = [f for f in report.findings if f.id == "dev-dependencies-installed"]
    return dev


def test_dev_packages_a_chown_rewrote_are_named_at_the_install(audit_spec: AuditSpec) -> None:
    # The chown wrote pytest's files again, so its layer holds their final copies: the finding
    # names the RUN that installed them (what to change: `--without dev`), and saves what the
    # final copies hold, as before. The rewrite is the other finding's.
    report = audit_spec(
        image(
            Layer(
                venv(*DEV_DISTS), "RUN python -m venv /app/.venv && /app/.venv/bin/pip install click pytest"
            ),
            Layer(
                [File("etc/group", b"app:x:1000:\n"), *venv(*DEV_DISTS)],
                "RUN useradd app && chown -R app:app /app",
            ),
        )
    )
    dev = dev_finding(report)
    assert dev.evidence.layers == (1,)
    assert dev.estimated_savings_bytes == pytest_bytes() > 42_000
    [rewrite] = rewrites(report)
    assert rewrite.evidence.layers == (1, 2)


def test_a_chmod_of_a_copied_cache_names_the_copy_and_a_reinstall_names_itself(audit_spec: AuditSpec) -> None:
    # Any finding, not dev packages alone: Poetry's cache written by the install, then made
    # group-writable by a chmod -R of the home, is left by the install. A reinstall (no owner or
    # mode change) writes the files anew: its layer is what ships them.
    cache = {"root/.cache/pypoetry/artifacts/ab/click-8.1.7-py3-none-any.whl": 90_000}
    report = audit_spec(
        image(
            Layer(
                [*(file(p, s) for p, s in cache.items()), *venv(*DEV_DISTS)],
                "RUN poetry install --no-root",
            ),
            Layer([file(p, s) for p, s in cache.items()], "RUN chmod -R g=u /root"),
            Layer(venv(*DEV_DISTS), "RUN /app/.venv/bin/pip install --force-reinstall click pytest"),
        )
    )
    [poetry_cache] = [f for f in report.findings if f.id == "poetry-cache-in-layer"]
    assert poetry_cache.evidence.layers == (1,)
    assert dev_finding(report).evidence.layers == (3,)


def test_a_symbolic_mode_is_an_ownership_change_too(audit_spec: AuditSpec) -> None:
    # `chmod -R g=u /app` (OpenShift's arbitrary uid): the `=` of the mode is no `NAME=value`
    # prefix. The fix is to set the mode where the files are written; no COPY --chmod snippet,
    # as not every builder's takes a symbolic mode.
    report = audit_spec(
        image(
            Layer([file(p, s) for p, s in CODE.items()], "COPY . /app # buildkit"),
            Layer([file(p, s) for p, s in CODE.items()], "RUN chmod -R g=u /app"),
        )
    )
    [finding] = rewrites(report)
    assert "changes owner or mode" in finding.fix.text
    assert finding.fix.dockerfile == ""
