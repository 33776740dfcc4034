"""The pip/Poetry toolchain: what installs the app, not what the app runs on.

Poetry, pipx, pip, setuptools and wheel installed above the base outside any virtual
environment (system site-packages, `pip install --user`), plus the distributions only they
need: the closure over installed `Requires-Dist`, with environment markers evaluated for the
interpreter of each site (keyring needs importlib-metadata below Python 3.12 only). A venv a
tool made for itself (Poetry's installer, pipx) is toolchain as a whole. A venv's own seeded
pip/setuptools/wheel are not: a multi-stage build copies them along with the venv.

When the app shares the interpreter with Poetry (`virtualenvs.create false`), what the app's
main dependencies need stays the app's, and dev-only packages are not users: a package that
Poetry and only the dev group reach is Poetry's (`--without dev` would not remove it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from imgaudit.classify.distributions import InstalledDistribution
from imgaudit.classify.environments import FoundEnvironment
from imgaudit.classify.graph import closure
from imgaudit.classify.markers import Interpreter, applies, interpreter
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


@dataclass(frozen=True, slots=True)
class ToolchainGraph:
    """The installed dependency graph of the sites outside venvs, and the tools in it."""

    by_key: Mapping[str, InstalledDistribution]
    resolved: Mapping[tuple[str, str], str]
    interpreters: Mapping[str, Interpreter | None]  # site -> its interpreter
    roots: tuple[str, ...]  # keys of the tools installed above the base
    tool_venv_keys: Mapping[str, str]  # distributions of tool venvs -> their name

    def edges(self, node: _DistNode) -> list[_DistNode]:
        key, extra = node
        dist = self.by_key[key]
        where = self.interpreters.get(dist.site)
        following: list[_DistNode] = [(key, None)] if extra is not None else []
        for req in dist.requires:
            if req.when_extra != extra or not applies(req, where):
                continue
            if (target := self.resolved.get((dist.site, req.name))) is not None:
                following.append((target, None))
                following.extend((target, e) for e in sorted(req.extras))
        return following

    @staticmethod
    def _nodes(keys: Iterable[str]) -> list[_DistNode]:
        return [(key, None) for key in keys]

    def reached(self) -> dict[str, str]:
        """Every distribution a tool needs -> the tool that reaches it first."""
        found = closure(self._nodes(self.roots), self.edges)
        return {key: self.by_key[root].name for (key, _), (root, _) in found.items()}

    def needs(self) -> dict[str, frozenset[str]]:
        """Tool name -> the names of what it needs (itself included): what running it uses."""
        found: dict[str, frozenset[str]] = {}
        for root in self.roots:
            names = {self.by_key[k].name for k, _ in closure(self._nodes([root]), self.edges)}
            found[self.by_key[root].name] = frozenset(names)
        return found

    def reach(self, nodes: Iterable[_DistNode]) -> frozenset[str]:
        """Keys the given (key, extra) nodes need, markers evaluated, themselves included."""
        return frozenset(key for key, _ in closure(list(nodes), self.edges))

    def keys(self, not_users: Iterable[str] = (), keep: Iterable[str] = ()) -> dict[str, str]:
        """Distribution key -> the toolchain root that needs it (itself for a root).

        `not_users`: keys that do not count as users of what the tools need (dev-only ones
        the fix removes anyway); `keep`: keys the app needs, never toolchain."""
        own = self.reached()
        skipped, kept = frozenset(not_users), frozenset(keep)
        rest = self._nodes(k for k in self.by_key if k not in own and k not in skipped)
        shared = {key for key, _ in closure(rest, self.edges)}
        found = dict(self.tool_venv_keys)
        for key, root in own.items():
            if key not in shared and key not in kept:
                found.setdefault(key, root)
        return found


def toolchain_graph(
    environments: Iterable[FoundEnvironment],
    distributions: Sequence[InstalledDistribution],
    base_layer_count: int,
    architecture: str | None = None,
) -> ToolchainGraph:
    envs = list(environments)
    outside = {site for e in envs if e.kind in _OUTSIDE_VENVS for site in e.site_dirs}
    tool_sites = {site for e in envs if e.kind is EnvironmentKind.TOOL_VENV for site in e.site_dirs}
    interpreters = {
        site: interpreter(e.python, architecture)
        for e in envs
        if e.kind in _OUTSIDE_VENVS
        for site in e.site_dirs
    }
    system = [d for d in distributions if d.site in outside]
    return ToolchainGraph(
        by_key={d.key: d for d in system},
        resolved=_resolver(system),
        interpreters=interpreters,
        roots=tuple(d.key for d in system if _is_tool(d) and d.layer >= base_layer_count),
        tool_venv_keys={d.key: d.name for d in distributions if d.site in tool_sites},
    )


def toolchain_keys(
    environments: Iterable[FoundEnvironment],
    distributions: Sequence[InstalledDistribution],
    base_layer_count: int,
    architecture: str | None = None,
) -> dict[str, str]:
    """Distribution key -> the toolchain root that needs it (itself for a root), counting every
    other installed distribution as a user."""
    return toolchain_graph(environments, distributions, base_layer_count, architecture).keys()
