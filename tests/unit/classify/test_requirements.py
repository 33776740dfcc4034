"""requirements*.txt pairs and installed Requires-Dist, without a lock."""

from __future__ import annotations

from imgaudit.classify.deps import Dependency
from imgaudit.classify.devdeps import decide_dev_only
from imgaudit.classify.project import ProjectFiles
from imgaudit.classify.requirements import is_dev_file, requirement_roots
from imgaudit.model import Confidence, DevSource

MAIN = b"# runtime\nrequests>=2.31  # http\nFlask[async]==3.0\n--index-url https://example.invalid/simple\n"
DEV = b"-r requirements.txt\npytest==8.0\nblack\n-e .\n"


def test_a_dev_file_that_includes_the_main_one_adds_only_its_own_roots() -> None:
    declared = requirement_roots({"requirements.txt": MAIN, "requirements-dev.txt": DEV})
    assert [r.name for r in declared.main] == ["requests", "flask"]
    assert next(r for r in declared.main if r.name == "flask").extras == frozenset({"async"})
    assert {(r.name, r.group) for r in declared.dev} == {
        ("pytest", "requirements-dev.txt"),
        ("black", "requirements-dev.txt"),
    }


def test_dev_like_file_names() -> None:
    assert is_dev_file("requirements-dev.txt")
    assert is_dev_file("requirements_test.txt")
    assert is_dev_file("requirements.lint.in")
    assert not is_dev_file("requirements.txt")
    assert not is_dev_file("requirements-prod.txt")
    assert not is_dev_file("requirements-devices.txt")


def test_installed_metadata_closes_the_graph_and_keeps_shared_packages() -> None:
    installed = {
        "requests": [Dependency("urllib3"), Dependency("idna")],
        "flask": [Dependency("werkzeug")],
        "werkzeug": [],
        "urllib3": [],
        "idna": [],
        "pytest": [Dependency("pluggy"), Dependency("iniconfig"), Dependency("idna")],
        "pluggy": [],
        "iniconfig": [],
        "black": [Dependency("click")],
        "click": [],
        "myservice": [Dependency("click")],  # the project itself, installed with `pip install .`
    }
    verdict = decide_dev_only(
        ProjectFiles("/srv", {"requirements.txt": MAIN, "requirements-dev.txt": DEV}), installed
    )
    assert verdict.dependencies.source is DevSource.REQUIREMENTS
    assert verdict.dependencies.confidence is Confidence.MEDIUM
    assert verdict.dependencies.project == "/srv"
    # idna: requests needs it too. click: the installed project needs it, though no file says so.
    assert verdict.dev_only == {
        "pytest": "dev dependency (requirements-dev.txt)",
        "pluggy": "required by pytest (requirements-dev.txt)",
        "iniconfig": "required by pytest (requirements-dev.txt)",
        "black": "dev dependency (requirements-dev.txt)",
    }


def test_extras_markers_in_requires_dist_count_only_when_asked() -> None:
    installed = {
        "pytest": [Dependency("pluggy"), Dependency("hypothesis", when_extra="testing")],
        "pluggy": [],
        "hypothesis": [],
    }
    verdict = decide_dev_only(None, installed)
    assert verdict.dependencies.source is DevSource.HEURISTIC
    # hypothesis is a well-known dev tool itself; but it is not pulled in by pytest's extra.
    assert verdict.dev_only["hypothesis"] == "dev dependency (well-known dev tool)"
    assert verdict.dev_only["pluggy"] == "required by pytest (well-known dev tool)"


def test_without_any_project_files_the_heuristic_names_only_known_tools() -> None:
    installed = {
        "mypy": [Dependency("typing-extensions")],
        "typing-extensions": [],
        "pydantic": [Dependency("typing-extensions")],
    }
    verdict = decide_dev_only(None, installed)
    assert verdict.dev_only == {"mypy": "dev dependency (well-known dev tool)"}
    assert verdict.dependencies.confidence is Confidence.HEURISTIC
