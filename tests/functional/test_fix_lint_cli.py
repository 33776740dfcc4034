"""`imgaudit fix`, `imgaudit lint` and the advisor's audit options, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from imgaudit.report.json import schema
from tests.support.imagespec import File, ImageSpec, Layer, write_image
from tests.unit.advise.naive import NAIVE_DOCKERFILE, naive_spec

# The reference article's final Dockerfile, mistakes included.
ARTICLE = """\
# The builder image, used to build the virtual environment
FROM python:3.11-buster as builder

RUN pip install poetry==1.11.1

ENV POETRY_NO_INTERACTION=1
    POETRY_VIRTUALENVS_IN_PROJECT=1
    POETRY_VIRTUALENVS_CREATE=1
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app

COPY pyproject.toml poetry.lock ./
RUN touch README.md

RUN poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR

# The runtime image, used to just run the code provided its virtual environment
FROM python:3.11-slim-buster as runtime

ENV VIRTUAL_ENV=/app/.venv \\
    PATH="/app/.venv/bin:$PATH"

COPY --from=builder ${VIRTUAL_ENV} ${VIRTUAL_ENV}

COPY app/ ./app

ENTRYPOINT ["poetry", "run", "streamlit", 'run', "app/Streamlit_Tutorial.py"]
"""
PYPROJECT = """\
[project]
name = "tutorial"
version = "0.1.0"
dependencies = ["streamlit"]

[tool.poetry]
packages = [{ include = "app" }]

