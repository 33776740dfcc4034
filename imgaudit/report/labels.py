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
    Category.PYTHON_TOOLCHAIN: "pip/Poetry toolchain",
    Category.BUILD_TOOLCHAIN: "build toolchain",
    Category.PYTHON_PACKAGES: "Python packages",
    Category.APP: "app (COPY/ADD)",
    Category.OTHER: "other",
}


def category_label(category: Category) -> str:
    return _CATEGORY_LABELS[category]
