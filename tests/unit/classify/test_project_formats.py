"""uv.lock, pdm.lock, Pipfile.lock and pip-compiled requirements, as the real tools wrote them
(tests/assets/locks, made by make_format_locks.sh), and the registry every stage reads."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from imgaudit.classify.devdeps import decide_dev_only
from imgaudit.classify.project import find_project
from imgaudit.classify.projects.interface import ProjectFiles
from imgaudit.classify.projects.pdm import parse_pdm_lock
from imgaudit.classify.projects.pipenv import parse_pipfile_lock
from imgaudit.classify.projects.registry import (
    FORMATS,
    advising_format,
    installs_dependencies,
    is_project_file,
)
from imgaudit.classify.projects.uv import UV, parse_uv_lock
from imgaudit.errors import ClassifyError
from imgaudit.layers.wanted import content_cap
from imgaudit.model import Confidence, DevSource
from imgaudit.projectdir import read_project_dir

LOCKS = Path(__file__).parents[2] / "assets" / "locks"
MAIN = {"click", "idna"}  # every fixture project's main dependencies
# What only the dev tools pull in: pytest's and mypy's closures on Linux and Windows markers.
DEV_ROOTS = {"pytest", "mypy"}


def files_of(name: str) -> ProjectFiles:
    directory = LOCKS / name
    return ProjectFiles(f"/{name}", {p.name: p.read_bytes() for p in directory.iterdir()})


def uv_locked() -> dict[str, set[str]]:
    """name -> what it depends on, read straight from the TOML (the test's own reading)."""
    document = tomllib.loads((LOCKS / "uv" / "uv.lock").read_text())
    return {p["name"]: {d["name"] for d in p.get("dependencies", [])} for p in document["package"]}


def reach(graph: dict[str, set[str]], roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def test_uv_lock_parses_with_its_version_and_project_entry() -> None:
    lock = parse_uv_lock((LOCKS / "uv" / "uv.lock").read_bytes())
    assert lock.version == 1 and lock.revision >= 1
    project = lock.packages["lockdemo"]
    assert project.is_project and project.version == "0.1.0"
    assert set(project.groups) == {"dev", "lint"}
    assert {d.name for d in project.groups["dev"]} == {"pytest", "mypy"}  # lint included
    assert {d.name for d in project.dependencies if d.when_extra == "socks"} == {"pysocks"}


def test_uv_dev_only_is_what_only_the_groups_reach() -> None:
    verdict = decide_dev_only(files_of("uv"), {})
    graph = uv_locked()
    expected = reach(graph, DEV_ROOTS) - reach(graph, MAIN)
    assert set(verdict.dev_only) == expected
    assert {"typing-extensions", "mypy-extensions", "pluggy", "iniconfig"} <= expected
    assert not MAIN & set(verdict.dev_only)
    assert "pysocks" not in verdict.dev_only  # a feature extra, not a dev tool
    assert verdict.dev_only["mypy"] == "dev dependency (dev)"
    assert verdict.dev_only["pluggy"] == "required by pytest (dev)"
    assert verdict.dependencies.source is DevSource.UV_LOCK
    assert verdict.dependencies.confidence is Confidence.HIGH
    assert verdict.dependencies.format == "uv"
    assert set(verdict.dependencies.roots) == {"mypy (dev)", "pytest (dev)", "mypy (lint)"}


def test_uv_advice_follows_default_groups() -> None:
    project = files_of("uv")
    assert "--no-dev" in UV.install_advice(project).snippet
    pyproject = project.files["pyproject.toml"] + b'\n[tool.uv]\ndefault-groups = ["dev", "lint"]\n'
    grouped = ProjectFiles("/uv", {**project.files, "pyproject.toml": pyproject})
    # `--no-dev` would still install lint: only --no-default-groups drops every default group.
    assert "--no-default-groups" in UV.install_advice(grouped).snippet


def test_a_broken_uv_lock_names_the_file() -> None:
    with pytest.raises(ClassifyError, match=r"uv\.lock"):
        decide_dev_only(ProjectFiles("/p", {"uv.lock": b"version = [\n"}), {})
    with pytest.raises(ClassifyError, match=r"not a uv\.lock"):
        parse_uv_lock(b"[[package]]\nname = 'x'\n")


def test_pdm_lock_with_its_pyproject_uses_the_graph() -> None:
    lock = parse_pdm_lock((LOCKS / "pdm" / "pdm.lock").read_bytes())
    assert lock.lock_version.startswith("4.")
    verdict = decide_dev_only(files_of("pdm"), {})
    document = tomllib.loads((LOCKS / "pdm" / "pdm.lock").read_text())
    in_default = {p["name"] for p in document["package"] if "default" in p["groups"]}
    assert in_default == MAIN
    assert set(verdict.dev_only) == {p["name"] for p in document["package"]} - MAIN - {"pysocks"}
    assert verdict.dependencies.source is DevSource.PDM_LOCK
    assert verdict.dependencies.format == "pdm"


def test_pdm_lock_alone_says_it_with_its_groups() -> None:
    lock_only = ProjectFiles("/pdm", {"pdm.lock": (LOCKS / "pdm" / "pdm.lock").read_bytes()})
    verdict = decide_dev_only(lock_only, {})
    assert verdict.dev_only["pytest"] == "groups dev in pdm.lock"
    assert verdict.dev_only["mypy"] == "groups dev, lint in pdm.lock"
    assert not MAIN & set(verdict.dev_only)
    assert verdict.main_needed == frozenset(MAIN)


def test_pipfile_lock_default_against_develop() -> None:
    lock = parse_pipfile_lock((LOCKS / "pipenv" / "Pipfile.lock").read_bytes())
    assert lock.spec == 6
    verdict = decide_dev_only(files_of("pipenv"), {})
    document = json.loads((LOCKS / "pipenv" / "Pipfile.lock").read_text())
    assert set(verdict.dev_only) == set(document["develop"]) - set(document["default"])
    assert verdict.dev_only["pytest"] == "dev dependency (develop)"
    assert verdict.dev_only["pluggy"] == "in develop of Pipfile.lock"
    assert verdict.main_needed == frozenset(MAIN)
    assert verdict.dependencies.source is DevSource.PIPFILE_LOCK
    with pytest.raises(ClassifyError, match=r"Pipfile\.lock"):
        parse_pipfile_lock(b"{not json")


def test_pip_compiled_pairs_are_a_lock() -> None:
    verdict = decide_dev_only(files_of("pip-tools"), {})
    dev_txt = (LOCKS / "pip-tools" / "requirements-dev.txt").read_text()
    pinned = {line.split("==")[0] for line in dev_txt.splitlines() if "==" in line}
    assert set(verdict.dev_only) == pinned - MAIN
    assert verdict.dev_only["pytest"] == "pinned in requirements-dev.txt"
    assert verdict.dependencies.source is DevSource.PIP_TOOLS
    assert verdict.dependencies.confidence is Confidence.HIGH


def test_pip_compiled_dev_file_including_main_keeps_main() -> None:
    main = b"click==8.1.7\n    # via -r requirements.in\nidna==3.7\n    # via -r requirements.in\n"
    dev = (
        b"click==8.1.7\n    # via -r requirements.txt\nidna==3.7\n    # via -r requirements.txt\n"
        b"pytest==8.0.0\n    # via -r requirements-test.in\npluggy==1.5.0\n    # via pytest\n"
    )
    verdict = decide_dev_only(
        ProjectFiles("/p", {"requirements.txt": main, "requirements-test.txt": dev}), {}
    )
    assert set(verdict.dev_only) == {"pytest", "pluggy"}


def test_every_format_file_is_kept_by_the_walk_and_read_by_project() -> None:
    assert {f.name for f in FORMATS} == {"poetry", "uv", "pdm", "pipenv", "pep621", "requirements"}
    for name in ("uv.lock", "pdm.lock", "Pipfile", "Pipfile.lock", "poetry.lock", "pyproject.toml"):
        assert is_project_file(name)
        assert content_cap(f"app/{name}", 100) == 100
    assert content_cap("app/requirements-dev.in", 100) == 100
    assert not is_project_file("setup.cfg")
    assert content_cap("app/uv.lock.bak", 100) is None


def test_find_project_prefers_a_locked_directory() -> None:
    contents = {
        "srv/other/pyproject.toml": b"[project]\nname='x'\n",
        "opt/app/uv.lock": b"version = 1\n",
        "opt/app/pyproject.toml": b"[project]\nname='y'\n",
    }
    found = find_project(contents, workdir="", skip=())
    assert found is not None and found.location == "/opt/app"
    assert set(found.files) == {"uv.lock", "pyproject.toml"}


def test_project_dir_reads_every_format(tmp_path: Path) -> None:
    for name in ("Pipfile", "Pipfile.lock", "notes.txt"):
        (tmp_path / name).write_bytes((LOCKS / "pipenv" / name).read_bytes() if name != "notes.txt" else b"x")
    assert set(read_project_dir(tmp_path).files) == {"Pipfile", "Pipfile.lock"}


def test_fix_commands_follow_the_project_format() -> None:
    assert advising_format("uv", None).name == "uv"
    pyproject_pdm = ProjectFiles("/p", {"pyproject.toml": b"[project]\nname='x'\n[tool.pdm]\n"})
    assert advising_format("pep621", pyproject_pdm).name == "pdm"
    assert advising_format(None, None).name == "poetry"
    assert installs_dependencies(["uv", "sync", "--locked"])
    assert installs_dependencies(["/root/.local/bin/pdm", "install", "--prod"])
    assert installs_dependencies(["pipenv", "install", "--deploy"])
    assert not installs_dependencies(["uv", "run", "python"])
