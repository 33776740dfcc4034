"""Poetry and the app in one interpreter (`virtualenvs.create false`), and Poetry's own
dependencies behind environment markers.

The metadata is shaped like a real `pip install poetry==2.5.1` on Python 3.11: Poetry
requires keyring and requests; keyring requires importlib_metadata only below Python 3.12;
importlib_metadata requires zipp; click 8.1 required importlib-metadata below Python 3.8.
"""

from __future__ import annotations

from imgaudit.model import Category, Report
from tests.conftest import AuditSpec
from tests.support.imagespec import File, Layer
from tests.support.pyimage import distribution
from tests.unit.classify.test_environments import env_at, image

PYPROJECT = b"""\
[project]
name = "tally"
version = "0.1.0"
dependencies = ["click>=8.1", "idna>=3.7"]

[tool.poetry.group.dev.dependencies]
pytest = "^8.3"
tox = "^4"
"""
# A Poetry 2.x lock (groups per package): tox pulls virtualenv, filelock and packaging.
LOCK = b"""\
[[package]]
name = "click"
version = "8.1.7"
optional = false
python-versions = ">=3.7"
groups = ["main"]
files = []

[package.dependencies]
importlib-metadata = {version = "*", markers = "python_version < \\"3.8\\""}

[[package]]
name = "idna"
version = "3.10"
optional = false
python-versions = ">=3.6"
groups = ["main"]
files = []

[[package]]
name = "pytest"
version = "8.4.2"
optional = false
python-versions = ">=3.9"
groups = ["dev"]
files = []

[package.dependencies]
iniconfig = ">=1"
packaging = ">=20"
pluggy = ">=1.5,<2"

[[package]]
name = "iniconfig"
version = "2.1.0"
optional = false
python-versions = ">=3.8"
groups = ["dev"]
files = []

[[package]]
name = "pluggy"
version = "1.6.0"
optional = false
python-versions = ">=3.9"
groups = ["dev"]
files = []

[[package]]
name = "packaging"
version = "25.0"
optional = false
python-versions = ">=3.8"
groups = ["dev"]
files = []

[[package]]
name = "tox"
version = "4.24.0"
optional = false
python-versions = ">=3.8"
groups = ["dev"]
files = []

[package.dependencies]
filelock = ">=3.16"
packaging = ">=24"
virtualenv = ">=20.29"

[[package]]
name = "virtualenv"
version = "20.29.0"
optional = false
python-versions = ">=3.8"
groups = ["dev"]
files = []

[package.dependencies]
filelock = ">=3.12.2,<4"

[[package]]
name = "filelock"
version = "3.16.1"
optional = false
python-versions = ">=3.8"
groups = ["dev"]
files = []

[[package]]
name = "importlib-metadata"
version = "8.5.0"
optional = false
python-versions = ">=3.8"
groups = ["main"]
markers = "python_version < \\"3.8\\""
files = []

[metadata]
lock-version = "2.1"
python-versions = ">=3.11,<4"
content-hash = "0"
"""


def site(python: str) -> str:
    return f"usr/local/lib/python{python}/site-packages"


def poetry_install(python: str) -> list[File]:
    """`pip install poetry`: Poetry and (part of) its real dependency graph."""
    where = site(python)
    dists = [
        distribution(
            where,
            "poetry",
            "2.5.1",
            {"poetry/__init__.py": 40_000, "../../../bin/poetry": 60},
            [
                "keyring (>=25.1.0,<26.0.0)",
                "packaging (>=24.2)",
                "requests (>=2.26,<3.0)",
                "virtualenv (>=20.26.6)",
                'tomli (>=2.0.1,<3.0.0) ; python_version < "3.11"',
                'xattr (>=1.0.0,<2.0.0) ; sys_platform == "darwin"',
            ],
        ),
        distribution(
            where,
            "keyring",
            "25.7.0",
            {"keyring/__init__.py": 3_000},
            [
                'pywin32-ctypes>=0.2.0; sys_platform == "win32"',
                'importlib_metadata>=4.11.4; python_version < "3.12"',
                "jaraco.classes",
                'pytest!=8.1.*,>=6; extra == "test"',
            ],
        ),
        distribution(where, "jaraco-classes", "3.4.0", {"jaraco/classes/__init__.py": 900}),
        distribution(
            where,
            "importlib-metadata",
            "8.7.0",
            {"importlib_metadata/__init__.py": 7_000},
            ["zipp>=3.20", 'pytest!=8.1.*,>=6; extra == "test"'],
            top_level=["importlib_metadata"],
        ),
        distribution(where, "zipp", "3.23.0", {"zipp/__init__.py": 1_100}),
        distribution(where, "requests", "2.32.5", {"requests/__init__.py": 5_000}, ["idna<4,>=2.5"]),
        distribution(where, "idna", "3.10", {"idna/__init__.py": 6_000}),
        distribution(
            where,
            "virtualenv",
            "20.29.0",
            {"virtualenv/__init__.py": 8_000},
            ["filelock<4,>=3.12.2", "packaging>=24; python_version >= '3.10'"],
        ),
        distribution(where, "filelock", "3.16.1", {"filelock/__init__.py": 2_000}),
        distribution(where, "packaging", "25.0", {"packaging/__init__.py": 4_000}),
    ]
    return [f for d in dists for f in d]


