"""The plan's estimates on every install layout, against the images the plan describes.

One small project of our own (tests/assets/layouts-project: click, idna and babel main, six
behind the extra `plain`, pytest in the dev group; babel's 30 MB make the runtime set big
enough that an estimate dropping it misses by more than the tolerance) is built naively in each layout a real project
uses: a venv in the project, a venv in Poetry's cache, the system interpreter
(`virtualenvs.create false`) on the slim base and on a fat base (compiler headers and make
installed in a base layer), and `pip install .`. Each is then rebuilt the way its plan says.

- The plan's final size, and its saving, must be within 5 % of the rebuilt image's.
- Categories and the runtime set must be within 1 % of figures computed inside the container
  (RECORD files and os.stat, with what `pip install poetry` installed measured on its own
  image), and the findings must name the layout they saw.

Builds share their first layers (the Poetry install) through the engine's cache; `-s` prints
the table and each build's seconds. Measured on the 2-core vfs development machine while five
other sessions built images on the same engine (load average 7-9): 13 builds, 1732 s of
builds, 38.6 min wall; the figures are the estimates' (plan final within +0.23 %, categories
and runtime sets exact).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imgaudit.model import Category, Report
from tests.integration.conftest import Engine

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parent.parent / "assets" / "layouts-project"
TAG = "imgaudit-estimates/{name}:latest"
FAT_BASE = "imgaudit-estimates/fat-base:bookworm"
PLAN_TOLERANCE = 0.05
CATEGORY_TOLERANCE = 0.01
POETRY = "poetry==2.5.1 poetry-plugin-pypi-mirror==0.6.5"

MAIN = {"click", "idna", "babel", "six"}  # six: the installed extra `plain`
DEV = {"pytest", "iniconfig", "pluggy", "pygments", "packaging"}  # from the lock's dev group

# Everything up to here is the same in every Poetry build on one base: built once, cached.
# On vfs every instruction copies the whole root filesystem, so the layouts' own steps are
# few: settings go inline into the RUN that needs them, no CMD (it changes no byte).
POETRY_PREFIX = (
    "FROM {base}{stage}\n" + f"RUN pip install {POETRY}\n" + "ARG POETRY_PYPI_MIRROR_URL\nWORKDIR /app\n"
)
# The plan's multi-stage step: the builder installs main (and the extra) into a venv in the
# project, without Poetry's cache; the runtime stage starts again from the slim base and gets
# the venv and the app's package.
BUILDER = """\
COPY pyproject.toml poetry.lock ./
RUN POETRY_VIRTUALENVS_IN_PROJECT=1 POETRY_CACHE_DIR=/tmp/poetry_cache{venv_options} \\
    poetry install --only main -E plain --no-root && rm -rf /tmp/poetry_cache
