"""Environments and distributions read from images: RECORD ownership, namespace packages,
missing RECORDs, two venvs, dev-only packages from a lock in the image, the toolchain."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.audit import AuditOptions, audit
from imgaudit.classify.project import ProjectFiles
from imgaudit.model import Category, EnvironmentKind, PythonEnvironment, Report
from imgaudit.sources.archive import open_path
from tests.conftest import AuditSpec
from tests.support.imagespec import File, ImageSpec, Layer, file, write_image
from tests.support.pyimage import distribution, metadata_bytes

PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"
BASE = Layer([File("etc/passwd", PASSWD), file("usr/bin/python3.11", 5000)], "ADD rootfs / # buildkit")
VENV = "app/.venv"
SITE = f"{VENV}/lib/python3.11/site-packages"
SYSTEM = "usr/local/lib/python3.11/site-packages"
LOCKS = Path(__file__).parents[2] / "assets" / "locks"


def image(*layers: Layer, workdir: str = "/app", env: dict[str, str] | None = None) -> ImageSpec:
    steps = [(BASE.created_by, False), ('CMD ["python3"]', True)]
    steps += [(layer.created_by, False) for layer in layers]
    return ImageSpec(
        layers=[BASE, *layers],
        history=steps,
        workdir=workdir,
        env=env or {"PATH": "/usr/local/bin:/usr/bin:/bin"},
    )


def venv_cfg(root: str) -> File:
    return File(f"{root}/pyvenv.cfg", b"home = /usr/bin\nversion_info = 3.11.2.final.0\n")


def env_at(report: Report, path: str) -> PythonEnvironment:
    return next(e for e in report.environments if e.path == path)


def test_record_files_unlisted_bytecode_and_files_the_image_lacks(audit_spec: AuditSpec) -> None:
    six = distribution(
        SITE,
        "six",
        "1.16.0",
        {"six.py": 1000},
        unlisted={"__pycache__/six.cpython-311.pyc": 300},  # compiled after install
        record_extra=["six_removed.py"],
    )
    requests = distribution(
        SITE,
        "requests",
        "2.31.0",
        {"requests/__init__.py": 2000, "requests/api.py": 500, "../../../bin/req": 70},
        unlisted={"requests/__pycache__/api.cpython-311.pyc": 400, "requests/cache/x.db": 50},
    )
    report = audit_spec(
        image(Layer([venv_cfg(VENV), *six, *requests, file(f"{VENV}/bin/python", 10)], "RUN x"))
    )
    venv = env_at(report, "/app/.venv")
    assert venv.kind is EnvironmentKind.VENV
    assert venv.python == "3.11.2"
    sizes = {d.name: d.bytes for d in venv.distributions}
    assert sizes["six"] == 1300 + metadata_bytes(six, SITE)
    assert sizes["requests"] == 2000 + 500 + 70 + 400 + 50 + metadata_bytes(requests, SITE)
    everything = 1300 + 3020 + metadata_bytes(six + requests, SITE) + 10 + len(venv_cfg(VENV).data)
    assert venv.bytes == everything
    assert report.categories[Category.PYTHON_PACKAGES] == everything
    assert {d.installer for d in venv.distributions} == {"pip"}


def test_namespace_packages_split_by_record(audit_spec: AuditSpec) -> None:
    api = distribution(SITE, "google-api-core", "2.0", {"google/api_core/__init__.py": 700})
    proto = distribution(SITE, "protobuf", "4.0", {"google/protobuf/__init__.py": 900})
    unlisted = [
        file(f"{SITE}/google/protobuf/__pycache__/x.cpython-311.pyc", 33),
        file(f"{SITE}/google/api_core/data.bin", 44),
        file(f"{SITE}/google/stray.txt", 5),  # in the shared directory: nobody's
    ]
    report = audit_spec(image(Layer([venv_cfg(VENV), *api, *proto, *unlisted], "RUN x")))
    sizes = {d.name: d.bytes for d in env_at(report, "/app/.venv").distributions}
    assert sizes["protobuf"] == 900 + 33 + metadata_bytes(proto, SITE)
    assert sizes["google-api-core"] == 700 + 44 + metadata_bytes(api, SITE)


def test_a_distribution_without_record_owns_its_top_level_directories(audit_spec: AuditSpec) -> None:
    debian = "usr/lib/python3/dist-packages"
    norecord = distribution(
        debian,
        "PyYAML",
        "6.0",
        {"yaml/__init__.py": 800, "_yaml.so": 0},
        record=False,
        top_level=["yaml", "_yaml"],
    )
    guessed = distribution(debian, "python-dateutil", "2.8", {}, record=False, top_level=["dateutil"])
    extra = [file(f"{debian}/yaml/__pycache__/a.pyc", 20), file(f"{debian}/dateutil/tz.py", 90)]
    report = audit_spec(
        image(
            Layer([*norecord, *guessed, *extra, file("usr/lib/python3.11/os.py", 7)], "RUN apt-get install")
        )
    )
    system = env_at(report, "/usr/lib/python3/dist-packages")
    assert system.kind is EnvironmentKind.SYSTEM
    assert system.python == "3.11"
    sizes = {d.name: d.bytes for d in system.distributions}
    assert sizes["pyyaml"] == 820 + metadata_bytes(norecord, debian)
    assert sizes["python-dateutil"] == 90 + metadata_bytes(guessed, debian)


@pytest.mark.parametrize(
    ("interpreter_files", "version"),
    [
        (["usr/lib/python3.11/os.py", "usr/lib/python3.11/encodings/utf_8.py"], "3.11"),
        # Any `pythonN.N` component of a path under usr/lib/python* names a version, the
        # first one of each path; the highest (as text) wins.
        (["usr/lib/python3.11/os.py", "usr/lib/python-support/python3.13/x.py"], "3.13"),
        (["usr/lib/python3.11/os.py", "usr/lib/python3.12"], "3.12"),
        (["usr/lib/python3.11/os.py", "usr/lib/python3.11/python3.13/x.py"], "3.11"),
        (["usr/lib/pythonista/python3.12"], "3.12"),
        (["usr/lib/python3.11-config/x", "usr/lib/python-support/python2.7/x"], "2.7"),
        (["usr/lib/python2/python2.7/x"], None),
        (["usr/local/lib/python3.12/os.py"], None),
    ],
)
def test_debians_shared_dist_packages_serves_the_interpreter_beside_it(
    audit_spec: AuditSpec, interpreter_files: list[str], version: str | None
) -> None:
    debian = "usr/lib/python3/dist-packages"
    layer = Layer(
        [file(f"{debian}/apt/x.py", 9), *(file(p, 1) for p in interpreter_files)], "RUN apt-get install"
    )
    assert env_at(audit_spec(image(layer)), f"/{debian}").python == version


def test_two_venvs_are_two_environments(audit_spec: AuditSpec) -> None:
    other = "opt/tools/venv"
    other_site = f"{other}/lib/python3.12/site-packages"
    report = audit_spec(
        image(
            Layer([venv_cfg(VENV), *distribution(SITE, "six", "1", {"six.py": 100})], "RUN a"),
            Layer(
                [
                    File(f"{other}/pyvenv.cfg", b"version = 3.12.1\n"),
                    *distribution(other_site, "six", "2", {"six.py": 200}),
                ],
                "RUN b",
            ),
        )
    )
    assert [e.path for e in report.environments] == ["/app/.venv", "/opt/tools/venv"]
    assert env_at(report, "/opt/tools/venv").python == "3.12.1"
    assert env_at(report, "/opt/tools/venv").distributions[0].version == "2"


def _poetry_project(name: str) -> list[File]:
    return [File(f"app/{n}", (LOCKS / name / n).read_bytes()) for n in ("pyproject.toml", "poetry.lock")]


def _app_venv() -> list[File]:
    dists = [
        distribution(SITE, "six", "1.17.0", {"six.py": 1000}),
        distribution(SITE, "idna", "3.10", {"idna/__init__.py": 2000}),
        distribution(SITE, "packaging", "24.0", {"packaging/__init__.py": 3000}),
        distribution(
            SITE,
            "pytest",
            "8.4.2",
            {"pytest/__init__.py": 4000, "../../../bin/pytest": 100},
            ["pluggy>=1.5", "iniconfig", "packaging"],
        ),
        distribution(SITE, "pluggy", "1.6.0", {"pluggy/__init__.py": 5000}),
        distribution(SITE, "iniconfig", "2.1.0", {"iniconfig/__init__.py": 6000}),
        distribution(SITE, "pip", "24.0", {"pip/__init__.py": 7000}),  # the venv's own, seeded
    ]
    return [venv_cfg(VENV), *(f for d in dists for f in d)]


def test_dev_only_packages_from_the_lock_in_the_workdir(audit_spec: AuditSpec) -> None:
    venv = _app_venv()
    report = audit_spec(
        image(
            Layer(_poetry_project("poetry-2"), "COPY pyproject.toml poetry.lock ./"),
            Layer(venv, "RUN poetry install"),
        )
    )
    assert report.dev_dependencies is not None
    assert report.dev_dependencies.source.value == "poetry.lock"
    assert report.dev_dependencies.project == "/app"
    dists = {d.name: d for d in env_at(report, "/app/.venv").distributions}
    assert {n for n, d in dists.items() if d.dev_only} == {"pytest", "pluggy", "iniconfig"}
    assert dists["iniconfig"].reason == "required by pytest (dev)"
    assert not dists["packaging"].dev_only  # main needs it as well
    assert not dists["pip"].dev_only and not dists["pip"].toolchain
    dev_bytes = sum(d.bytes for d in dists.values() if d.dev_only)
    assert dev_bytes >= 4000 + 100 + 5000 + 6000
    assert report.categories[Category.DEV_PACKAGES] == dev_bytes
    assert sum(report.categories.values()) == report.final_bytes


def test_project_given_from_outside_wins(tmp_path: Path) -> None:
    spec = image(Layer(_app_venv(), "RUN pip install -r requirements.txt"))
    path = write_image(spec, tmp_path / "image.tar")
    files = {n: (LOCKS / "poetry-1.1" / n).read_bytes() for n in ("pyproject.toml", "poetry.lock")}
    with open_path(path, None, None, lambda _: None) as source:
        report = audit(source, AuditOptions(project=ProjectFiles(str(tmp_path), files)))
    assert report.dev_dependencies is not None
    assert report.dev_dependencies.project == str(tmp_path)
    assert {d.name for d in env_at(report, "/app/.venv").distributions if d.dev_only} == {
        "pytest",
        "pluggy",
        "iniconfig",
    }
    # Without it, the image alone only allows the heuristic: pytest and what only it needs.
    with open_path(path, None, None, lambda _: None) as source:
        guessed = audit(source)
    assert guessed.dev_dependencies is not None and guessed.dev_dependencies.confidence.value == "heuristic"


def test_poetry_installed_with_pip_is_toolchain_with_what_only_it_needs(audit_spec: AuditSpec) -> None:
    system = [
        distribution(
            SYSTEM,
            "poetry",
            "2.1",
            {"poetry/__init__.py": 10_000, "../../../bin/poetry": 50},
            ["requests", "cleo", "packaging"],
        ),
        distribution(SYSTEM, "poetry-plugin-export", "1.0", {"poetry_plugins/export.py": 300}, ["poetry>=2"]),
        distribution(SYSTEM, "cleo", "2.0", {"cleo/__init__.py": 2_000}),
        distribution(SYSTEM, "requests", "2.31", {"requests/__init__.py": 3_000}, ["urllib3"]),
        distribution(SYSTEM, "urllib3", "2.0", {"urllib3/__init__.py": 1_000}),
        distribution(SYSTEM, "packaging", "24.0", {"packaging/__init__.py": 500}),
        # installed system-wide by the app too: it needs packaging, so packaging is shared
        distribution(SYSTEM, "gunicorn", "22.0", {"gunicorn/__init__.py": 4_000}, ["packaging"]),
    ]
    user_site = "root/.local/lib/python3.11/site-packages"
    user = distribution(user_site, "pipx", "1.5", {"pipx/__init__.py": 700}, ["argcomplete"])
    user_dep = distribution(user_site, "argcomplete", "3.0", {"argcomplete/__init__.py": 80})
    pipx_venv = "root/.local/share/pipx/venvs/black"
    pipx = [
        File(f"{pipx_venv}/pyvenv.cfg", b"version = 3.11.2\n"),
        file(f"{pipx_venv}/bin/python", 9),
        *distribution(f"{pipx_venv}/lib/python3.11/site-packages", "black", "24", {"black/__init__.py": 900}),
    ]
    report = audit_spec(
        image(
            Layer([f for d in system for f in d], "RUN pip install poetry poetry-plugin-export gunicorn"),
            Layer([*user, *user_dep, *pipx], "RUN pip install --user pipx && pipx install black"),
            Layer(_app_venv(), "RUN poetry install"),
        )
    )
    flags = {d.name: d.toolchain for d in env_at(report, f"/{SYSTEM}").distributions}
    assert flags == {
        "poetry": True,
        "poetry-plugin-export": True,
        "cleo": True,
        "requests": True,
        "urllib3": True,
        "packaging": False,
        "gunicorn": False,
    }
    assert all(d.toolchain for d in env_at(report, f"/{user_site}").distributions)
    assert env_at(report, f"/{pipx_venv}").kind is EnvironmentKind.TOOL_VENV
    toolchain = (
        sum(
            d.bytes
            for e in report.environments
            if e.path != "/app/.venv"
            for d in e.distributions
            if d.toolchain
        )
        + env_at(report, f"/{pipx_venv}").bytes
        - sum(d.bytes for d in env_at(report, f"/{pipx_venv}").distributions)
    )
    assert report.categories[Category.PYTHON_TOOLCHAIN] == toolchain
    # The app venv's own pip is the app's, not the toolchain's.
    assert not any(d.toolchain for d in env_at(report, "/app/.venv").distributions)
    assert sum(report.categories.values()) == report.final_bytes


def test_toolchain_in_the_base_stays_base_image(audit_spec: AuditSpec) -> None:
    base = Layer(
        [File("etc/passwd", PASSWD), *distribution(SYSTEM, "pip", "24", {"pip/__init__.py": 5000})],
        "ADD rootfs /",
    )
    spec = ImageSpec(
        layers=[base, Layer([file("app/main.py", 10)], "COPY . .")],
        history=[("ADD rootfs /", False), ('CMD ["sh"]', True), ("COPY . .", False)],
    )
    report = audit_spec(spec)
    assert report.categories[Category.PYTHON_TOOLCHAIN] == 0
    assert not any(d.toolchain for e in report.environments for d in e.distributions)


def test_requirements_in_the_image_when_there_is_no_lock(audit_spec: AuditSpec) -> None:
    reqs = [
        File("app/requirements.txt", b"six\nidna\npackaging\n"),
        File("app/requirements-dev.txt", b"-r requirements.txt\npytest\n"),
    ]
    report = audit_spec(
        image(
            Layer(reqs, "COPY requirements*.txt ./"),
            Layer(_app_venv(), "RUN pip install -r requirements-dev.txt"),
        )
    )
    assert report.dev_dependencies is not None
    assert report.dev_dependencies.source.value == "requirements"
    assert report.dev_dependencies.roots == ("pytest (requirements-dev.txt)",)
    dists = {d.name: d for d in env_at(report, "/app/.venv").distributions}
    assert {n for n, d in dists.items() if d.dev_only} == {"pytest", "pluggy", "iniconfig"}


@pytest.mark.parametrize(
    "lock",
    [
        b"[[package]\n",
        b"a = " + b"[" * 100_000,
        b"a = 1" + b"0" * 5000,
        b"\xff\xfe",
        b'[[package]]\nname = "a"\nversion = "1"\ndependencies = [1]\n[metadata]\nlock-version = "2.0"\n',
    ],
    ids=["invalid", "deep", "long-integer", "not-utf8", "dependencies-a-list"],
)
def test_a_malformed_lock_in_the_image_degrades_with_a_warning(audit_spec: AuditSpec, lock: bytes) -> None:
    """A file inside the image never aborts the audit: the bytes are measured, the report
    says which file could not be read, and dev-only packages are told apart without it."""
    broken = [File("app/poetry.lock", lock), File("app/pyproject.toml", b"[tool.poetry]\n")]
    report = audit_spec(image(Layer(broken, "COPY . ."), Layer(_app_venv(), "RUN poetry install")))
    assert report.total_bytes > 0
    assert [w for w in report.warnings if "app/poetry.lock" in w and "guessed without it" in w]
    assert report.dev_dependencies is not None
    assert report.dev_dependencies.source.value == "heuristic"


def test_an_egg_info_with_installed_files_txt(audit_spec: AuditSpec) -> None:
    egg = f"{SYSTEM}/legacy-1.0-py3.11.egg-info"
    entries = [
        File(f"{egg}/PKG-INFO", b"Metadata-Version: 1.1\nName: Legacy_Lib\nVersion: 1.0\n"),
        File(f"{egg}/installed-files.txt", b"../legacy/__init__.py\n../legacy/core.py\n./\nPKG-INFO\n"),
        File(f"{egg}/requires.txt", b"six\n\n[test]\npytest\n"),
        file(f"{SYSTEM}/legacy/__init__.py", 100),
        file(f"{SYSTEM}/legacy/core.py", 250),
    ]
    report = audit_spec(image(Layer(entries, "RUN python setup.py install")))
    (dist,) = env_at(report, f"/{SYSTEM}").distributions
    assert (dist.name, dist.version) == ("legacy-lib", "1.0")
    assert dist.bytes == 350 + sum(len(e.data) for e in entries[:3])


def test_poetrys_own_installer_venv_is_toolchain_as_a_whole(audit_spec: AuditSpec) -> None:
    installer_venv = "root/.local/share/pypoetry/venv"
    custom = "opt/poetry/venv"  # POETRY_HOME=/opt/poetry
    entries = [
        File(f"{installer_venv}/pyvenv.cfg", b"version = 3.11.2\n"),
        file(f"{installer_venv}/bin/python", 10),
        *distribution(
            f"{installer_venv}/lib/python3.11/site-packages", "poetry", "2.1", {"poetry/a.py": 3000}
        ),
        File(f"{custom}/pyvenv.cfg", b"version = 3.11.2\n"),
        *distribution(f"{custom}/lib/python3.11/site-packages", "cleo", "2.1", {"cleo/a.py": 400}),
    ]
    report = audit_spec(
        image(
            Layer(entries, "RUN curl -sSL https://install.python-poetry.org | python3 -"),
            Layer(_app_venv(), "RUN poetry install"),
            env={"POETRY_HOME": "/opt/poetry"},
        )
    )
    kinds = {e.path: e.kind for e in report.environments}
    assert kinds[f"/{installer_venv}"] is EnvironmentKind.TOOL_VENV
    assert kinds[f"/{custom}"] is EnvironmentKind.TOOL_VENV
    assert (
        report.categories[Category.PYTHON_TOOLCHAIN]
        == env_at(report, f"/{installer_venv}").bytes + env_at(report, f"/{custom}").bytes
    )


def test_app_installed_beside_poetry_keeps_what_its_main_dependencies_need(audit_spec: AuditSpec) -> None:
    lock = b"""
