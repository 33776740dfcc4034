"""`imgaudit fix` builds the venv on the full `python:X.Y` image and runs it on `-slim`: a
dependency that compiles there against a header the full image carries (psycopg2 against
libpq-dev) loads that header's library at run time, which the slim image lacks. The runtime gets
the library when the context's lock or requirements name such a dependency, and a note when the
context names no dependencies at all."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from imgaudit.dockerfile.build import installs_os_packages, os_packages, read_build
from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.fix import FixResult
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import read_context
from tests.unit.dockerfile.test_fix import passes_its_own_lint

TODAY = dt.date(2026, 12, 1)
PIPENV = """\
FROM {base}
WORKDIR /code
COPY Pipfile Pipfile.lock ./
RUN {apt}pip install pipenv && pipenv install --system --deploy
COPY . .
CMD ["python", "-m", "app"]
"""
POETRY = """\
FROM python:3.11
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root
COPY . .
CMD ["python", "-m", "app"]
"""
UV = """\
FROM python:3.12-bookworm
COPY --from=ghcr.io/astral-sh/uv:0.5.11 /uv /bin/uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev
COPY . .
CMD ["python", "-m", "app"]
"""
POETRY_PYPROJECT = '[tool.poetry]\nname = "app"\n\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
UV_PYPROJECT = '[project]\nname = "app"\nversion = "1"\ndependencies = ["mysqlclient", "pycurl"]\n'
PSYCOPG2_FILES = [
    "psycopg2-2.9.9-cp311-cp311-win_amd64.whl",
    "psycopg2-2.9.9-cp311-cp311-win32.whl",
    "psycopg2-2.9.9.tar.gz",
]
PYCURL_WHEELS = [
    "pycurl-7.45.7-cp311-cp311-manylinux_2_28_x86_64.whl",
    "pycurl-7.45.7-cp311-cp311-manylinux_2_28_aarch64.whl",
    "pycurl-7.45.7-cp312-cp312-manylinux_2_28_x86_64.whl",
    "pycurl-7.45.7-cp312-cp312-manylinux_2_28_aarch64.whl",
    "pycurl-7.45.7.tar.gz",
]


def pipfile_lock(*names: str) -> str:
    default = {name: {"hashes": ["sha256:0"], "version": "==1.0"} for name in names}
    return json.dumps(
        {"_meta": {"pipfile-spec": 6, "requires": {}, "sources": []}, "default": default, "develop": {}}
    )


def poetry_lock(packages: dict[str, list[str]]) -> str:
    entries = [
        f'[[package]]\nname = "{name}"\nversion = "1.0"\noptional = false\npython-versions = "*"\nfiles = [\n'
        + "".join(f'    {{file = "{file}", hash = "sha256:0"}},\n' for file in files)
        + "]\n"
        for name, files in packages.items()
    ]
    return (
        "\n".join(entries)
        + '\n[metadata]\nlock-version = "2.0"\npython-versions = "^3.11"\ncontent-hash = "0"\n'
    )


def uv_lock(packages: dict[str, list[str]]) -> str:
    base = "https://files.pythonhosted.org/packages/00"
    entries = ['[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\ndependencies = [\n'
               + "".join(f'    {{ name = "{name}" }},\n' for name in packages) + "]\n"]  # fmt: skip
    for name, files in packages.items():
        sdist = next((f for f in files if f.endswith(".tar.gz")), None)
        wheels = [f for f in files if f.endswith(".whl")]
        text = f'[[package]]\nname = "{name}"\nversion = "1.0"\nsource = {{ registry = "https://pypi.org/simple" }}\n'
        if sdist:
            text += f'sdist = {{ url = "{base}/{sdist}", hash = "sha256:0", size = 1 }}\n'
        if wheels:
            text += (
                "wheels = [\n"
                + "".join(f'    {{ url = "{base}/{w}", hash = "sha256:0" }},\n' for w in wheels)
                + "]\n"
            )
        entries.append(text)
    return 'version = 1\nrequires-python = ">=3.12"\n\n' + "\n".join(entries)


def runtime_apt_packages(result: FixResult, directory: Path) -> list[str]:
    """The apt packages the fixed file's runtime stage installs, read back from the file."""
    passes_its_own_lint(result.text, directory)
    parsed = parse_dockerfile(result.text)
    build = read_build(parsed, read_context(directory))
    return [
        package
        for step in build.final.runs
        for command in step.commands
        if installs_os_packages(command) and command.name != "apk"
        for package in os_packages(command)
    ]


