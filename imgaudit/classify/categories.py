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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


Rule = tuple[Category, Callable[[FinalFile], bool]]


def venv_roots(merged: MergedFilesystem) -> list[str]:
    return [parent(f.path) for f in merged.files if f.path.endswith("/pyvenv.cfg")]


def in_package_tree(path: str) -> bool:
    return any(f"/{name}/" in f"/{path}" for name in PACKAGE_DIR_NAMES)


def build_rules(
    info: ImageInfo,
    layers: Sequence[LayerDescriptor],
    base_layer_count: int,
    merged: MergedFilesystem,
    attribution: Attribution | None = None,
) -> list[Rule]:
    env = info.env
    homes = user_homes(info.user, env, merged.contents.get("etc/passwd"))
    caches = cache_locations(homes, env)
    poetry_venvs = PathSet(caches.poetry_virtualenvs)
    poetry = PathSet(caches.poetry)
    pip = PathSet(caches.pip)
    tool_caches = [(t.category, PathSet(t.roots), PathSet(t.keep_out)) for t in caches.tools]
    seed = PathSet(caches.virtualenv_seed)
    apt = PathSet(caches.apt)
    venvs = PathSet(venv_roots(merged))
    copy_layers = frozenset(d.index for d in layers if is_copy_step(d.created_by))
    found = attribution or Attribution()

    return [
        (Category.BASE_IMAGE, lambda f: f.layer < base_layer_count),
        (Category.POETRY_CACHE, lambda f: f.path in poetry and f.path not in poetry_venvs),
        (Category.PIP_CACHE, lambda f: f.path in pip),
        *(_cache_rule(category, roots, keep_out) for category, roots, keep_out in tool_caches),
        (Category.VIRTUALENV_SEED_CACHE, lambda f: f.path in seed),
        (Category.APT_CACHE, lambda f: f.path in apt),
        (Category.DEV_PACKAGES, lambda f: f.path in found.dev_paths),
        (Category.PYTHON_TOOLCHAIN, lambda f: f.path in found.toolchain_paths),
        (Category.BUILD_TOOLCHAIN, lambda f: f.path in found.build_paths),
        (Category.PYTHON_PACKAGES, lambda f: f.path in venvs or in_package_tree(f.path)),
        (Category.APP, lambda f: f.layer in copy_layers),
    ]


def _cache_rule(category: Category, roots: PathSet, keep_out: PathSet) -> Rule:
    return (category, lambda f: f.path in roots and f.path not in keep_out)


def classify(merged: MergedFilesystem, rules: Sequence[Rule]) -> Classification:
    totals = dict.fromkeys(Category, 0)
    assignments: list[Category] = []
    for final in merged.files:
        category = Category.OTHER
        for candidate, matches in rules:  # a loop, not next(generator): 10^5 files
            if matches(final):
                category = candidate
                break
        assignments.append(category)
        totals[category] += final.size
    return Classification(totals, tuple(assignments))