"""
RUNTIME = """
FROM {slim} AS runtime
COPY --from=builder /app/.venv /app/.venv
COPY tally/ /app/tally/
"""


@dataclass(frozen=True)
class Layout:
    name: str
    base: str  # "slim" or "fat"
    naive: str  # the layout's own steps after the shared prefix (the whole Dockerfile for pip)
    rebuilt: str  # a template over {base}, {slim}
    install_layout: str  # what the findings must say they saw
    dev_installed: bool
    poetry: bool = True
    ignored_when_rebuilt: str = ""  # .dockerignore lines the plan adds


def _multi_stage(venv_options: str = "") -> str:
    return (
        POETRY_PREFIX.replace("{stage}", " AS builder") + BUILDER.format(venv_options=venv_options) + RUNTIME
    )


# A system install has no venv to copy: the builder makes one without pip, so the runtime
# stage gets the runtime set alone (the toolchain-at-runtime fix says so for this layout).
NO_PIP = " POETRY_VIRTUALENVS_OPTIONS_NO_PIP=true"
SYSTEM_INSTALL = "COPY . .\nRUN poetry config virtualenvs.create false && poetry install -E plain{flags}\n"
LAYOUTS = (
    Layout(
        "project-venv",
        "slim",
        "COPY . .\nRUN POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install -E plain\n",
        _multi_stage(),
        "project venv",
        dev_installed=True,
    ),
    Layout(
        "cache-venv",
        "slim",
        "COPY . .\nRUN poetry install -E plain\n",
        _multi_stage(),
        "venv in Poetry's cache",
        dev_installed=True,
    ),
    Layout(
        "system-slim",
        "slim",
        SYSTEM_INSTALL.format(flags=" --only main"),
        _multi_stage(NO_PIP),
        "system site-packages",
        dev_installed=False,
    ),
    Layout(
        "system-fat",
        "fat",
        SYSTEM_INSTALL.format(flags=""),
        _multi_stage(NO_PIP),
        "system site-packages",
        dev_installed=True,
    ),
    Layout(
        "pip-install",
        "slim",
        "FROM {base}\nWORKDIR /app\nCOPY . .\nRUN pip install '.[plain]' pytest\n",
        # The plan: no dev packages, the tests left out of the context, no pip cache.
        "FROM {slim}\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir '.[plain]'\n",
        "system site-packages",
        dev_installed=True,
        poetry=False,
        ignored_when_rebuilt="tests/\n",
    ),
)

# Runs inside a container: RECORD files and os.stat, nothing from imgaudit.
MEASURE = r"""
import csv, glob, json, os

def record_bytes(dist_info):
    site = os.path.dirname(dist_info)
    total, seen = 0, set()
    with open(os.path.join(dist_info, "RECORD"), newline="") as handle:
        for row in csv.reader(handle):
            if not row:
                continue
            path = os.path.normpath(os.path.join(site, row[0]))
            if path not in seen and os.path.isfile(path) and not os.path.islink(path):
                seen.add(path)
                total += os.stat(path).st_size
    return total

def tree_bytes(root, skip=()):
    total = 0
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(directory, d) not in skip]
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                total += os.stat(path).st_size
    return total

def dists(site):
    found = {}
    for info in glob.glob(os.path.join(site, "*.dist-info")):
        with open(os.path.join(info, "METADATA"), encoding="utf-8") as handle:
            name = next(l.split(":", 1)[1].strip() for l in handle if l.startswith("Name:"))
        found[name.lower().replace("_", "-").replace(".", "-")] = record_bytes(info)
    return found

