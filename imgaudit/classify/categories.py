"""Every file of the final filesystem lands in exactly one category.

Rules are tried in this order; the first that matches wins:
1. base_image             the file's final version comes from a base layer
2. poetry_cache, pip_cache, uv_cache, pdm_cache, pipenv_cache, conda_cache,
   virtualenv_seed_cache,
   apt_cache              removable caches added above the base (Poetry's `virtualenvs/`
                          is never cache: a venv there is what the app runs on). A file the
                          cache hard-links into a venv (uv's default) is charged to the venv
                          (classify.links), so a cache counts only the bytes it alone holds
3. dev_packages           files of distributions only development needs (classify.devdeps:
                          poetry.lock graph, declared groups/extras, requirements files, or
                          well-known dev tools)
4. python_toolchain       pip/Poetry/pipx/setuptools/wheel outside the app's venv, what only
                          they need, and venvs tools made for themselves (classify.toolchain)
5. build_toolchain        files of OS packages only the build needed: compilers, headers,
                          make, git and their exclusive dependencies (classify.os_packages)
6. python_packages        virtual environments (any dir with `pyvenv.cfg`) and
                          `site-packages`/`dist-packages` trees added above the base
7. app                    files from COPY/ADD layers that nothing above claimed
8. other                  everything else
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from imgaudit.classify.attribution import Attribution
from imgaudit.classify.context import PathSet, cache_locations, is_copy_step, user_homes
from imgaudit.layers.merge import FinalFile, MergedFilesystem
from imgaudit.layers.paths import parent
from imgaudit.model import Category, ImageInfo, LayerDescriptor

PACKAGE_DIR_NAMES = ("site-packages", "dist-packages")


@dataclass(frozen=True, slots=True)
class Classification:
    categories: dict[Category, int]  # bytes of the final filesystem; sums to final_bytes
    assignments: tuple[Category, ...]  # one per MergedFilesystem.files, same order

    def files_in(self, merged: MergedFilesystem, category: Category) -> list[FinalFile]:
        return [f for f, c in zip(merged.files, self.assignments, strict=True) if c is category]


# The last filesystem asked about (held, so compared by identity) and its venv roots: the
# rules and the advisor ask of the same one, and each answer scans every final file.
_last_venv_roots: tuple[MergedFilesystem, tuple[str, ...]] | None = None


def venv_roots(merged: MergedFilesystem) -> tuple[str, ...]:
    global _last_venv_roots
    if _last_venv_roots is None or _last_venv_roots[0] is not merged:
        found = tuple(parent(f.path) for f in merged.files if f.path.endswith("/pyvenv.cfg"))
        _last_venv_roots = (merged, found)
    return _last_venv_roots[1]


def in_package_tree(path: str) -> bool:
    return any(f"/{name}/" in f"/{path}" for name in PACKAGE_DIR_NAMES)


@dataclass(frozen=True, slots=True)
class CacheRule:
    category: Category
    roots: PathSet
    keep_out: PathSet = field(default_factory=lambda: PathSet(()))


@dataclass(frozen=True, slots=True)
class Rules:
    """The module's rules, grouped by what they read (the order within each group is the
    rule order). Most read only where a file lies: those are asked once per directory."""

    base_layer_count: int
    caches: tuple[CacheRule, ...]  # by path
    owned: tuple[tuple[Category, frozenset[str]], ...]  # dev, toolchain, build: by exact path
    venvs: PathSet  # with the package trees: python_packages, by path
    copy_layers: frozenset[int]  # app, by layer

    def verdict(self, probe: str) -> tuple[Category | None, bool]:
        """The cache a path lies in (first rule wins), and whether it lies in a venv or a
        package tree. Asked of `directory + "/"`, the answer holds for every file of the
        directory whose own path is none of the roots: a root ends in a name, not in `/`."""
        cache = next((r.category for r in self.caches if probe in r.roots and probe not in r.keep_out), None)
        return cache, probe in self.venvs or in_package_tree(probe)

    def roots(self) -> frozenset[str]:
        """Paths that are themselves a root: a file there is asked about on its own."""
        sets = [self.venvs, *(s for rule in self.caches for s in (rule.roots, rule.keep_out))]
        return frozenset(root for paths in sets for root in paths.roots)


def build_rules(
    info: ImageInfo,
    layers: Sequence[LayerDescriptor],
    base_layer_count: int,
    merged: MergedFilesystem,
    attribution: Attribution | None = None,
) -> Rules:
    env = info.env
    homes = user_homes(info.user, env, merged.contents.get("etc/passwd"))
    caches = cache_locations(homes, env)
    found = attribution or Attribution()
    return Rules(
        base_layer_count=base_layer_count,
        caches=(
            CacheRule(Category.POETRY_CACHE, PathSet(caches.poetry), PathSet(caches.poetry_virtualenvs)),
            CacheRule(Category.PIP_CACHE, PathSet(caches.pip)),
            *(CacheRule(t.category, PathSet(t.roots), PathSet(t.keep_out)) for t in caches.tools),
            CacheRule(Category.VIRTUALENV_SEED_CACHE, PathSet(caches.virtualenv_seed)),
            CacheRule(Category.APT_CACHE, PathSet(caches.apt)),
        ),
        owned=(
            (Category.DEV_PACKAGES, found.dev_paths),
            (Category.PYTHON_TOOLCHAIN, found.toolchain_paths),
            (Category.BUILD_TOOLCHAIN, found.build_paths),
        ),
        venvs=PathSet(venv_roots(merged)),
        copy_layers=frozenset(d.index for d in layers if is_copy_step(d.created_by)),
    )


def classify(merged: MergedFilesystem, rules: Rules) -> Classification:
    totals = dict.fromkeys(Category, 0)
    assignments: list[Category] = []
    append = assignments.append
    base_layer_count, copy_layers = rules.base_layer_count, rules.copy_layers
    owned = [(category, paths) for category, paths in rules.owned if paths]
    roots = rules.roots()
    # 10^5 files sit in 10^3 directories: the path rules are asked once per directory.
    by_directory: dict[str, tuple[Category | None, bool]] = {}
    for path, _kind, size, layer in merged.files:
        if layer < base_layer_count:
            category = Category.BASE_IMAGE
        else:
            if path in roots:
                cache, in_packages = rules.verdict(path)
            else:
                directory = path.rpartition("/")[0]
                known = by_directory.get(directory)
                if known is None:
                    known = by_directory[directory] = rules.verdict(directory + "/")
                cache, in_packages = known
            if cache is not None:
                category = cache
            else:
                if in_packages:
                    category = Category.PYTHON_PACKAGES
                else:
                    category = Category.APP if layer in copy_layers else Category.OTHER
                for candidate, paths in owned:  # a loop, not next(generator): 10^5 files
                    if path in paths:
                        category = candidate
                        break
        append(category)
        totals[category] += size
    return Classification(totals, tuple(assignments))
