"""fix's runtime has no Poetry, uv, PDM or Pipenv and no venv but the one it copies: it refuses,
in one line, a build whose image starts the tool itself (`ENTRYPOINT ["poetry"]`), runs a task
script the tool keeps in the project's files (`pdm run start`, `pipenv run serve`), or deletes
the venv in the RUN that made it. Reproductions of public projects' patterns (held-out survey)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.dockerfile.fix import FixRefused
from tests.unit.dockerfile.test_fix_survey import fix

PDM = "FROM python:3.12-slim\nRUN pip install --no-cache-dir pdm\nWORKDIR /app\nCOPY . .\nRUN pdm install --prod\n"
PIPENV = (
    "FROM python:3.12-slim\nRUN pip install --no-cache-dir pipenv\nWORKDIR /app\nCOPY . .\n"
    "RUN PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy\n"
)
POETRY = "FROM python:3.12-slim\nRUN pip install --no-cache-dir poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN poetry install --only main\n"


PDM_PROJECT = {"pyproject.toml": '[project]\nname = "app"\n[tool.pdm.scripts]\nstart = "gunicorn app:app"\n'}
PIPFILE = {"Pipfile": '[packages]\nflask = "*"\n[scripts]\nserve = "flask run"\n'}


@pytest.mark.parametrize(
    ("dockerfile", "files", "message"),
    [
        (PDM + 'CMD ["pdm", "run", "start"]\n', PDM_PROJECT, "runs the project's pdm script `start`"),
        (PDM + "CMD pdm run start\n", PDM_PROJECT, "runs the project's pdm script `start`"),
        (PDM + 'CMD ["pdm", "start"]\n', PDM_PROJECT, "runs the project's pdm script `start`"),
        (PIPENV + 'CMD ["pipenv", "run", "serve"]\n', PIPFILE, "runs the project's pipenv script `serve`"),
        (POETRY + 'ENTRYPOINT ["poetry"]\nCMD ["run", "app"]\n', {}, "runs the tool itself"),
        (POETRY + 'CMD ["/usr/local/bin/poetry", "shell"]\n', {}, "runs the tool itself"),
    ],
)
def test_an_image_that_starts_the_tool_is_refused(
    tmp_path: Path, dockerfile: str, files: dict[str, str], message: str
) -> None:
    with pytest.raises(FixRefused, match=message):
        fix(tmp_path, dockerfile, files)


@pytest.mark.parametrize(
    ("dockerfile", "files", "command"),
    [
        # A program the venv holds (a console script, a module): `pdm run` is dropped.
        (PDM + 'CMD ["pdm", "run", "gunicorn", "app:app"]\n', PDM_PROJECT, 'CMD ["gunicorn", "app:app"]'),
        (PIPENV + 'CMD ["pipenv", "run", "flask", "run"]\n', PIPFILE, 'CMD ["flask", "run"]'),
        (POETRY + 'CMD ["poetry", "run", "python", "-m", "app"]\n', {}, 'CMD ["python", "-m", "app"]'),
    ],
)
def test_a_program_run_through_the_tool_runs_as_it_is(
    tmp_path: Path, dockerfile: str, files: dict[str, str], command: str
) -> None:
    assert command in fix(tmp_path, dockerfile, files)


def test_a_venv_the_install_s_run_deletes_is_refused(tmp_path: Path) -> None:
    dockerfile = (
        "FROM python:3.12-slim\nRUN pip install --no-cache-dir poetry==1.8.5\nCOPY . /tmp/src\n"
        "RUN cd /tmp/src && poetry config virtualenvs.in-project true && poetry install --no-root "
        "&& cd && rm -rf /tmp/src\n"
        'CMD ["python", "-m", "app"]\n'
    )
    with pytest.raises(FixRefused, match=r"line 4: the RUN deletes /tmp/src/\.venv after `poetry install`"):
        fix(tmp_path, dockerfile, {})