def app_install(python: str, *, dev: bool) -> list[File]:
    """`poetry install` into the same interpreter, as Poetry installs (INSTALLER: Poetry)."""
    where = site(python)
    dists = [
        distribution(
            where,
            "click",
            "8.1.7",
            {"click/__init__.py": 9_000},
            ['importlib-metadata; python_version < "3.8"'],
            installer="Poetry",
        ),
        distribution(
            where, "tally", "0.1.0", {"tally.pth": 10}, ["click>=8.1", "idna>=3.7"], installer="Poetry"
        ),
    ]
    if dev:
        dists += [
            distribution(
                where,
                "pytest",
                "8.4.2",
                {"pytest/__init__.py": 20_000, "../../../bin/pytest": 50},
                ["iniconfig>=1", "packaging>=20", "pluggy<2,>=1.5"],
                installer="Poetry",
            ),
            distribution(where, "iniconfig", "2.1.0", {"iniconfig/__init__.py": 700}, installer="Poetry"),
            distribution(where, "pluggy", "1.6.0", {"pluggy/__init__.py": 1_500}, installer="Poetry"),
        ]
    return [f for d in dists for f in d]


def audit_shared(audit_spec: AuditSpec, python: str = "3.11", *, dev: bool) -> Report:
    project = [File("app/pyproject.toml", PYPROJECT), File("app/poetry.lock", LOCK)]
    flags = "" if dev else " --only main"
    return audit_spec(
        image(
            Layer(poetry_install(python), "RUN pip install poetry==2.5.1"),
            Layer(project, "COPY pyproject.toml poetry.lock ./"),
            Layer(
                app_install(python, dev=dev),
                f"RUN poetry config virtualenvs.create false && poetry install{flags}",
            ),
            Layer([File("app/tally/__init__.py", b"x" * 400)], "COPY tally/ ./tally/"),
        )
    )


def flags(report: Report, python: str = "3.11") -> dict[str, tuple[bool, bool]]:
    """name -> (toolchain, dev_only)"""
    return {d.name: (d.toolchain, d.dev_only) for d in env_at(report, f"/{site(python)}").distributions}


def test_what_poetry_needs_is_toolchain_even_when_only_dev_groups_reach_it(audit_spec: AuditSpec) -> None:
    report = audit_shared(audit_spec, dev=False)
    found = flags(report)
    # virtualenv, filelock, packaging: the lock reaches them from tox (dev), but dev was not
    # installed: they are here for Poetry.
    for name in ("virtualenv", "filelock", "packaging", "poetry", "requests"):
        assert found[name] == (True, False), name
    assert report.categories[Category.DEV_PACKAGES] == 0
    # idna: Poetry needs it through requests, and so does the app: it stays the app's.
    assert found["idna"] == (False, False)
    assert found["click"] == (False, False)


def test_marker_gated_dependencies_follow_the_images_interpreter(audit_spec: AuditSpec) -> None:
    on_311 = flags(audit_shared(audit_spec, "3.11", dev=False))
    # keyring needs importlib_metadata below 3.12; click 8.1's edge to it (below 3.8) does not
    # count on 3.11, so it does not make the app a user.
    assert on_311["importlib-metadata"] == (True, False)
    assert on_311["zipp"] == (True, False)
    on_312 = flags(audit_shared(audit_spec, "3.12", dev=False), "3.12")
    # On 3.12 nothing installed needs them: they are not attributed to Poetry.
    assert on_312["importlib-metadata"] == (False, False)
    assert on_312["zipp"] == (False, False)
    assert on_312["keyring"] == (True, False)


def test_dev_group_installed_beside_poetry(audit_spec: AuditSpec) -> None:
    report = audit_shared(audit_spec, dev=True)
    found = flags(report)
    assert {n for n, (_, dev) in found.items() if dev} == {"pytest", "iniconfig", "pluggy"}
    # pytest and Poetry both need packaging: `--without dev` would leave it, so it is Poetry's.
    assert found["packaging"] == (True, False)
    environment = env_at(report, f"/{site('3.11')}")
    dev_bytes = sum(d.bytes for d in environment.distributions if d.dev_only)
    assert report.categories[Category.DEV_PACKAGES] == dev_bytes


