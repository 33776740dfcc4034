"""poetry.lock in every format Poetry wrote (real files from tests/assets/locks), pyproject variants."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from imgaudit.classify.devdeps import decide_dev_only
from imgaudit.classify.lockfiles import parse_poetry_lock
from imgaudit.classify.project import ProjectFiles, declared_roots
from imgaudit.errors import ClassifyError
from imgaudit.model import Confidence, DevSource

LOCKS = Path(__file__).parents[2] / "assets" / "locks"
FORMATS = {"poetry-1.1": "1.1", "poetry-1.8": "2.0", "poetry-2": "2.1"}
MAIN = {"six", "idna", "packaging"}  # the fixture project's main dependencies


def project(name: str, *, pyproject: bool = True) -> ProjectFiles:
    files = {"poetry.lock": (LOCKS / name / "poetry.lock").read_bytes()}
    if pyproject:
        files["pyproject.toml"] = (LOCKS / name / "pyproject.toml").read_bytes()
    return ProjectFiles(f"/{name}", files)


def locked_names(name: str) -> set[str]:
    document = tomllib.loads((LOCKS / name / "poetry.lock").read_text())
    return {p["name"].lower() for p in document["package"]}


@pytest.mark.parametrize("name", FORMATS)
def test_every_lock_format_parses_with_its_version(name: str) -> None:
    lock = parse_poetry_lock((LOCKS / name / "poetry.lock").read_bytes())
    assert lock.lock_version == FORMATS[name]
    assert set(lock.packages) == locked_names(name)
    assert {d.name for d in lock.packages["pytest"].dependencies} >= {"pluggy", "iniconfig", "packaging"}


@pytest.mark.parametrize("name", FORMATS)
def test_dev_only_is_what_only_the_dev_group_reaches(name: str) -> None:
    verdict = decide_dev_only(project(name), {})
    # Everything the lock holds beyond the main roots came in for pytest; packaging is needed
    # by main and by pytest, so it is not dev-only.
    assert set(verdict.dev_only) == locked_names(name) - MAIN
    assert "packaging" not in verdict.dev_only
    assert verdict.dev_only["pytest"] == "dev dependency (dev)"
    assert verdict.dev_only["pluggy"] == "required by pytest (dev)"
    assert verdict.dependencies.source is DevSource.POETRY_LOCK
    assert verdict.dependencies.confidence is Confidence.HIGH
    assert verdict.dependencies.roots == ("pytest (dev)",)


def test_old_dev_dependencies_table_and_poetry_groups_are_both_dev() -> None:
    declared = declared_roots((LOCKS / "poetry-1.1" / "pyproject.toml").read_bytes(), "pyproject.toml")
    assert [r.name for r in declared.dev] == ["pytest"]
    assert {r.name for r in declared.main} == MAIN  # `python` is no dependency


@pytest.mark.parametrize("name", ["poetry-1.1", "poetry-2"])
def test_a_lock_without_its_pyproject_still_tells_by_category_or_groups(name: str) -> None:
    verdict = decide_dev_only(project(name, pyproject=False), {})
    assert "pytest" in verdict.dev_only and "packaging" not in verdict.dev_only
    assert not MAIN & set(verdict.dev_only)


def test_a_2_0_lock_without_pyproject_cannot_tell_and_falls_back_to_the_heuristic() -> None:
    verdict = decide_dev_only(project("poetry-1.8", pyproject=False), {"pytest": [], "six": []})
    assert verdict.dependencies.source is DevSource.HEURISTIC
    assert verdict.dependencies.confidence is Confidence.HEURISTIC
    assert set(verdict.dev_only) == {"pytest"}


def test_pep_621_dev_extras_and_pep_735_groups_with_includes() -> None:
    declared = declared_roots(
        b"""
[project]
name = "svc"
dependencies = ["Requests[socks]>=2", "attrs"]
[project.optional-dependencies]
postgres = ["psycopg"]
test = ["pytest-cov"]
[dependency-groups]
lint = ["ruff"]
dev = [{include-group = "lint"}, "mypy>=1"]
[tool.poetry.group.docs.dependencies]
sphinx = "*"
[tool.poetry.group.main.dependencies]
gunicorn = "*"
""",
        "pyproject.toml",
    )
    assert {(r.name, r.group) for r in declared.main} == {
        ("requests", "main"),
        ("attrs", "main"),
        ("psycopg", "extra:postgres"),  # a feature extra ships
        ("gunicorn", "main"),
    }
    assert next(r for r in declared.main if r.name == "requests").extras == frozenset({"socks"})
    assert {(r.name, r.group) for r in declared.dev} == {
        ("pytest-cov", "extra:test"),
        ("ruff", "lint"),
        ("ruff", "dev"),
        ("mypy", "dev"),
        ("sphinx", "docs"),
    }


def test_optional_dependencies_count_only_through_the_extras_that_ask_for_them() -> None:
    lock = b"""
[[package]]
name = "app-lib"
version = "1"
[package.dependencies]
brotli = {version = "*", optional = true}
[package.extras]
speed = ["brotli (>=1)"]

[[package]]
name = "brotli"
version = "1"

[[package]]
name = "pytest"
version = "8"
[package.dependencies]
app-lib = {version = "*", extras = ["speed"]}

[metadata]
lock-version = "2.0"
"""
    pyproject = (
        b'[tool.poetry.dependencies]\napp-lib = "*"\n[tool.poetry.group.test.dependencies]\npytest = "*"\n'
    )
    verdict = decide_dev_only(ProjectFiles("/p", {"poetry.lock": lock, "pyproject.toml": pyproject}), {})
    # brotli only comes with app-lib[speed], which only pytest asks for.
    assert verdict.dev_only == {"pytest": "dev dependency (test)", "brotli": "required by pytest (test)"}


@pytest.mark.parametrize(
    "lock",
    [
        b"[[package]\nname = ",  # not TOML
        b'[[package]]\nname = "x"\n',  # no version, no metadata
        b"package = 3\n[metadata]\nlock-version = '2.0'\n",
        b'[[package]]\nname = "x"\nversion = "1"\n',  # no lock-version: not a poetry.lock
    ],
)
def test_a_malformed_lock_is_a_classify_error(lock: bytes) -> None:
    with pytest.raises(ClassifyError):
        decide_dev_only(ProjectFiles("/p", {"poetry.lock": lock}), {})


def test_a_malformed_pyproject_is_a_classify_error_naming_the_file() -> None:
    with pytest.raises(ClassifyError, match=r"pyproject\.toml"):
        declared_roots(b"[tool.poetry\n", "/app/pyproject.toml")
