"""How categories are named to people (the ids stay in JSON)."""

from __future__ import annotations

from imgaudit.model import Category

_CATEGORY_LABELS: dict[Category, str] = {
    Category.BASE_IMAGE: "base image",
    Category.POETRY_CACHE: "Poetry cache",
    Category.PIP_CACHE: "pip cache",
    Category.VIRTUALENV_SEED_CACHE: "virtualenv seed cache",
    Category.APT_CACHE: "apt cache",
    Category.DEV_PACKAGES: "dev-only packages",
    Category.PYTHON_TOOLCHAIN: "Python toolchain (pip, Poetry, uv, ...)",
    Category.BUILD_TOOLCHAIN: "build toolchain",
    Category.PYTHON_PACKAGES: "Python packages",
    Category.APP: "app (COPY/ADD)",
    Category.OTHER: "other",
    Category.UV_CACHE: "uv cache",
    Category.PDM_CACHE: "PDM cache",
    Category.PIPENV_CACHE: "Pipenv cache",
    Category.CONDA_CACHE: "conda package cache",
}


def category_label(category: Category) -> str:
    return _CATEGORY_LABELS[category]
