"""`imgaudit fix` edits the user's Dockerfile: over the whole corpus, and pattern by pattern."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.commands import project_dir, run_fix
from imgaudit.dockerfile.fix import FixRefused
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import ParsedDockerfile, checked, parse_dockerfile
from imgaudit.dockerfile.project import read_context
from imgaudit.findings.catalogue import SIZE_IDS

CORPUS = Path(__file__).parents[2] / "assets" / "dockerfiles"
TODAY = dt.date(2026, 12, 1)
KEPT_KEYWORDS = ("USER", "EXPOSE", "HEALTHCHECK", "LABEL", "VOLUME", "CMD", "ENTRYPOINT")
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if (p / "Dockerfile").is_file())


def passes_its_own_lint(text: str, directory: Path) -> ParsedDockerfile:
    """What every fixed file must hold: no size finding from lint, no dangling stage reference."""
    parsed = checked(parse_dockerfile(text))
    project = read_context(project_dir(parsed, directory))  # as `imgaudit lint` reads it
    size = [h for h in lint(read_build(parsed, project), TODAY) if h.id in SIZE_IDS]
    assert size == [], f"{size}\n{text}"
    defined: set[str] = set()
    for stage in parsed.stages:
        for item in stage.instructions:
            for flag in item.flags:
                if flag.startswith("--from=") and re.fullmatch(r"[A-Za-z][\w-]*", flag[7:]):
                    assert flag[7:].lower() in defined, f"dangling {flag}"
        if stage.name:
            defined.add(stage.name.lower())
    return parsed


def fixed_text(directory: Path) -> str:
    return run_fix(directory / "Dockerfile", directory, None, TODAY).result.text


@pytest.mark.parametrize("directory", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_fix_output_passes_its_own_lint_or_fix_refuses_in_one_line(directory: Path) -> None:
    try:
        text = fixed_text(directory)
    except FixRefused as refused:
        assert "\n" not in str(refused)
        return
    parsed = passes_its_own_lint(text, directory)
    original = parse_dockerfile((directory / "Dockerfile").read_text())
    for keyword in KEPT_KEYWORDS:
        before = sum(i.keyword == keyword for i in original.instructions)
        assert sum(i.keyword == keyword for i in parsed.instructions) >= before, keyword


def test_fix_covers_most_of_the_poetry_corpus() -> None:
    poetry = [p for p in CORPUS_FILES if p.name.startswith("poetry-")]
    fixed = [p for p in poetry if _fixes(p)]
    assert len(fixed) >= 20


def _fixes(directory: Path) -> bool:
    try:
        fixed_text(directory)
    except FixRefused:
        return False
    return True


def project(tmp_path: Path, dockerfile: str, pyproject: str = "") -> Path:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / "pyproject.toml").write_text(
        pyproject or '[tool.poetry]\nname = "app"\n\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
    )
    return tmp_path


def test_a_single_stage_is_split_keeping_users_packages_extras_and_the_entrypoint(tmp_path: Path) -> None:
    text = fixed_text(
        project(
            tmp_path,
            """\
FROM python:3.12-slim-bookworm
ARG APP_ENV=prod
ENV PYTHONUNBUFFERED=1 POETRY_VIRTUALENVS_CREATE=false
RUN apt-get update && apt-get install -y --no-install-recommends file libmagic-dev gcc \\
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home app
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /srv
COPY pyproject.toml poetry.lock ./
COPY docker-entrypoint.sh /usr/local/bin/
RUN poetry install --only main -E s3 --no-root
COPY src ./src
USER app
EXPOSE 8000
HEALTHCHECK CMD python -c "print(1)"
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["poetry", "run", "serve"]
""",
        )
    )
    builder, runtime = text.split("AS runtime", 1)
    assert "FROM python:3.12-slim-bookworm AS runtime" in text  # no -slim-slim
    assert "poetry install --only main -E s3 --no-root" in builder  # flags kept
    assert "gcc" in builder and "gcc" not in runtime
    assert "install -y --no-install-recommends file libmagic1" in runtime
    assert "RUN useradd --create-home app" in runtime and "USER app" in runtime
    assert "ARG APP_ENV=prod" in runtime and "PYTHONUNBUFFERED=1" in runtime
    assert "POETRY_VIRTUALENVS_CREATE" not in runtime
    assert "COPY --from=builder /srv/.venv /srv/.venv" in runtime
    assert "COPY docker-entrypoint.sh /usr/local/bin/" in runtime
    assert "COPY src ./src" in runtime and 'ENTRYPOINT ["docker-entrypoint.sh"]' in runtime
    assert 'CMD ["serve"]' in runtime and "EXPOSE 8000" in runtime and "HEALTHCHECK" in runtime
    assert "POETRY_VIRTUALENVS_IN_PROJECT=1" in builder  # overrides the ENV create=false


def test_the_flags_follow_the_pinned_poetry(tmp_path: Path) -> None:
    old = "FROM python:3.8\nRUN pip install poetry==1.1.13\nWORKDIR /app\nCOPY . .\nRUN poetry install\n"
    assert "poetry install --no-dev" in fixed_text(project(tmp_path, old))
    groups = '[tool.poetry]\nname = "a"\n[tool.poetry.group.dev.dependencies]\n[tool.poetry.group.test.dependencies]\n'
    new = old.replace("1.1.13", "1.8.3")
    assert "poetry install --without dev,test" in fixed_text(project(tmp_path, new, groups))


def test_a_runtime_built_from_the_builder_gets_a_fresh_base(tmp_path: Path) -> None:
    text = fixed_text(
        project(
            tmp_path,
            "FROM python:3.11 AS builder\nENV POETRY_VIRTUALENVS_IN_PROJECT=1\nWORKDIR /app\n"
            "RUN pip install poetry==1.8.3\nCOPY . .\nRUN poetry install --only main\n"
            'FROM builder AS web\nCMD ["gunicorn", "app:wsgi"]\n',
        )
    )
    assert "FROM python:3.11-slim AS web" in text
    assert "COPY --from=builder /app/.venv /app/.venv" in text.split("AS web", 1)[1]


def test_what_cannot_be_fixed_safely_is_refused(tmp_path: Path) -> None:
    conditional = "FROM python:3.12\nRUN if [ -f dev.txt ]; then poetry install; fi\n"
    with pytest.raises(FixRefused, match="inside a shell condition"):
        fixed_text(project(tmp_path, conditional))


def test_a_runtime_run_with_a_quote_left_open_is_kept_not_a_traceback(tmp_path: Path) -> None:
    """Found by fuzzing `fix` over the corpus: shlex raised "No closing quotation" out of fix.
    The build would fail on that line; fix still edits the file around it."""
    text = fixed_text(
        project(
            tmp_path,
            """\
FROM python:3.12-slim
RUN pip install poetry==1.8.3
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --no-root
RUN echo "not closed >> /etc/motd
CMD ["python", "-m", "app"]
""",
        )
    )
    assert 'RUN echo "not closed >> /etc/motd' in text
