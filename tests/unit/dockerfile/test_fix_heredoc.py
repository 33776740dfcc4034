"""`imgaudit fix` on RUNs written as heredocs (`RUN <<EOF` ... `EOF`): every edit stays inside the
instruction. A command fix adds after the others is the script's last line, before the
terminator (text after it would start another instruction), or, when the heredoc is a
document the command line reads (`cat <<EOF > file && ...`), the end of that command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.fix import FixRefused
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject
from imgaudit.findings.catalogue import SIZE_IDS
from tests.unit.dockerfile.test_fix import passes_its_own_lint

TODAY = dt.date(2026, 12, 1)
PYPROJECT = '[tool.poetry]\nname = "app"\n\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
POETRY_BUILD = """\
FROM {base}
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root
COPY . .
{after}
CMD ["python", "-m", "app"]
"""


def fixed(tmp_path: Path, dockerfile: str) -> str:
    """The fixed file, which BuildKit's parser reads as known instructions and lint finds no
    size mistake in; as many heredoc RUNs as the user wrote."""
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    text = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result.text
    passes_its_own_lint(text, tmp_path)
    heredocs = [i for i in parse_dockerfile(text).instructions if i.heredocs]
    assert len(heredocs) == sum(bool(i.heredocs) for i in parse_dockerfile(dockerfile).instructions)
    return text


def runtime_of(tmp_path: Path, after: str, base: str = "python:3.12-slim") -> str:
    return fixed(tmp_path, POETRY_BUILD.format(base=base, after=after)).split("AS runtime", 1)[1]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (
            "RUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\nEOF",
            "RUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\n"
            "rm -rf /var/lib/apt/lists/*\nEOF\n",
        ),
        # `<<-` strips the tabs: the added line is indented as the script is.
        (
            "RUN <<-EOF\n\tapt-get update\n\tapt-get install -y --no-install-recommends curl\n\tEOF",
            "RUN <<-EOF\n\tapt-get update\n\tapt-get install -y --no-install-recommends curl\n"
            "\trm -rf /var/lib/apt/lists/*\n\tEOF\n",
        ),
        (
            "RUN bash <<EOF\nset -e\napt-get update\napt-get install -y curl\nEOF",
            "RUN bash <<EOF\nset -e\napt-get update\napt-get install --no-install-recommends -y curl\n"
            "rm -rf /var/lib/apt/lists/*\nEOF\n",
        ),
        (
            "RUN <<'EOF'\napt-get update && apt-get install -y --no-install-recommends curl\nEOF",
            "RUN <<'EOF'\napt-get update && apt-get install -y --no-install-recommends curl\n"
            "rm -rf /var/lib/apt/lists/*\nEOF\n",
        ),
        (
            'RUN --network=host sh -e <<"SCRIPT"\napt-get update\napt-get install -y --no-install-recommends curl\nSCRIPT',
            'RUN --network=host sh -e <<"SCRIPT"\napt-get update\napt-get install -y --no-install-recommends curl\n'
            "rm -rf /var/lib/apt/lists/*\nSCRIPT\n",
        ),
        # The heredoc is a file's content: the command line runs the commands.
        (
            "RUN cat <<EOF > /etc/motd && apt-get update && apt-get install -y --no-install-recommends curl\n"
            "welcome\nEOF",
            "RUN cat <<EOF > /etc/motd && apt-get update && apt-get install -y --no-install-recommends curl "
            "&& rm -rf /var/lib/apt/lists/*\nwelcome\nEOF\n",
        ),
        # Edits inside a line stay there.
        ("RUN <<EOF\npip install gunicorn\nEOF", "RUN <<EOF\npip install --no-cache-dir gunicorn\nEOF\n"),
        ("RUN <<EOF\npoetry run python -m app.migrate\nEOF", "RUN <<EOF\npython -m app.migrate\nEOF\n"),
        # A delete-only RUN joins the heredoc RUN before it as its script's last line.
        (
            "RUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\n"
            "rm -rf /var/lib/apt/lists/*\nEOF\nRUN rm -rf /tmp/downloads",
            "RUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\n"
            "rm -rf /var/lib/apt/lists/*\nrm -rf /tmp/downloads\nEOF\n",
        ),
        # Not a heredoc, but the same helper: a list that ends with `;` takes no `&&` after it.
        (
            "RUN apt-get update; apt-get install -y --no-install-recommends curl;",
            "RUN apt-get update; apt-get install -y --no-install-recommends curl; \\\n    rm -rf /var/lib/apt/lists/*\n",
        ),
    ],
)
def test_fix_keeps_apt_edits_inside_a_heredoc_run(tmp_path: Path, after: str, expected: str) -> None:
    assert expected in runtime_of(tmp_path, after)


def test_apk_and_apt_removals_take_the_same_place_in_a_tab_indented_heredoc(tmp_path: Path) -> None:
    runtime = runtime_of(
        tmp_path, "RUN <<-EOF\n\tapk update\n\tapk info -a curl\n\tEOF", base="python:3.12-alpine"
    )
    assert "RUN <<-EOF\n\tapk update\n\tapk info -a curl\n\trm -rf /var/cache/apk/*\n\tEOF\n" in runtime


def test_the_builder_s_heredoc_pip_install_of_poetry_is_pinned_in_its_line(tmp_path: Path) -> None:
    text = fixed(
        tmp_path,
        POETRY_BUILD.format(base="python:3.12-slim", after="").replace(
            "RUN pip install --no-cache-dir poetry==1.8.3", "RUN <<EOF\nset -e\npip install poetry\nEOF"
        ),
    )
    builder = text.split("AS runtime", 1)[0]
    assert "RUN <<EOF\nset -e\npip install --no-cache-dir poetry==1.8.5\nEOF\n" in builder


# --- the install itself in a heredoc --------------------------------------------------------------

HEREDOC_INSTALL = """\
FROM python:3.12-slim
RUN pip install --no-cache-dir {tool}
WORKDIR /app
COPY . .
RUN <<EOF
set -e
{install}
echo installed
EOF
CMD ["python", "-m", "app"]
"""


def test_a_poetry_install_in_a_heredoc_gets_its_flags_in_its_line_and_a_cache_mount(tmp_path: Path) -> None:
    """A heredoc needs BuildKit, so the cache goes in a cache mount; the flags go on the
    install's own line, the lines after it untouched."""
    (tmp_path / "poetry.lock").write_text("")
    text = fixed(tmp_path, HEREDOC_INSTALL.format(tool="poetry==1.8.3", install="poetry install"))
    builder = text.split("AS runtime", 1)[0]
    assert (
        "RUN --mount=type=cache,target=/root/.cache/pypoetry <<EOF\nset -e\n"
        "poetry install --without dev\necho installed\nEOF\n"
    ) in builder


