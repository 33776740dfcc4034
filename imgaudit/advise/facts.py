"""Facts about the project inside the image that findings and `imgaudit fix` share.

All read from the merged filesystem, the kept small-file contents and the image config.
"""

from __future__ import annotations

import re
import shlex
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter

from imgaudit.classify.categories import in_package_tree, venv_roots
from imgaudit.classify.context import instruction
from imgaudit.classify.projects.interface import PYPROJECT, ProjectFiles
from imgaudit.errors import ClassifyError
from imgaudit.inputs import load_toml
from imgaudit.layers.merge import FinalFile, MergedFilesystem
from imgaudit.layers.paths import parent
from imgaudit.model import ImageInfo, LayerDescriptor

_DIST_INFO = re.compile(r"(?:^|/)(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-/]+)\.dist-info/METADATA$")
_DIST_INFO_METADATA = ".dist-info/METADATA"  # what every _DIST_INFO match contains
_PYTHON_BIN = re.compile(r"^usr/(?:local/)?bin/python(?P<version>3\.\d+)$")
_PYTHON_BIN_DIRS = ("usr/bin/python3.", "usr/local/bin/python3.")  # how every _PYTHON_BIN match starts
# `poetry`, `poetry[plugin]`, `poetry==1.8.5`, `poetry>=2`: not `poetry-core` or a plugin.
POETRY_REQUIREMENT = re.compile(r"^poetry(?P<extras>\[[^\]]*\])?(?P<spec>(?:[<>=!~;@ ].*)?)$", re.IGNORECASE)
_PYVENV_VERSION = re.compile(r"^\s*(?:version|version_info)\s*=\s*(?P<version>3\.\d+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    workdir: str  # absolute, "" when the image sets none
    python_version: str | None  # "3.11"
    poetry_version: str | None  # the Poetry found installed in the image
    project_dir: str | None  # normalised path of the directory holding pyproject.toml
    project_name: str | None
    package_dirs: tuple[str, ...]  # relative to project_dir: what the runtime must get
    venvs: tuple[str, ...]  # normalised roots of virtual environments above the base
    dev_group: bool
    readme: str | None
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    # The build arguments the image's RUN steps recorded in its history (the last value of each).
    build_args: Mapping[str, str] = field(default_factory=dict)


def layer_instructions(layers: tuple[LayerDescriptor, ...]) -> list[str]:
    return [instruction(d.created_by) for d in layers]


def run_commands(text: str) -> list[list[str]]:
    """A RUN line split into simple commands (at `&&`, `;`, `||`, `|`) of shell words."""
    if not text.startswith("RUN "):
        return []
    try:
        lexer = shlex.shlex(text[4:], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        words = text[4:].split()
    commands: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", ";", "||", "|", "&"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def is_pip_install(words: list[str]) -> bool:
    if "install" not in words:
        return False
    head = words[: words.index("install")]
    return any(w == "pip" or w.startswith("pip3") or w.endswith("/pip") for w in head) or (
        "-m" in head and "pip" in head
    )


# `pip install` options that take a value: the value is not a requirement.
PIP_VALUE_OPTIONS = frozenset(
    {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-t",
     "--target", "--prefix", "--root", "-f", "--find-links", "--trusted-host", "--cert",
     "--cache-dir", "--src", "--platform", "--python-version", "--implementation", "--abi",
     "--progress-bar", "--only-binary", "--no-binary", "--config-settings", "-C", "--python"}
)  # fmt: skip


def pip_requirements(words: list[str], verb: str = "install") -> list[str]:
    """The requirement words of a `pip install` (or `pip uninstall`: `verb`), options and their
    values dropped: the one reader for history lines (advise) and parsed RUNs (dockerfile)."""
    args = words[words.index(verb) + 1 :]
    requirements: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in PIP_VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            requirements.append(arg)
    return requirements


# The last call's arguments (held, so compared by identity) and its answer: the advisors of
# one audit ask four times over the same filesystem, and each answer scans every final file.
_last_facts: tuple[tuple[object, ...], ProjectFacts] | None = None


def project_facts(
    merged: MergedFilesystem, info: ImageInfo, base_layer_count: int, found: ProjectFiles | None = None
) -> ProjectFacts:
    """`found`: the project the attribution found (AdviceContext.project); when it sits in the
    image, its pyproject.toml is the one read, so the advisor does not look for it again."""
    global _last_facts
    arguments = (merged, info, base_layer_count, found)
    if _last_facts is not None and all(a is b for a, b in zip(_last_facts[0], arguments, strict=True)):
        return _last_facts[1]
    facts = _project_facts(merged, info, base_layer_count, found)
    _last_facts = (arguments, facts)
    return facts


def _project_facts(
    merged: MergedFilesystem, info: ImageInfo, base_layer_count: int, found: ProjectFiles | None
) -> ProjectFacts:
    venvs = tuple(
        v
        for v in venv_roots(merged)
        if any(f.layer >= base_layer_count for f in _files_starting(merged, f"{v}/pyvenv.cfg", exact=True))
    )
    project_dir, pyproject = _found_pyproject(merged, found) or _pyproject(merged, info.workdir)
    prefix = f"{project_dir}/" if project_dir else ""
    project = pyproject_facts(pyproject, lambda rel: _holds_files(merged, f"{prefix}{rel}"))
    return ProjectFacts(
        workdir=info.workdir,
        python_version=_python_version(merged, venvs),
        poetry_version=_installed_version(merged, "poetry"),
        project_dir=project_dir,
        project_name=project.name,
        package_dirs=project.package_dirs if project_dir is not None else (),
        dev_group=project.dev_group,
        readme=project.readme,
        venvs=venvs,
        entrypoint=tuple(str(w) for w in info.config.get("Entrypoint") or ()),
        cmd=tuple(str(w) for w in info.config.get("Cmd") or ()),
    )


def _files_starting(merged: MergedFilesystem, prefix: str, exact: bool = False) -> Iterator[FinalFile]:
    """The final files whose path starts with `prefix` (is `prefix`, when exact). The files are
    sorted by path, so they are one range, found by bisection instead of a scan of them all."""
    files = merged.files
    for i in range(bisect_left(files, prefix, key=attrgetter("path")), len(files)):
        path = files[i].path
        if not path.startswith(prefix) or (exact and path != prefix):
            return
        yield files[i]


def _holds_files(merged: MergedFilesystem, directory: str) -> bool:
    """Whether a final file sits directly in `directory`."""
    prefix = f"{directory}/"
    return any("/" not in f.path[len(prefix) :] for f in _files_starting(merged, prefix))


def _installed_version(merged: MergedFilesystem, distribution: str) -> str | None:
    for final in merged.files:
        # The substring test first: one in thousands of paths is a distribution's METADATA.
        match = _DIST_INFO.search(final.path) if _DIST_INFO_METADATA in final.path else None
        if match and match["name"].lower().replace("_", "-") == distribution and not _in_venv(final.path):
            return match["version"]
    return None


def _in_venv(path: str) -> bool:
    return "/virtualenvs/" in path or "/.venv/" in path


def _python_version(merged: MergedFilesystem, venvs: tuple[str, ...]) -> str | None:
    for venv in venvs:
        match = _PYVENV_VERSION.search(
            merged.contents.get(f"{venv}/pyvenv.cfg", b"").decode("utf-8", "replace")
        )
        if match:
            return match["version"]
    versions = sorted(
        (
            m["version"]
            for directory in _PYTHON_BIN_DIRS  # in path order, as the files are
            for f in _files_starting(merged, directory)
            if (m := _PYTHON_BIN.match(f.path))
        ),
        key=lambda v: int(v.split(".")[1]),
    )
    return versions[-1] if versions else None


def _found_pyproject(
    merged: MergedFilesystem, project: ProjectFiles | None
) -> tuple[str | None, dict[str, object]] | None:
    if project is None or PYPROJECT not in project.files:
        return None
    directory = project.location.strip("/")
    if merged.contents.get(f"{directory}/{PYPROJECT}".lstrip("/")) != project.files[PYPROJECT]:
        return None  # `--project DIR` on the host: the image's own copy decides where the code is
    try:
        return directory, load_toml(
            project.files[PYPROJECT], "pyproject.toml", project.location, ClassifyError
        )
    except ClassifyError:
        return None


def _pyproject(merged: MergedFilesystem, workdir: str) -> tuple[str | None, dict[str, object]]:
    """The project's pyproject.toml: the one in WORKDIR, else the shallowest outside packages."""
    candidates = sorted(
        (p for p in merged.contents if p.endswith("pyproject.toml") and not in_package_tree(p)),
        key=lambda p: (p.count("/"), p),
    )
    preferred = f"{workdir.strip('/')}/pyproject.toml".lstrip("/")
    if preferred in candidates:
        candidates.remove(preferred)
        candidates.insert(0, preferred)
    for path in candidates:
        try:
            data = load_toml(merged.contents[path], "pyproject.toml", path, ClassifyError)
        except ClassifyError:
            continue
        return (parent(path) if "/" in path else ""), data
    return None, {}


@dataclass(frozen=True, slots=True)
class PyprojectFacts:
    name: str | None
    package_dirs: tuple[str, ...]  # relative to the project directory
    dev_group: bool  # a dev group Poetry would install by default
    readme: str | None
    poetry: bool = False  # a [tool.poetry] table, or poetry-core as the build backend


def pyproject_facts(pyproject: dict[str, object], has_dir: Callable[[str], bool]) -> PyprojectFacts:
    """What a pyproject.toml says about packaging; `has_dir(rel)` checks the project tree."""
    project = pyproject.get("project")
    tool = pyproject.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry = poetry if isinstance(poetry, dict) else {}
    project = project if isinstance(project, dict) else {}
    name = project.get("name", poetry.get("name"))
    name = name if isinstance(name, str) else None
    declared: list[str] = []
    for item in poetry.get("packages") or ():
        if isinstance(item, dict) and isinstance(item.get("include"), str):
            where = item.get("from")
            declared.append(f"{where}/{item['include']}" if isinstance(where, str) else item["include"])
    if not declared and name is not None:
        module = name.replace("-", "_").replace(".", "_")
        declared.extend(layout for layout in (module, f"src/{module}") if has_dir(layout))
    groups = poetry.get("group")
    dependency_groups = pyproject.get("dependency-groups")
    dev_group = (
        (isinstance(groups, dict) and "dev" in groups)
        or "dev-dependencies" in poetry
        or (isinstance(dependency_groups, dict) and "dev" in dependency_groups)
    )
    readme = project.get("readme", poetry.get("readme"))
    build_system = pyproject.get("build-system")
    backend = build_system.get("build-backend") if isinstance(build_system, dict) else None
    return PyprojectFacts(
        name,
        tuple(declared[:1] if not poetry.get("packages") else declared),
        dev_group,
        readme if isinstance(readme, str) else None,
        poetry=bool(poetry) or (isinstance(backend, str) and backend.startswith("poetry.")),
    )
