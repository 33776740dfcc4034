"""Python- and OS-package-aware attribution: the facts behind `dev_packages`,
`python_toolchain` and `build_toolchain`, and the report's environments and OS packages.

Pure: reads only the merged filesystem (headers and kept contents) and the image config.
Everything is keyed by path in dicts, so an image of 100k files costs a few passes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from imgaudit.classify.context import PASSWD, PathSet, cache_locations, user_homes
from imgaudit.classify.deps import Dependency
from imgaudit.classify.devdeps import DevVerdict, decide_dev_only
from imgaudit.classify.directories import bytes_by_directory
from imgaudit.classify.distributions import InstalledDistribution, Ownership, find_ownership
from imgaudit.classify.environments import FoundEnvironment, find_environments
from imgaudit.classify.names import canonical
from imgaudit.classify.os_packages import OsPackages, find_os_packages
from imgaudit.classify.project import PYPROJECT, ProjectFiles, declared_roots, find_project
from imgaudit.classify.projects.tools import standalone_binary_paths
from imgaudit.classify.runtime import RuntimeSet, describe_layout, runtime_paths
from imgaudit.classify.toolchain import ToolchainGraph, toolchain_graph
from imgaudit.errors import ClassifyError
from imgaudit.inputs import load_toml
from imgaudit.layers.merge import FinalFile, MergedFilesystem
from imgaudit.layers.paths import Roots, normalize
from imgaudit.model import (
    DevDependencies,
    Distribution,
    EnvironmentKind,
    ImageInfo,
    OsPackage,
    PythonEnvironment,
)


@dataclass(frozen=True, slots=True)
class Attribution:
    environments: tuple[PythonEnvironment, ...] = ()
    os_packages: tuple[OsPackage, ...] = ()
    dev_dependencies: DevDependencies | None = None
    dev_paths: frozenset[str] = frozenset()
    toolchain_paths: frozenset[str] = frozenset()
    build_paths: frozenset[str] = frozenset()
    # Final paths of OS packages installed above the base that no build alone needs (a `-dev`
    # package's library, a tool the RUN installed): what a runtime stage installs again.
    runtime_os_paths: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()  # project files in the image that could not be read
    runtime: RuntimeSet | None = None  # where the app was installed, and what it runs on
    # Tool name -> names of what running it uses: a deletion advised earlier must keep them.
    tool_needs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The project and the format that decided dev from main travel on to the advisor, so it
    # neither finds the project again nor re-derives dev names (classify.projects).
    project: ProjectFiles | None = None
    project_format: str | None = None
    dev_distributions: tuple[str, ...] = ()  # `name==version` of the dev-only distributions


def _project_environments(
    environments: Sequence[FoundEnvironment],
    dists_by_site: Mapping[str, list[InstalledDistribution]],
    toolchain: Mapping[str, str],
    base_layer_count: int,
    declared: frozenset[str] = frozenset(),
) -> list[FoundEnvironment]:
    """Where the app's dependencies were installed: venvs written above the base, else the
    interpreter's own site-packages when the build installed there (a dependency the project
    declares counts even when Poetry needs it too)."""

    def installs_above_base(env: FoundEnvironment) -> bool:
        return any(
            d.layer >= base_layer_count and (d.key not in toolchain or d.name in declared)
            for site in env.site_dirs
            for d in dists_by_site.get(site, ())
        )

    venvs = [e for e in environments if e.kind is EnvironmentKind.VENV and installs_above_base(e)]
    if venvs:
        return venvs
    return [e for e in environments if e.kind is not EnvironmentKind.TOOL_VENV and installs_above_base(e)]


def _installed_graph(dists: Iterable[InstalledDistribution]) -> dict[str, list[Dependency]]:
    graph: dict[str, list[Dependency]] = {}
    for dist in dists:
        graph.setdefault(dist.name, []).extend(dist.requires)
    return graph


def _declared_main(project: ProjectFiles | None) -> dict[str, frozenset[str]] | None:
    """The project's direct main dependencies (with the extras they ask for), its own name
    included; None without a pyproject.toml."""
    data = project.files.get(PYPROJECT) if project is not None else None
    if project is None or data is None:
        return None
    where = f"{project.location.rstrip('/')}/{PYPROJECT}"
    try:
        roots = {root.name: root.extras for root in declared_roots(data, where).main}
    except ClassifyError:
        return None  # the dev verdict reports the malformed file
    try:
        document = load_toml(data, "pyproject.toml", where, ClassifyError)
    except ClassifyError:
        return roots
    for table in (document.get("project"), (document.get("tool") or {}).get("poetry")):
        if isinstance(table, dict) and isinstance(name := table.get("name"), str):
            roots.setdefault(canonical(name), frozenset())
    return roots


def _app_keys(
    targets: Sequence[FoundEnvironment],
    ownership: Ownership,
    verdict: DevVerdict,
    project: ProjectFiles | None,
    graph: ToolchainGraph,
) -> frozenset[str]:
    """The app installed beside Poetry (no venv): what its main dependencies need, over the
    installed graph with markers evaluated for this interpreter (a lock's graph keeps every
    platform's edges: click 8.1 -> importlib-metadata below Python 3.8), is the app's."""
    shared_sites = {site for env in targets if env.kind is not EnvironmentKind.VENV for site in env.site_dirs}
    shared = [d for d in ownership.distributions if d.site in shared_sites]
    declared = _declared_main(project)
    if declared is None:
        return frozenset(d.key for d in shared if d.name in verdict.main_needed)
    starts = [
        node
        for d in shared
        if d.name in declared
        for node in [(d.key, None), *((d.key, e) for e in sorted(declared[d.name]))]
    ]
    return graph.reach(starts)


def _environment_reports(
    environments: Sequence[FoundEnvironment],
    files: Sequence[FinalFile],
    directory_bytes: Mapping[str, int],
    ownership: Ownership,
    toolchain: Mapping[str, str],
    dev: Mapping[str, str],  # distribution key -> reason
) -> tuple[PythonEnvironment, ...]:
    # Each directory's bytes count in the deepest environment holding it.
    index = Roots({env.root: i for i, env in enumerate(environments)})
    env_bytes = [0] * len(environments)
    if index:
        for directory, size in directory_bytes.items():
            if (holder := index.deepest(directory)) is not None:
                env_bytes[holder[1]] += size
    dist_bytes: dict[str, int] = defaultdict(int)
    dist_files: dict[str, int] = defaultdict(int)
    owner = ownership.owner
    if owner:  # else 10^5 lookups that all miss
        for path, _kind, size, _layer in files:
            if (key := owner.get(path)) is not None:
                dist_bytes[key] += size
                dist_files[key] += 1
    by_site: dict[str, list[InstalledDistribution]] = defaultdict(list)
    for dist in ownership.distributions:
        by_site[dist.site].append(dist)
    reports = []
    for i, env in enumerate(environments):
        dists = [
            Distribution(
                name=d.name,
                version=d.version,
                bytes=dist_bytes[d.key],
                files=dist_files[d.key],
                installer=d.installer,
                dev_only=d.key in dev,
                reason=dev.get(d.key),
                toolchain=d.key in toolchain,
            )
            for site in env.site_dirs
            for d in by_site.get(site, ())
        ]
        dists.sort(key=lambda d: (-d.bytes, d.name))
        reports.append(PythonEnvironment("/" + env.root, env.kind, env.python, env_bytes[i], tuple(dists)))
    return tuple(reports)


def _paths_of(keys: Iterable[str], ownership: Ownership) -> frozenset[str]:
    wanted = set(keys)
    return frozenset(path for path, key in ownership.owner.items() if key in wanted)


def _build_paths(packages: OsPackages) -> frozenset[str]:
    return frozenset(path for path, name in packages.owner.items() if name in packages.build_only)


def _runtime_os_paths(packages: OsPackages) -> frozenset[str]:
    above = {p.name for p in packages.packages if not p.in_base and not p.build_only}
    return frozenset(path for path, name in packages.owner.items() if name in above)


def attribute(
    merged: MergedFilesystem,
    info: ImageInfo,
    base_layer_count: int,
    project: ProjectFiles | None = None,
    directory_bytes: Mapping[str, int] | None = None,
) -> Attribution:
    """`project`: given with `--project`; else looked for in the image, outside environments
    and caches. `directory_bytes`: `bytes_by_directory(merged.files)`, when the caller has it."""
    if directory_bytes is None:
        directory_bytes = bytes_by_directory(merged.files)
    os_packages = find_os_packages(merged.files, merged.contents, base_layer_count)
    environments = find_environments(merged.files, merged.contents, info.env)
    ownership = find_ownership(merged.files, merged.contents)
    graph = toolchain_graph(environments, ownership.distributions, base_layer_count, info.architecture)
    toolchain = graph.keys()
    dists_by_site: dict[str, list[InstalledDistribution]] = defaultdict(list)
    for dist in ownership.distributions:
        dists_by_site[dist.site].append(dist)
    caches = cache_locations(user_homes(info.user, info.env, merged.contents.get(PASSWD)), info.env)
    workdir = normalize(info.workdir.lstrip("/")) or ""
    found_in_image = project is None
    if project is None:
        skip = [*caches.all_roots(), *(e.root for e in environments)]
        project = find_project(merged.contents, workdir, skip)
    declared = frozenset(_declared_main(project) or ())
    targets = _project_environments(environments, dists_by_site, toolchain, base_layer_count, declared)
    verdict: DevVerdict | None = None
    dev: dict[str, str] = {}
    warnings: list[str] = []
    runtime: RuntimeSet | None = None
    if targets:
        installed = [
            d
            for env in targets
            for site in env.site_dirs
            for d in dists_by_site.get(site, ())
            if d.key not in toolchain or d.name in declared
        ]
        if found_in_image:
            try:
                verdict = decide_dev_only(project, _installed_graph(installed))
            except ClassifyError as error:
                # A file *inside* the image degrades the report, never aborts it: the bytes
                # are still measured, dev-only packages are then told apart without it.
                warnings.append(f"{error}; dev-only packages are guessed without it")
                verdict = decide_dev_only(None, _installed_graph(installed))
        else:
            verdict = decide_dev_only(project, _installed_graph(installed))
        in_targets = {site for env in targets for site in env.site_dirs}
        dev = {
            d.key: verdict.dev_only[d.name]
            for d in ownership.distributions
            if d.site in in_targets and d.name in verdict.dev_only
        }
        # Sharing Poetry's interpreter: the app's main closure stays the app's, and dev-only
        # packages are no users, so what Poetry and only dev reach is Poetry's.
        app = _app_keys(targets, ownership, verdict, project, graph)
        toolchain = graph.keys(not_users=dev, keep=app)
        dev = {key: why for key, why in dev.items() if key not in toolchain}
        project_dirs = [workdir, *([project.location.strip("/")] if project is not None else [])]
        runtime = RuntimeSet(
            layout=describe_layout(targets, installed, caches.poetry_virtualenvs, project_dirs),
            paths=runtime_paths(
                targets, (f.path for f in merged.files), ownership.owner, ownership.distributions, toolchain
            ),
            shared_interpreter=any(e.kind is not EnvironmentKind.VENV for e in targets),
            environments=tuple("/" + e.root for e in targets),
        )
    tool_venvs = PathSet(e.root for e in environments if e.kind is EnvironmentKind.TOOL_VENV)
    venv_files = (
        frozenset(f.path for f in merged.files if f.path in tool_venvs) if tool_venvs else frozenset[str]()
    )
    # Project formats' standalone binaries (uv copied from its image): no dist-info owns them.
    binaries = standalone_binary_paths(merged.files, (e.root for e in environments), base_layer_count)
    dists = {d.key: d for d in ownership.distributions}
    return Attribution(
        environments=_environment_reports(
            environments, merged.files, directory_bytes, ownership, toolchain, dev
        ),
        os_packages=os_packages.packages,
        dev_dependencies=verdict.dependencies if verdict else None,
        dev_paths=_paths_of(dev, ownership),
        toolchain_paths=_paths_of(toolchain, ownership) | venv_files | binaries,
        build_paths=_build_paths(os_packages),
        runtime_os_paths=_runtime_os_paths(os_packages),
        warnings=tuple(warnings),
        runtime=runtime,
        tool_needs=graph.needs(),
        project=project,
        project_format=verdict.format if verdict else None,
        dev_distributions=tuple(sorted({f"{dists[k].name}=={dists[k].version}" for k in dev}, key=str.lower)),
    )