def test_a_uv_sync_in_a_heredoc_gets_its_dependencies_first_run_and_its_flag(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    (tmp_path / "Dockerfile").write_text(HEREDOC_INSTALL.format(tool="uv==0.5.4", install="uv sync"))
    text = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result.text
    passes_its_own_lint(text, tmp_path)
    builder = text.split("AS runtime", 1)[0]
    assert (
        "RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-install-project\n"
        "COPY . .\n"
        "RUN --mount=type=cache,target=/root/.cache/uv <<EOF\nset -e\n"
        "uv sync --locked\necho installed\nEOF\n"
    ) in builder


def test_an_install_in_a_heredoc_that_is_no_script_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        HEREDOC_INSTALL.format(tool="poetry==1.8.3", install="poetry install").replace(
            "RUN <<EOF\nset -e\npoetry install\n", "RUN cat <<EOF > /etc/motd && poetry install\nwelcome\n"
        )
    )
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    with pytest.raises(
        FixRefused, match=r"^line 5: the `poetry install` is in a heredoc that is not the RUN's script"
    ):
        run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY)


# --- what lint reads as the RUN's commands ---------------------------------------------------------


def lint_ids(text: str) -> list[tuple[str, int]]:
    build = read_build(parse_dockerfile(text), ContextProject(), None, {})
    return [(h.id, h.line) for h in lint(build, TODAY) if h.id in SIZE_IDS]


def test_lint_reads_the_command_line_of_a_run_whose_heredoc_is_a_document() -> None:
    motd = (
        "FROM python:3.12-slim\n"
        "RUN cat <<EOF > /etc/motd && apt-get update && apt-get install -y --no-install-recommends curl\n"
        "pip install requests\nEOF\n"
    )
    assert lint_ids(motd) == [("apt-lists-left", 2)]  # the document's text is no command
    script = "FROM python:3.12-slim\nRUN bash <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\nEOF\n"
    assert lint_ids(script) == [("apt-lists-left", 2)]