sites = glob.glob("/usr/local/lib/python3*/dist-packages") + glob.glob("/app/.venv/lib/python3*/site-packages")
sites += glob.glob("/root/.cache/pypoetry/virtualenvs/*/lib/python3*/site-packages")
venvs = glob.glob("/app/.venv") + glob.glob("/root/.cache/pypoetry/virtualenvs/*")
print(json.dumps({
    "sites": {site: dists(site) for site in sites},
    "venvs": {venv: tree_bytes(venv) for venv in venvs},
    "app_code": tree_bytes("/app/tally"),
}))
"""


@dataclass
class Measured:
    sites: dict[str, dict[str, int]]
    venvs: dict[str, int]
    app_code: int


@dataclass
class Built:
    layout: Layout
    report: Report
    measured: Measured
    rebuilt: Report
    toolchain_names: frozenset[str]


@dataclass
class LayoutBuilder:
    engine: Engine
    slim: str
    mirror: str
    work: Path
    seconds: dict[str, float] = field(default_factory=dict)
    _fat: str | None = None
    _toolchains: dict[str, frozenset[str]] = field(default_factory=dict)

    def base(self, kind: str) -> str:
        if kind == "slim":
            return self.slim
        if self._fat is None:
            # A fat base derived from the shared one: C headers and make in a base layer, apt
            # cleaned up as the official python images do.
            dockerfile = (
                f"FROM {self.slim}\nRUN apt-get update && apt-get install -y --no-install-recommends "
                'libc6-dev make && apt-get clean && rm -rf /var/lib/apt/lists/*\nCMD ["python3"]\n'
            )
            self._build("fat-base", self._context("fat-base", dockerfile, project=False), FAT_BASE)
            self._fat = FAT_BASE
        return self._fat

    def _context(self, name: str, dockerfile: str, *, project: bool = True, ignore: str = "") -> Path:
        context = self.work / name
        if project:
            shutil.copytree(PROJECT, context)
        else:
            context.mkdir()
        (context / "Dockerfile").write_text(dockerfile)
        (context / ".dockerignore").write_text("Dockerfile\n.dockerignore\n" + ignore)
        return context

    def _build(self, name: str, context: Path, tag: str) -> None:
        started = time.monotonic()
        self.engine.build(context, tag, build_args={"POETRY_PYPI_MIRROR_URL": self.mirror})
        self.seconds[name] = time.monotonic() - started

    def build(self, name: str, dockerfile: str, ignore: str = "") -> Report:
        tag = TAG.format(name=name)
        self._build(name, self._context(name, dockerfile, ignore=ignore), tag)
        return self.engine.audit(tag)

    def measure(self, tag: str) -> Measured:
        out = subprocess.run(
            [
                "docker",
                "-H",
                self.engine.host,
                "run",
                "--rm",
                "--network",
                "none",
                tag,
                "python3",
                "-c",
                MEASURE,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        data = json.loads(out)
        return Measured(data["sites"], data["venvs"], data["app_code"])

    def toolchain_names(self, kind: str) -> frozenset[str]:
        """What `pip install poetry` put in the system site: measured on that step's own image."""
        if kind not in self._toolchains:
            tag = TAG.format(name=f"poetry-{kind}")
            dockerfile = POETRY_PREFIX.format(base=self.base(kind), stage="")
            self._build(f"poetry-{kind}", self._context(f"poetry-{kind}", dockerfile, project=False), tag)
            sites = self.measure(tag).sites
            self.engine.keep_untagged(tag)  # the layouts reuse its layers; it is not their base
            self._toolchains[kind] = frozenset(n for site in sites.values() for n in site)
        return self._toolchains[kind]


@pytest.fixture(scope="module")
def layout_builder(
    docker_engine: Engine,
    python_base_image: str,
    pypi_simple_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LayoutBuilder]:
    builder = LayoutBuilder(
        docker_engine, python_base_image, pypi_simple_url, tmp_path_factory.mktemp("layouts")
    )
    yield builder
    total = sum(builder.seconds.values())
    print(
        f"\n[layouts] build seconds: {', '.join(f'{k} {v:.0f}' for k, v in builder.seconds.items())}; total {total:.0f}"
    )


@pytest.fixture(scope="module")
def built(layout_builder: LayoutBuilder) -> dict[str, Built]:
    """Every layout, naive and rebuilt, built once for the whole module."""
    found: dict[str, Built] = {}
    for layout in LAYOUTS:
        base = layout_builder.base(layout.base)
        if layout.poetry:
            naive = POETRY_PREFIX.format(base=base, stage="") + layout.naive
            toolchain = layout_builder.toolchain_names(layout.base)
        else:
            naive = layout.naive.format(base=base)
            toolchain = frozenset()
        report = layout_builder.build(f"{layout.name}-naive", naive)
        measured = layout_builder.measure(TAG.format(name=f"{layout.name}-naive"))
        rebuilt = layout_builder.build(
            f"{layout.name}-rebuilt",
            layout.rebuilt.format(base=base, slim=layout_builder.slim),
            layout.ignored_when_rebuilt,
        )
        found[layout.name] = Built(layout, report, measured, rebuilt, toolchain)
    return found


def _error(estimate: int, measured: int) -> float:
    return (estimate - measured) / measured


