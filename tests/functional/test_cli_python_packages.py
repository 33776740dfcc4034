"""`imgaudit audit` with Python and OS packages: --project, --packages os, JSON, bad project input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from imgaudit.cli import main
from imgaudit.report.json import schema
from tests.support.imagespec import File, ImageSpec, Layer, file, write_image
from tests.support.pyimage import distribution, dpkg

LOCKS = Path(__file__).parents[1] / "assets" / "locks"
SITE = "app/.venv/lib/python3.11/site-packages"


def _image(tmp_path: Path, *extra: File) -> Path:
    base = Layer(
        [
            File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
            *dpkg([("libc6", "", {"usr/lib/libc.so.6": 999})]),
        ],
        "ADD rootfs /",
    )
    venv = [File("app/.venv/pyvenv.cfg", b"version = 3.11.4\n")]
    venv += distribution(SITE, "six", "1.17.0", {"six.py": 1000})
    venv += distribution(SITE, "pytest", "8.4.2", {"pytest/__init__.py": 4000}, ["pluggy"])
    venv += distribution(SITE, "pluggy", "1.6.0", {"pluggy/__init__.py": 500})
    install = Layer([*venv, *extra], "RUN poetry install")
    spec = ImageSpec(
        layers=[base, install],
        history=[("ADD rootfs /", False), ('CMD ["sh"]', True), ("RUN poetry install", False)],
        workdir="/app",
    )
    return write_image(spec, tmp_path / "image.tar")


def _json(args: list[str]) -> dict[str, object]:
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.output)
    jsonschema.validate(document, schema())
    return document


def test_json_names_environments_dev_source_and_os_packages(tmp_path: Path) -> None:
    report = _json(["audit", str(_image(tmp_path))])
    (environment,) = report["environments"]  # type: ignore[misc]
    assert environment["path"] == "/app/.venv" and environment["python"] == "3.11.4"
    dev = {d["name"]: d["reason"] for d in environment["distributions"] if d["dev_only"]}
    assert dev == {
        "pytest": "dev dependency (well-known dev tool)",
        "pluggy": "required by pytest (well-known dev tool)",
    }
    assert report["dev_dependencies"] == {
        "source": "heuristic",
        "confidence": "heuristic",
        "project": None,
        "roots": ["pytest (well-known dev tool)"],
        "format": None,  # no project format decided: the heuristic did
    }
    (libc,) = report["os_packages"]  # type: ignore[misc]
    assert libc == {
        "name": "libc6",
        "version": "1.0-libc6",
        "bytes": 999,
        "files": 1,
        "layer": 0,
        "in_base": True,
        "build_only": False,
        "manager": "dpkg",
    }


def test_project_option_reads_the_lock_from_a_host_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(LOCKS / "poetry-2", project)
    report = _json(["audit", str(_image(tmp_path)), "--project", str(project)])
    assert report["dev_dependencies"]["source"] == "poetry.lock"  # type: ignore[index]
    assert report["dev_dependencies"]["project"] == str(project)  # type: ignore[index]


def test_packages_os_lists_them_in_the_terminal_report(tmp_path: Path) -> None:
    image = str(_image(tmp_path))
    summary = CliRunner().invoke(main, ["audit", image])
    plain = CliRunner().invoke(main, ["audit", image, "--show", "python"])
    listed = CliRunner().invoke(main, ["audit", image, "--packages", "os"])
    assert summary.exit_code == plain.exit_code == listed.exit_code == 0
    assert "Dev-only packages" not in summary.output  # a detail: the summary stays one screen
    assert "Dev-only packages" in plain.output and "required by pytest" in plain.output
    assert "OS packages" not in plain.output
    assert "OS packages" in listed.output and "libc6" in listed.output


def test_a_malformed_lock_in_the_image_degrades_the_report_with_a_warning(tmp_path: Path) -> None:
    image = _image(tmp_path, File("app/poetry.lock", b"[[package]\nname ="), File("app/pyproject.toml", b""))
    result = CliRunner().invoke(main, ["audit", str(image), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any("poetry.lock is not valid TOML" in w for w in report["warnings"])
    assert report["dev_dependencies"]["source"] == "heuristic"


def test_a_malformed_lock_given_with_project_is_one_line_and_exit_2(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "poetry.lock").write_bytes(b"[[package]\nname =")
    result = CliRunner().invoke(main, ["audit", str(_image(tmp_path)), "--project", str(project)])
    assert result.exit_code == 2
    assert result.output.startswith("imgaudit: error: poetry.lock is not valid TOML")
    assert len(result.output.strip().splitlines()) == 1


def test_a_project_directory_without_project_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["audit", str(_image(tmp_path)), "--project", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "imgaudit: error: --project: no pyproject.toml" in result.output
    missing = CliRunner().invoke(main, ["audit", str(_image(tmp_path)), "--project", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a directory" in missing.output


def test_heavy_files_outside_records_stay_attributed_to_the_environment(tmp_path: Path) -> None:
    image = _image(tmp_path, file(f"{SITE}/pytest/__pycache__/x.cpython-311.pyc", 123))
    report = _json(["audit", str(image)])
    (environment,) = report["environments"]  # type: ignore[misc]
    pytest_dist = next(d for d in environment["distributions"] if d["name"] == "pytest")
    categories = report["categories"]
    assert categories["dev_packages"] == pytest_dist["bytes"] + next(  # type: ignore[index]
        d["bytes"] for d in environment["distributions"] if d["name"] == "pluggy"
    )
