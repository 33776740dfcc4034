"""Where imgaudit keeps its cache: `IMGAUDIT_CACHE_DIR`, else the user cache directory
(`platformdirs`); `IMGAUDIT_NO_CACHE=1` turns it off. One answer for the layer analyses, the
stored reports and the replayed outputs."""

from __future__ import annotations

import os

CACHE_DIR_ENV = "IMGAUDIT_CACHE_DIR"
NO_CACHE_ENV = "IMGAUDIT_NO_CACHE"


def cache_root() -> str | None:
    """The directory, or None when the environment turns the cache off. A string: the
    replay path (`imgaudit.replay`) runs before pathlib is worth loading."""
    if os.environ.get(NO_CACHE_ENV, "") not in ("", "0"):
        return None
    return cache_directory()


def cache_directory() -> str:
    """The directory, whether or not this run may use it for images (the shell parser's
    tables come from the installed code and are kept there even under `--no-cache`)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return configured
    from platformdirs import user_cache_dir  # only when no directory is configured

    return os.path.join(user_cache_dir("imgaudit"), "analysis")
