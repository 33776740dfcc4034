"""The pip/Poetry toolchain: what installs the app, not what the app runs on.

Poetry, pipx, pip, setuptools and wheel installed above the base outside any virtual
environment (system site-packages, `pip install --user`), plus the distributions only they
need (closure over installed `Requires-Dist`). A venv a tool made for itself (Poetry's
installer, pipx) is toolchain as a whole. A venv's own seeded pip/setuptools/wheel are not:
a multi-stage build copies them along with the venv.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from imgaudit.classify.distributions import InstalledDistribution
from imgaudit.classify.environments import FoundEnvironment
from imgaudit.classify.graph import exclusive_against_rest
from imgaudit.classify.projects.registry import toolchain_distributions
from imgaudit.model import EnvironmentKind

# Plus every project format's installer (uv, pdm, pipenv, pip-tools): classify.projects.
TOOLCHAIN_NAMES = frozenset({"poetry", "pipx", "pip", "setuptools", "wheel"}) | toolchain_distributions()
# Whatever requires these extends them (Poetry plugins): it is toolchain too, or it would count
# as a user of Poetry and keep all of Poetry out of the toolchain.
EXTENDED_TOOLS = frozenset({"poetry", "pipx"})
_OUTSIDE_VENVS = (EnvironmentKind.SYSTEM, EnvironmentKind.USER)
_DistNode = tuple[str, str | None]  # (distribution key, extra)


def _resolver(dists: Sequence[InstalledDistribution]) -> dict[tuple[str, str], str]:
    """(site asking, name) -> the key it imports. Its own site first, then `--user` site, then
    the others: the order `sys.path` has them."""
    sites = sorted({d.site for d in dists}, key=lambda s: (0 if "/.local/lib/" in f"/{s}" else 1, s))
    by_site_name = {(d.site, d.name): d.key for d in dists}
    resolved: dict[tuple[str, str], str] = {}
    for asking in sites:
        for name in {d.name for d in dists}:
            for site in (asking, *sites):
                if (key := by_site_name.get((site, name))) is not None:
                    resolved[(asking, name)] = key
                    break
    return resolved


def _is_tool(dist: InstalledDistribution) -> bool:
    return dist.name in TOOLCHAIN_NAMES or any(r.name in EXTENDED_TOOLS for r in dist.requires)


def toolchain_keys(
    environments: Iterable[FoundEnvironment],
    distributions: Sequence[InstalledDistribution],
    base_layer_count: int,
) -> dict[str, str]:
    """Distribution key -> the toolchain root that needs it (itself for a root)."""
    envs = list(environments)
    outside = {site for e in envs if e.kind in _OUTSIDE_VENVS for site in e.site_dirs}
    tool_sites = {site for e in envs if e.kind is EnvironmentKind.TOOL_VENV for site in e.site_dirs}
    found = {d.key: d.name for d in distributions if d.site in tool_sites}
    system = [d for d in distributions if d.site in outside]
    resolved = _resolver(system)
    by_key = {d.key: d for d in system}

    def edges(node: _DistNode) -> list[_DistNode]:
        key, extra = node
        dist = by_key[key]
        following: list[_DistNode] = [(key, None)] if extra is not None else []
        for req in dist.requires:
            if req.when_extra == extra and (target := resolved.get((dist.site, req.name))) is not None:
                following.append((target, None))
                following.extend((target, e) for e in sorted(req.extras))
        return following

    roots: list[_DistNode] = [(d.key, None) for d in system if _is_tool(d) and d.layer >= base_layer_count]
    everything: list[_DistNode] = [(d.key, None) for d in system]
    only = exclusive_against_rest(roots, everything, edges)
    for (key, _), (root, _) in only.items():
        found.setdefault(key, by_key[root].name)
    return found
