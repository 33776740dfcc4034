"""Python- and OS-package-aware attribution: the facts behind `dev_packages`,
`python_toolchain` and `build_toolchain`, and the report's environments and OS packages.

Pure: reads only the merged filesystem (headers and kept contents) and the image config.
Everything is keyed by path in dicts, so an image of 100k files costs a few passes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from imgaudit.classify.context import PASSWD, cache_locations, user_homes
from imgaudit.classify.deps import Dependency
from imgaudit.classify.devdeps import DevVerdict, decide_dev_only
from imgaudit.classify.distributions import InstalledDistribution, Ownership, find_ownership
from imgaudit.classify.environments import FoundEnvironment, find_environments
from imgaudit.classify.os_packages import OsPackages, find_os_packages
from imgaudit.classify.project import ProjectFiles, find_project
from imgaudit.classify.projects.tools import standalone_binary_paths
from imgaudit.classify.toolchain import toolchain_keys
from imgaudit.layers.merge import FinalFile, MergedFilesystem
from imgaudit.layers.paths import normalize, parent
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
) -> list[FoundEnvironment]:
    """Where the app's dependencies were installed: venvs written above the base, else the
    interpreter's own site-packages when the build installed there."""

    def installs_above_base(env: FoundEnvironment) -> bool:
        return any(
            d.layer >= base_layer_count and d.key not in toolchain
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


def _keep_what_the_app_needs(
    toolchain: Mapping[str, str],
    targets: Sequence[FoundEnvironment],
    ownership: Ownership,
    main_needed: frozenset[str],
) -> dict[str, str]:
    """The app installed beside Poetry (no venv): what its main dependencies reach is the app's."""
    shared_sites = {site for env in targets if env.kind is not EnvironmentKind.VENV for site in env.site_dirs}
    apps = {d.key for d in ownership.distributions if d.site in shared_sites and d.name in main_needed}
    return {key: root for key, root in toolchain.items() if key not in apps}


def _nearest(path: str, roots: Mapping[str, int]) -> int | None:
    """Index of the deepest root that holds `path`, walking up its directories."""
    directory = parent(path)
    while True:
        if directory in roots:
            return roots[directory]
        if not directory:
            return None
        directory = parent(directory)


def _environment_reports(
    environments: Sequence[FoundEnvironment],
    files: Sequence[FinalFile],
    ownership: Ownership,
    toolchain: Mapping[str, str],
    dev: Mapping[str, str],  # distribution key -> reason
) -> tuple[PythonEnvironment, ...]:
    index = {env.root: i for i, env in enumerate(environments)}
    env_bytes = [0] * len(environments)
    dist_bytes: dict[str, int] = defaultdict(int)
    dist_files: dict[str, int] = defaultdict(int)
    for final in files:
        if (i := _nearest(final.path, index)) is not None:
            env_bytes[i] += final.size
        if (key := ownership.owner.get(final.path)) is not None:
            dist_bytes[key] += final.size
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


def attribute(
    merged: MergedFilesystem,
    info: ImageInfo,
    base_layer_count: int,
    project: ProjectFiles | None = None,
) -> Attribution:
    """`project`: given with `--project`; else looked for in the image, outside environments
    and caches."""
    os_packages = find_os_packages(merged.files, merged.contents, base_layer_count)
    environments = find_environments(merged.files, merged.contents, info.env)
    ownership = find_ownership(merged.files, merged.contents)
    toolchain = toolchain_keys(environments, ownership.distributions, base_layer_count)
    dists_by_site: dict[str, list[InstalledDistribution]] = defaultdict(list)
    for dist in ownership.distributions:
        dists_by_site[dist.site].append(dist)
    targets = _project_environments(environments, dists_by_site, toolchain, base_layer_count)
    verdict: DevVerdict | None = None
    dev: dict[str, str] = {}
    if targets:
        installed = [
            d
            for env in targets
            for site in env.site_dirs
            for d in dists_by_site.get(site, ())
            if d.key not in toolchain
        ]
        if project is None:
            workdir = normalize(info.workdir.lstrip("/")) or ""
            caches = cache_locations(user_homes(info.user, info.env, merged.contents.get(PASSWD)), info.env)
            skip = [*caches.all_roots(), *(e.root for e in environments)]
            project = find_project(merged.contents, workdir, skip)
        verdict = decide_dev_only(project, _installed_graph(installed))
        in_targets = {site for env in targets for site in env.site_dirs}
        dev = {
            d.key: verdict.dev_only[d.name]
            for d in ownership.distributions
            if d.site in in_targets and d.name in verdict.dev_only
        }
    if verdict is not None:
        toolchain = _keep_what_the_app_needs(toolchain, targets, ownership, verdict.main_needed)
    tool_venvs = [e.root for e in environments if e.kind is EnvironmentKind.TOOL_VENV]
    venv_files = frozenset(
        f.path
        for f in merged.files
        if tool_venvs and _nearest(f.path, dict.fromkeys(tool_venvs, 0)) is not None
    )
    # Project formats' standalone binaries (uv copied from its image): no dist-info owns them.
    binaries = standalone_binary_paths(merged.files, (e.root for e in environments), base_layer_count)
    dists = {d.key: d for d in ownership.distributions}
    return Attribution(
        environments=_environment_reports(environments, merged.files, ownership, toolchain, dev),
        os_packages=os_packages.packages,
        dev_dependencies=verdict.dependencies if verdict else None,
        dev_paths=_paths_of(dev, ownership),
        toolchain_paths=_paths_of(toolchain, ownership) | venv_files | binaries,
        build_paths=_build_paths(os_packages),
        project=project,
        project_format=verdict.format if verdict else None,
        dev_distributions=tuple(sorted({f"{dists[k].name}=={dists[k].version}" for k in dev}, key=str.lower)),
    )