def fix_pipenv(tmp_path: Path, lock: str | None, base: str = "python:3.11", apt: str = "") -> FixResult:
    (tmp_path / "Dockerfile").write_text(PIPENV.format(base=base, apt=apt))
    (tmp_path / "Pipfile").write_text('[packages]\npsycopg2 = "==2.9.9"\n')
    if lock is not None:
        (tmp_path / "Pipfile.lock").write_text(lock)
    return run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result


def test_psycopg2_built_on_the_full_image_gets_libpq_in_the_slim_runtime(tmp_path: Path) -> None:
    result = fix_pipenv(tmp_path, pipfile_lock("psycopg2"))
    assert "FROM python:3.11-slim AS runtime" in result.text
    assert runtime_apt_packages(result, tmp_path) == ["libpq5"]
    runtime = result.text.split("AS runtime", 1)[1]
    assert "apt-get install -y --no-install-recommends libpq5" in runtime
    assert "rm -rf /var/lib/apt/lists/*" in runtime
    assert any("libpq5" in note and "psycopg2" in note and "libpq-dev" in note for note in result.notes)


@pytest.mark.parametrize(
    "names", [("psycopg2-binary",), ("pymysql", "requests"), ("psycopg", "psycopg-binary")]
)
def test_dependencies_with_linux_wheels_or_no_c_library_need_nothing(
    tmp_path: Path, names: tuple[str, ...]
) -> None:
    result = fix_pipenv(tmp_path, pipfile_lock(*names))
    assert runtime_apt_packages(result, tmp_path) == []
    assert not any("may need" in note for note in result.notes)


def test_psycopg_without_its_binary_loads_libpq(tmp_path: Path) -> None:
    result = fix_pipenv(tmp_path, pipfile_lock("psycopg", "typing-extensions"))
    assert runtime_apt_packages(result, tmp_path) == ["libpq5"]


def test_a_slim_builder_has_no_headers_to_build_against(tmp_path: Path) -> None:
    result = fix_pipenv(tmp_path, pipfile_lock("psycopg2"), base="python:3.11-slim")
    assert runtime_apt_packages(result, tmp_path) == []


def test_a_header_the_file_installs_gives_its_library_once(tmp_path: Path) -> None:
    apt = "apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/* && "
    result = fix_pipenv(tmp_path, pipfile_lock("psycopg2"), apt=apt)
    assert runtime_apt_packages(result, tmp_path) == ["libpq5"]


def test_without_a_lock_or_requirements_a_note_says_what_may_be_missing(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        PIPENV.format(base="python:3.11", apt="").replace(" Pipfile.lock", "")
    )
    (tmp_path / "Dockerfile").write_text(
        (tmp_path / "Dockerfile").read_text().replace("--system --deploy", "--system")
    )
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    assert runtime_apt_packages(result, tmp_path) == []
    assert any(
        "may need" in note and "python:3.11-slim" in note and "compiled" in note for note in result.notes
    ), result.notes


def test_a_poetry_lock_without_a_linux_wheel_means_a_source_build(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(POETRY)
    (tmp_path / "pyproject.toml").write_text(POETRY_PYPROJECT)
    (tmp_path / "poetry.lock").write_text(poetry_lock({"psycopg2": PSYCOPG2_FILES, "pycurl": PYCURL_WHEELS}))
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    # pycurl 7.45.7 has manylinux wheels for the builder's Python: pip takes one, nothing to build.
    assert runtime_apt_packages(result, tmp_path) == ["libpq5"]


def test_a_wheel_for_one_architecture_only_still_builds_on_the_other(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(POETRY)
    (tmp_path / "pyproject.toml").write_text(POETRY_PYPROJECT)
    x86_only = [f for f in PYCURL_WHEELS if "aarch64" not in f]
    (tmp_path / "poetry.lock").write_text(poetry_lock({"pycurl": x86_only}))
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    assert runtime_apt_packages(result, tmp_path) == ["libcurl4"]


def test_a_uv_lock_wheel_for_another_python_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(UV)
    (tmp_path / "pyproject.toml").write_text(UV_PYPROJECT)
    old_pycurl = [
        f.replace("cp312-cp312", "cp38-cp38").replace("cp311-cp311", "cp39-cp39") for f in PYCURL_WHEELS
    ]
    (tmp_path / "uv.lock").write_text(
        uv_lock({"mysqlclient": ["mysqlclient-2.2.4.tar.gz"], "pycurl": old_pycurl})
    )
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    assert "FROM python:3.12-slim-bookworm AS runtime" in result.text
    assert runtime_apt_packages(result, tmp_path) == ["libmariadb3", "libcurl4"]