[tool.poetry.group.dev.dependencies]
pytest = "^8"
"""
ARTICLE_MISTAKES = {
    "env-missing-continuation",
    "exec-form-not-json",
    "poetry-run-without-poetry",
    "runtime-stage-without-workdir",
    "nonexistent-poetry-version",
    "end-of-life-base",
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imgaudit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        check=False,
    )


def project(tmp_path: Path, dockerfile: str = ARTICLE) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Streamlit_Tutorial.py").write_text("print('hi')\n")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    return path


def hint_ids(output: str) -> set[str]:
    return {line.split(": ")[1] for line in output.splitlines() if line}


def test_lint_flags_the_articles_mistakes_with_line_numbers(tmp_path: Path) -> None:
    result = run("lint", str(project(tmp_path)))
    assert result.returncode == 1, result.stderr  # errors and warnings fail by default
    assert hint_ids(result.stdout) >= ARTICLE_MISTAKES
    assert f"{tmp_path / 'Dockerfile'}:7: env-missing-continuation" in result.stdout
    assert f"{tmp_path / 'Dockerfile'}:28: exec-form-not-json" in result.stdout
    assert "bytes" not in result.stdout.lower() and " MB" not in result.stdout


def test_lint_flags_the_naive_patterns(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(NAIVE_DOCKERFILE)
    ids = hint_ids(run("lint", str(path)).stdout)
    assert {
        "unpinned-poetry",
        "dev-dependencies-installed",
        "poetry-cache-in-layer",
        "venv-not-in-project",
        "cache-unfriendly-order",
        "late-deletion",
        "toolchain-at-runtime",
    } <= ids


def test_lint_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = run("lint", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("imgaudit: error: cannot read the Dockerfile")
    assert len(missing.stderr.splitlines()) == 1
    (tmp_path / "Dockerfile").write_text("RUN echo no base\n")
    no_from = run("lint", str(tmp_path / "Dockerfile"))
    assert no_from.returncode == 2 and "no FROM" in no_from.stderr


def test_fix_rewrites_the_article_without_its_mistakes(tmp_path: Path) -> None:
    dockerfile = project(tmp_path)
    result = run("fix", "--dockerfile", str(dockerfile))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("---")  # a unified diff
    fixed = (tmp_path / "Dockerfile.imgaudit").read_text()
    assert "buster" not in fixed
    # The project's dependencies are in [project] (PEP 621), which only Poetry 2 reads.
    assert "poetry==2.1.3" in fixed
    assert 'ENTRYPOINT ["streamlit", "run", "app/Streamlit_Tutorial.py"]' in fixed
    runtime = fixed.split("AS runtime", 1)[1]
    # The article's runtime sets no WORKDIR: it still starts in /, where `app/...` is found.
    assert "WORKDIR" not in runtime and "COPY app/ ./app" in runtime
    (tmp_path / "Dockerfile.imgaudit").rename(tmp_path / "Fixed")
    relinted = hint_ids(run("lint", str(tmp_path / "Fixed")).stdout)
    # runtime-stage-without-workdir (info) stays for the user: a WORKDIR would move where the
    # article's start command runs from (/), and its relative script path with it.
    assert relinted & ARTICLE_MISTAKES == {"runtime-stage-without-workdir"}
    assert not relinted & {"dev-dependencies-installed", "poetry-cache-in-layer", "toolchain-at-runtime"}


def test_fix_on_a_file_with_nothing_to_fix_says_so_and_writes_nothing(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.12 AS builder\nRUN pip install --no-cache-dir poetry==1.8.3\nWORKDIR /app\n"
        "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nCOPY pyproject.toml poetry.lock ./\n\n"
        "# the app's dependencies only\n"
        "RUN poetry install --only main --no-root && rm -rf /root/.cache/pypoetry\n\n"
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY --from=builder /app/.venv /app/.venv\n"
        'COPY app/ ./app\nCMD ["/app/.venv/bin/python", "-m", "app"]\n'
    )
    result = run("fix", "--dockerfile", str(tmp_path / "Dockerfile"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"imgaudit: nothing to fix in {tmp_path / 'Dockerfile'}"]
    assert not (tmp_path / "Dockerfile.imgaudit").exists()


def test_fix_takes_its_facts_from_the_image(tmp_path: Path) -> None:
    archive = write_image(naive_spec(), tmp_path / "image.tar")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(NAIVE_DOCKERFILE)
    result = run(
        "fix", "--dockerfile", str(context / "Dockerfile"), "-o", str(tmp_path / "out"), str(archive)
    )
    assert result.returncode == 0, result.stderr
    fixed = (tmp_path / "out").read_text()
    assert "pip install --no-cache-dir poetry==2.1.3" in fixed  # the version installed in the image
    runtime = fixed.split("AS runtime", 1)[1]
    assert "COPY . /app" in runtime  # the code, where the builder installed the project from
    assert 'CMD ["python", "-m", "greeter"]' in runtime
    assert "RUN rm -rf /root/.cache/pypoetry/artifacts" not in fixed


def test_audit_json_carries_findings_and_plan(tmp_path: Path) -> None:
    archive = write_image(naive_spec(), tmp_path / "image.tar")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(NAIVE_DOCKERFILE)
    result = run(
        str(archive), "--format", "json", "--dockerfile", str(dockerfile), "--ignore", "unpinned-poetry"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema())
    ids = {f["id"] for f in document["findings"]}
    assert "poetry-cache-in-layer" in ids and "unpinned-poetry" not in ids
    late = next(f for f in document["findings"] if f["id"] == "late-deletion")
    assert [line["start"] for line in late["dockerfile_lines"]] == [5, 6]
    plan = document["plan"]
    assert plan["estimated_final_bytes"] == document["image"]["total_bytes"] - plan["estimated_savings_bytes"]


def test_terminal_report_leads_with_the_plan(tmp_path: Path) -> None:
    archive = write_image(naive_spec(), tmp_path / "image.tar")
    result = run(str(archive))
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.index("removable")
        < result.stdout.index("Plan:")
        < result.stdout.index("Final filesystem")
    )


def test_audit_with_a_broken_dockerfile_is_one_line_exit_2(tmp_path: Path) -> None:
    archive = write_image(naive_spec(), tmp_path / "image.tar")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM base\nBOGUS instruction\n")
    result = run(str(archive), "--dockerfile", str(dockerfile))
    assert result.returncode == 2
    assert result.stderr.startswith("imgaudit: error: line 2: unknown instruction 'BOGUS'")
    assert len(result.stderr.splitlines()) == 1


def test_an_image_with_nothing_to_fix_says_so(tmp_path: Path) -> None:
    spec = ImageSpec(layers=[Layer([File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")], "ADD rootfs.tar /")])
    result = run(str(write_image(spec, tmp_path / "clean.tar")))
    assert result.returncode == 0, result.stderr
    assert "Nothing to remove: none of the reference practices' fixes applies" in result.stdout


PIP_DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY app.py .
CMD ["python", "app.py"]
"""


def test_fix_refuses_a_project_without_poetry_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("requests\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(PIP_DOCKERFILE)
    result = run("fix", "--dockerfile", str(dockerfile))
    assert result.returncode == 2
    assert "no `poetry install` in this Dockerfile" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "Dockerfile.imgaudit").exists()


def test_fix_refuses_a_pip_dockerfile_of_a_poetry_project(tmp_path: Path) -> None:
    """fix edits the Dockerfile's own Poetry install; grafting Poetry onto a pip build would
    be a rewrite, so it says so instead."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\ndependencies = []\n')
    (tmp_path / "poetry.lock").write_text('[metadata]\nlock-version = "2.1"\n')
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(PIP_DOCKERFILE)
    result = run("fix", "--dockerfile", str(dockerfile))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "no `poetry install`" in result.stderr
