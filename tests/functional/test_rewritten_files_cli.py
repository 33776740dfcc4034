"""files-rewritten-later as a user meets it: a `RUN useradd && chown -R` after the venv was
written. The audit names the wasted bytes and the step, `--dockerfile` points at both lines,
lint flags the chown, and fix writes `COPY --chown` so that its own lint is clean."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from imgaudit.report.json import schema
from tests.support.imagespec import File, ImageSpec, Layer, file, write_image
from tests.support.pyimage import distribution

SITE = "app/.venv/lib/python3.11/site-packages"
DOCKERFILE = """\
FROM python:3.11-slim
RUN pip install --no-cache-dir poetry==1.8.5
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --only main --no-root --no-cache
COPY . .
RUN useradd -m app && chown -R app:app /app
USER app
CMD ["python", "-m", "tally"]
"""


def venv(extra: Sequence[File] = ()) -> list[File]:
    return [
        File("app/.venv/pyvenv.cfg", b"home = /usr/bin\nversion = 3.11.2\n"),
        *distribution(SITE, "click", "8.1.7", {"click/core.py": 40_000}),
        *extra,
    ]


def spec(extra: Sequence[File] = ()) -> ImageSpec:
    """The image of DOCKERFILE; `extra`: more files of its venv."""
    code = [file("app/tally/__init__.py", 900)]
    steps = [
        (
            "ADD rootfs.tar / # buildkit",
            [File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"), file("usr/bin/python3.11", 6_000)],
        ),
        (
            "COPY pyproject.toml poetry.lock ./ # buildkit",
            [file("app/pyproject.toml", 200), file("app/poetry.lock", 3_000)],
        ),
        (
            "RUN /bin/sh -c POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --only main --no-root --no-cache # buildkit",
            venv(extra),
        ),
        ("COPY . . # buildkit", code),
        (
            "RUN /bin/sh -c useradd -m app && chown -R app:app /app # buildkit",
            [
                File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
                *venv(extra),
                *code,
                file("app/pyproject.toml", 200),
                file("app/poetry.lock", 3_000),
            ],
        ),
    ]
    return ImageSpec(
        layers=[Layer(entries, created_by) for created_by, entries in steps],
        workdir="/app",
        history=[(steps[0][0], False), ('CMD ["python3"]', True), *((s, False) for s, _ in steps[1:])],
    )


def test_the_audit_explains_the_bytes_the_chown_wasted(tmp_path: Path) -> None:
    archive = write_image(spec(), tmp_path / "image.tar")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    result = CliRunner().invoke(
        main, [str(archive), "--dockerfile", str(tmp_path / "Dockerfile"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, schema())
    found = [f for f in report["findings"] if f["id"] == "files-rewritten-later"]
    # The venv (layer 2) and the code (layer 3) were written again by layer 4: one finding each;
    # the dependency files copied twice (layer 1) are the reference practice, not a finding.
    assert sorted(f["evidence"]["layers"] for f in found) == [[2, 4], [3, 4]]
    # Every byte of those two layers, no more.
    shipped = {layer["index"]: layer["size_bytes"] for layer in report["layers"]}
    assert sum(f["estimated_savings_bytes"] for f in found) == shipped[2] + shipped[3]
    venv_finding = max(found, key=lambda f: f["estimated_savings_bytes"])
    assert [line["start"] for line in venv_finding["dockerfile_lines"]] == [5, 7]
    assert "changes owner or mode" in venv_finding["fix"]["text"]
    terminal = CliRunner().invoke(main, [str(archive)])
    assert "files-rewritten-later" in terminal.stdout
    assert "fix: Set owner and mode where the files are written\n" in terminal.stdout


def test_lint_flags_the_chown_and_fix_hands_the_files_over(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    lint = CliRunner().invoke(main, ["lint", str(tmp_path / "Dockerfile")])
    assert ":7: files-rewritten-later: warning:" in lint.stdout
    fixed = CliRunner().invoke(
        main, ["fix", "--dockerfile", str(tmp_path / "Dockerfile"), "-o", str(tmp_path / "fixed")]
    )
    assert fixed.exit_code == 0, fixed.output
    text = (tmp_path / "fixed").read_text()
    assert "COPY --from=builder --chown=app:app /app/.venv /app/.venv" in text
    assert "chown -R" not in text
    relinted = CliRunner().invoke(main, ["lint", str(tmp_path / "fixed")])
    assert "files-rewritten-later" not in relinted.stdout


@pytest.mark.parametrize(
    ("between", "handed"),
    [
        ("EXPOSE 8000", True),
        ('CMD ["python", "-m", "tally", "--serve"]', True),
        ("ENV PYTHONUNBUFFERED=1", True),
        ("WORKDIR /app", True),
        ("ENV APP_USER=app", False),  # the RUN below reads it
        ("WORKDIR /app/logs", False),  # a directory the chown hands over, made between
        ("VOLUME /app/logs", False),
    ],
)
def test_lint_and_fix_agree_across_an_instruction_between_copy_and_chown(
    tmp_path: Path, between: str, handed: bool
) -> None:
    # What the COPY wrote is rewritten by the chown whatever stands between them: lint says so,
    # and fix either hands the files over (its own lint is clean) or says why it keeps the chown
    # (its own lint still reports that one RUN, no other).
    chown = "RUN useradd -m app && chown -R ${APP_USER:-app}:app /app"
    dockerfile = DOCKERFILE.replace("RUN useradd -m app && chown -R app:app /app\n", f"{between}\n{chown}\n")
    (tmp_path / "Dockerfile").write_text(dockerfile)
    lint = CliRunner().invoke(main, ["lint", str(tmp_path / "Dockerfile")])
    assert ":8: files-rewritten-later: warning:" in lint.stdout
    fixed = CliRunner().invoke(
        main, ["fix", "--dockerfile", str(tmp_path / "Dockerfile"), "-o", str(tmp_path / "fixed")]
    )
    assert fixed.exit_code == 0, fixed.output
    text = (tmp_path / "fixed").read_text()
    said = " ".join(fixed.stderr.split())
    relinted = CliRunner().invoke(main, ["lint", str(tmp_path / "fixed")])
    found = [line for line in relinted.stdout.splitlines() if "files-rewritten-later" in line]
    if handed:
        assert "COPY --from=builder --chown=app:app /app/.venv /app/.venv" in text
        assert "COPY --chown=app:app . ." in text
        assert f"\n{between}\n" in text
        assert "chown -R" not in text
        assert found == []
        assert "line 8: /app copied with --chown=app:app" in said
    else:
        assert "--chown" not in text
        kept = text.splitlines().index(chown) + 1
        assert [line.split(": ")[0] for line in found] == [f"{tmp_path / 'fixed'}:{kept}"]
        assert "line 8: `chown -R` kept (files-rewritten-later): " in said


def test_dev_packages_the_chown_rewrote_point_at_the_install_line(tmp_path: Path) -> None:
    # The venv held a dev-only package (pytest) when `chown -R` wrote it again: its final copy
    # ships in the chown's layer, but `--dockerfile` names the install (line 5), where the fix
    # (install without dev) goes, not the chown (line 7), which files-rewritten-later names.
    pytest_files = distribution(
        SITE, "pytest", "8.3.3", {"pytest/__init__.py": 30_000, "pytest/main.py": 9_000}
    )
    archive = write_image(spec(pytest_files), tmp_path / "image.tar")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    result = CliRunner().invoke(
        main, [str(archive), "--dockerfile", str(tmp_path / "Dockerfile"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [dev] = [f for f in report["findings"] if f["id"] == "dev-dependencies-installed"]
    assert dev["evidence"]["layers"] == [2]
    assert [line["start"] for line in dev["dockerfile_lines"]] == [5]
    assert "poetry install" in dev["dockerfile_lines"][0]["instruction"]
    # The bytes are those of the final copies (what `--without dev` removes), as before.
    assert dev["estimated_savings_bytes"] == sum(len(f.data) for f in pytest_files)
    # The chown's own finding still names both lines.
    rewrites = [f for f in report["findings"] if f["id"] == "files-rewritten-later"]
    venv_finding = max(rewrites, key=lambda f: f["estimated_savings_bytes"])
    assert [line["start"] for line in venv_finding["dockerfile_lines"]] == [5, 7]
    # So the pragma that lint honours above the install silences the audit's finding too.
    (tmp_path / "Dockerfile").write_text(
        DOCKERFILE.replace("RUN POETRY", "# imgaudit ignore=dev-dependencies-installed\nRUN POETRY")
    )
    silenced = CliRunner().invoke(
        main, [str(archive), "--dockerfile", str(tmp_path / "Dockerfile"), "--format", "json"]
    )
    ids = {f["id"] for f in json.loads(silenced.stdout)["findings"]}
    assert "dev-dependencies-installed" not in ids
    assert "files-rewritten-later" in ids