def test_multi_stage_estimate_keeps_the_runtime_set_of_a_system_install(audit_spec: AuditSpec) -> None:
    report = audit_shared(audit_spec, dev=False)
    finding = next(f for f in report.findings if f.id == "toolchain-at-runtime")
    assert finding.evidence.install_layout == (
        "system site-packages /usr/local/lib/python3.11/site-packages (installed by Poetry)"
    )
    environment = env_at(report, f"/{site('3.11')}")
    runtime = sum(d.bytes for d in environment.distributions if not d.toolchain)
    assert {d.name for d in environment.distributions if not d.toolchain} == {"click", "idna", "tally"}
    assert f"the runtime set: {runtime} bytes" in " ".join(finding.evidence.details)
    code = 400
    above_base = report.total_bytes - report.layers[0].size_bytes
    assert finding.estimated_savings_bytes == above_base - runtime - code
    assert "POETRY_VIRTUALENVS_OPTIONS_NO_PIP=true" in finding.fix.dockerfile
    # Poetry 1.8 seeds setuptools too (measured on Python 3.11): the plan counts neither.
    assert "POETRY_VIRTUALENVS_OPTIONS_NO_SETUPTOOLS=true" in finding.fix.dockerfile
    assert "beside Poetry in the system interpreter" in finding.fix.text
    assert report.plan is not None
    assert report.plan.estimated_final_bytes == report.layers[0].size_bytes + runtime + code


def test_pip_install_user_keeps_the_user_site_as_the_runtime_set(audit_spec: AuditSpec) -> None:
    user_site = "root/.local/lib/python3.11/site-packages"
    app = [
        *distribution(user_site, "click", "8.1.7", {"click/__init__.py": 9_000}),
        *distribution(user_site, "tally", "0.1.0", {"tally/__init__.py": 300}, ["click>=8.1", "idna>=3.7"]),
    ]
    report = audit_spec(
        image(
            Layer(poetry_install("3.11"), "RUN pip install poetry==2.5.1"),
            Layer([File("app/pyproject.toml", PYPROJECT)], "COPY pyproject.toml ./"),
            Layer(app, "RUN pip install --user ."),
        )
    )
    finding = next(f for f in report.findings if f.id == "toolchain-at-runtime")
    # idna, which the app declares, was already there for Poetry: the system site serves the app too.
    assert finding.evidence.install_layout == (
        f"user site-packages (--user) /{user_site} (installed by pip); "
        f"system site-packages /{site('3.11')} (installed by pip)"
    )
    runtime = sum(d.bytes for d in env_at(report, f"/{user_site}").distributions)
    # idna lives in the system site beside Poetry, and the app needs it: it stays.
    idna = next(d for d in env_at(report, f"/{site('3.11')}").distributions if d.name == "idna")
    assert not idna.toolchain
    assert report.plan is not None
    # No package directory in /app: every COPY counts as the app's code.
    kept = runtime + idna.bytes + len(PYPROJECT)
    assert report.plan.estimated_final_bytes == report.layers[0].size_bytes + kept


PIPFILE = b'[packages]\nclick = "*"\n\n[dev-packages]\npytest = "*"\n'
PIPFILE_LOCK = b"""{"_meta": {"sources": []},
 "default": {"click": {"version": "==8.1.7"}},
 "develop": {"pytest": {"version": "==8.4.2"}}}"""


def test_a_pipenv_system_install_is_told_as_pipenvs_with_a_venv_virtualenv_does_not_seed(
    audit_spec: AuditSpec,
) -> None:
    """`pipenv install --system --deploy` (a common real pattern): the fix's venv is made by
    virtualenv, which would seed pip and setuptools that the plan does not count."""
    where = site("3.11")
    pipenv = [
        distribution(where, "pipenv", "2025.0.4", {"pipenv/__init__.py": 90_000}, ["virtualenv>=20.24.2"]),
        distribution(
            where, "virtualenv", "20.29.0", {"virtualenv/__init__.py": 8_000}, ["filelock<4,>=3.12.2"]
        ),
        distribution(where, "filelock", "3.16.1", {"filelock/__init__.py": 2_000}),
    ]
    app = distribution(where, "click", "8.1.7", {"click/__init__.py": 9_000})
    report = audit_spec(
        image(
            Layer([f for d in pipenv for f in d], "RUN pip install pipenv"),
            Layer(
                [File("app/Pipfile", PIPFILE), File("app/Pipfile.lock", PIPFILE_LOCK)],
                "COPY Pipfile Pipfile.lock ./",
            ),
            Layer(app, "RUN pipenv install --system --deploy"),
        )
    )
    finding = next(f for f in report.findings if f.id == "toolchain-at-runtime")
    assert "beside Pipenv in the system interpreter" in finding.fix.text
    for setting in ("VIRTUALENV_NO_PIP=1", "VIRTUALENV_NO_SETUPTOOLS=1", "VIRTUALENV_NO_WHEEL=1"):
        assert setting in finding.fix.dockerfile
    assert "POETRY" not in finding.fix.dockerfile