[[package]]
name = "requests"
version = "2.31"
groups = ["main"]
[package.dependencies]
urllib3 = ">=2"

[[package]]
name = "urllib3"
version = "2.0"
groups = ["main"]

[metadata]
lock-version = "2.1"
"""
    pyproject = b'[tool.poetry.dependencies]\npython = "^3.11"\nrequests = "*"\n'
    system = [
        distribution(SYSTEM, "poetry", "2.1", {"poetry/__init__.py": 10_000}, ["requests", "cleo"]),
        distribution(SYSTEM, "cleo", "2.0", {"cleo/__init__.py": 2_000}),
        distribution(SYSTEM, "requests", "2.31", {"requests/__init__.py": 3_000}, ["urllib3"]),
        distribution(SYSTEM, "urllib3", "2.0", {"urllib3/__init__.py": 1_000}),
        distribution(SYSTEM, "six", "1.17", {"six.py": 100}),  # installed by poetry for the app, too
    ]
    report = audit_spec(
        image(
            Layer([f for d in system[:4] for f in d], "RUN pip install poetry"),
            Layer([File("app/poetry.lock", lock), File("app/pyproject.toml", pyproject)], "COPY . ."),
            Layer(system[4], "RUN poetry config virtualenvs.create false && poetry install"),
        )
    )
    flags = {d.name: d.toolchain for d in env_at(report, f"/{SYSTEM}").distributions}
    assert flags == {"poetry": True, "cleo": True, "requests": False, "urllib3": False, "six": False}


def test_damaged_metadata_never_breaks_the_audit(audit_spec: AuditSpec) -> None:
    info = f"{SITE}/broken-1.0.dist-info"
    entries = [
        venv_cfg(VENV),
        File(f"{info}/RECORD", b'broken/a.py,x,1\n\x00\xff"unterminated\n'),
        File(f"{info}/METADATA", b"\xff\xfe\x00garbage"),
        file(f"{SITE}/broken/a.py", 10),
    ]
    report = audit_spec(image(Layer(entries, "RUN x")))
    (dist,) = env_at(report, "/app/.venv").distributions
    assert dist.name == "broken" and dist.bytes >= 10
