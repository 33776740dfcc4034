"""lint's `{tool}-run-without-{tool}`: the final image starts with `poetry`, `uv`, `pdm` or
`pipenv` (`CMD ["uv", "run", "server.py"]`), which only a builder stage had. Held-out survey: a
uv builder (`pip install uv && uv sync`) whose runtime copied the venv and ran `uv run`."""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject
from imgaudit.findings.catalogue import entry

TODAY = dt.date(2026, 12, 1)
BUILDERS = {
    "poetry": "RUN pip install --no-cache-dir poetry==1.8.5 && poetry install --only main",
    "uv": "RUN pip install --no-cache-dir uv && uv sync --no-dev --no-cache",
    "pdm": "RUN pip install --no-cache-dir pdm && pdm install --prod",
    "pipenv": "RUN pip install --no-cache-dir pipenv && PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy",
}


def _hints(builder: str, runtime: str, start: str) -> list[tuple[str, int]]:
    text = (
        f"FROM python:3.11-slim AS builder\nWORKDIR /app\nCOPY . .\n{builder}\n\n"
        f"FROM python:3.11-slim\nWORKDIR /app\n{runtime}COPY --from=builder /app/.venv /app/.venv\n"
        f'ENV PATH="/app/.venv/bin:$PATH"\nCOPY . .\n{start}\n'
    )
    hints = lint(read_build(parse_dockerfile(text), ContextProject()), TODAY)
    return [(h.id, h.line) for h in hints if h.id.endswith("-run-without-" + h.id.split("-")[0])]


@pytest.mark.parametrize("tool", sorted(BUILDERS))
@pytest.mark.parametrize("form", ['CMD ["{tool}", "run", "server.py"]', "CMD {tool} run server.py"])
def test_a_start_command_through_a_tool_the_runtime_lacks_is_an_error(tool: str, form: str) -> None:
    found = _hints(BUILDERS[tool], "", form.format(tool=tool))
    assert found == [(f"{tool}-run-without-{tool}", 11)]
    assert entry(found[0][0]).level == "error"


@pytest.mark.parametrize("tool", sorted(BUILDERS))
def test_no_finding_when_the_runtime_has_the_tool(tool: str) -> None:
    runtime = f"RUN pip install --no-cache-dir {tool}\n"
    assert _hints(BUILDERS[tool], runtime, f'CMD ["{tool}", "run", "server.py"]') == []


def test_no_finding_for_a_program_of_the_venv() -> None:
    assert _hints(BUILDERS["uv"], "", 'CMD ["python", "server.py"]') == []