def _close(label: str, ours: int, theirs: int) -> None:
    print(f"\n[layouts] {label}: imgaudit {ours} B, independent {theirs} B, error {ours / theirs - 1:+.3%}")
    assert theirs > 0
    assert abs(ours - theirs) <= CATEGORY_TOLERANCE * theirs, (
        f"{label}: imgaudit {ours} vs independent {theirs}"
    )


def _target_site(built: Built) -> dict[str, int]:
    """The site-packages the app was installed into."""
    sites = built.measured.sites
    venv_sites = [s for s in sites if "/dist-packages" not in s]
    return sites[venv_sites[0]] if venv_sites else sites[next(iter(sites))]


def test_plan_final_size_matches_the_rebuilt_image_for_every_layout(built: dict[str, Built]) -> None:
    rows = []
    for name, item in built.items():
        plan = item.report.plan
        assert plan is not None
        naive, estimate, rebuilt = (
            item.report.total_bytes,
            plan.estimated_final_bytes,
            item.rebuilt.total_bytes,
        )
        saved = naive - rebuilt
        rows.append(
            (name, naive, estimate, rebuilt, _error(estimate, rebuilt), plan.estimated_savings_bytes, saved)
        )
    print(
        "\n[layouts] layout          naive B   plan final B    rebuilt B    error    plan saves B  rebuild saved B   error"
    )
    for name, naive, estimate, rebuilt, error, saves, saved in rows:
        print(
            f"[layouts] {name:14} {naive:>10} {estimate:>14} {rebuilt:>12} {error:+8.2%} "
            f"{saves:>15} {saved:>16} {_error(saves, saved):+7.2%}"
        )
    for name, _naive, estimate, rebuilt, error, saves, saved in rows:
        assert abs(error) <= PLAN_TOLERANCE, f"{name}: plan {estimate} vs rebuilt {rebuilt} ({error:+.2%})"
        assert abs(_error(saves, saved)) <= PLAN_TOLERANCE, f"{name}: plan saves {saves}, the rebuild {saved}"


def test_findings_name_the_layout_they_saw(built: dict[str, Built]) -> None:
    for name, item in built.items():
        layouts = {f.evidence.install_layout for f in item.report.findings if f.evidence.install_layout}
        assert layouts, f"{name}: no finding names its install layout"
        assert all(item.layout.install_layout in seen for seen in layouts), (name, layouts)


def test_toolchain_and_dev_categories_match_an_independent_count(built: dict[str, Built]) -> None:
    for name, item in built.items():
        site = _target_site(item)
        system = next((s for p, s in item.measured.sites.items() if "/dist-packages" in p), {})
        categories = item.report.categories
        shared = not item.measured.venvs
        # On a shared interpreter, what Poetry needs is Poetry's even when dev reaches it too,
        # and what the app needs (idna, through requests) stays the app's.
        dev = {n for n in DEV if n in site and not (shared and n in item.toolchain_names)}
        if item.layout.dev_installed:
            _close(f"{name} dev_packages", categories[Category.DEV_PACKAGES], sum(site[n] for n in dev))
        else:
            assert categories[Category.DEV_PACKAGES] == 0, name
        if item.toolchain_names:
            tools = item.toolchain_names - (MAIN if shared else set())
            _close(
                f"{name} python_toolchain",
                categories[Category.PYTHON_TOOLCHAIN],
                sum(system[n] for n in tools if n in system),
            )


def test_runtime_set_matches_an_independent_count(built: dict[str, Built]) -> None:
    for name, item in built.items():
        finding = next((f for f in item.report.findings if f.id == "toolchain-at-runtime"), None)
        if finding is None:
            continue
        kept = next(d for d in finding.evidence.details if d.startswith("the runtime set:"))
        ours = int(kept.split()[3])
        site = _target_site(item)
        if item.measured.venvs:
            venv = next(iter(item.measured.venvs.values()))
            theirs = venv - sum(site[n] for n in DEV if n in site)
        else:
            theirs = sum(site[n] for n in (MAIN | {"tally"}) if n in site)
        _close(f"{name} runtime set (dependencies)", ours, theirs)
