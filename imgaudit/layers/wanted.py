"""The few small files whose contents the walk keeps, and how much of each.

Classification reads accounts, Python package metadata, project lock files and OS package
databases. The rule set is fixed so that a layer's analysis stays a pure function of its
bytes (and can be cached by diff_id). Caps bound memory on hostile or huge images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imgaudit.classify.projects.registry import project_file_rules, project_files

KIB = 1024
MIB = 1024 * KIB
# All kept contents of one image together: 100 RECORD files of 8 MiB must not cost 800 MiB.
KEPT_CONTENT_BUDGET = 128 * MIB


@dataclass(frozen=True, slots=True)
class ContentRule:
    pattern: re.Pattern[str]
    cap: int
    # METADATA headers come first, so a prefix is still useful; a cut RECORD or lock is not.
    prefix_ok: bool = False


_RULES: tuple[ContentRule, ...] = (
    ContentRule(re.compile(r"etc/(passwd|group)"), 1 * MIB),
    ContentRule(re.compile(r".*/pyvenv\.cfg"), 64 * KIB),
    ContentRule(re.compile(r".*\.dist-info/(RECORD|INSTALLER|direct_url\.json)"), 8 * MIB),
    ContentRule(re.compile(r".*\.dist-info/top_level\.txt"), 64 * KIB),
    ContentRule(re.compile(r".*\.dist-info/METADATA"), 256 * KIB, prefix_ok=True),
    ContentRule(re.compile(r".*\.egg-info/(installed-files\.txt|requires\.txt|top_level\.txt)"), 4 * MIB),
    ContentRule(re.compile(r".*\.egg-info/PKG-INFO"), 256 * KIB, prefix_ok=True),
    # Every file a project format reads (classify.projects.registry), and PEP 751 locks.
    *(ContentRule(pattern, cap) for pattern, cap in project_file_rules()),
    ContentRule(re.compile(r"(.*/)?pylock(\.[^/]*)?\.toml"), 8 * MIB),
    ContentRule(re.compile(r"var/lib/dpkg/status"), 32 * MIB),
    ContentRule(re.compile(r"var/lib/dpkg/status\.d/[^/]+"), 1 * MIB),
    ContentRule(re.compile(r"var/lib/dpkg/info/[^/]+\.list"), 4 * MIB),
    ContentRule(re.compile(r"lib/apk/db/installed"), 32 * MIB),
)

# A cheap pre-filter keeps the regexes off the hot path (every file of every layer): a kept
# file's base name is one of these, starts with one of these prefixes (every project file's
# name starts with its literal prefix), ends in `.list`, or it lies in a `status.d`. It
# lets through a superset of what the rules keep; the rules decide.
_INTERESTING_NAMES = frozenset(
    {
        "passwd",
        "group",
        "pyvenv.cfg",
        "RECORD",
        "INSTALLER",
        "direct_url.json",
        "METADATA",
        "installed-files.txt",
        "requires.txt",
        "top_level.txt",
        "PKG-INFO",
        "status",
        "installed",
    }
)
_INTERESTING_PREFIXES = ("pylock", *(file.literal_prefix for file in project_files()))


def content_cap(path: str, size: int) -> int | None:
    """How many bytes of this file to keep, or None to keep none."""
    # Inline, not helper calls: a Python call costs more than these four tests together.
    name = path.rpartition("/")[2]
    if not (
        name in _INTERESTING_NAMES
        or name.startswith(_INTERESTING_PREFIXES)
        or name.endswith(".list")
        or "status.d" in path
    ):
        return None
    for rule in _RULES:
        if rule.pattern.fullmatch(path):
            if size <= rule.cap:
                return size
            return rule.cap if rule.prefix_ok else None
    return None


class ContentBudget:
    """The bytes of kept contents an image may still take; shared by the walks of its layers.

    Over budget a file is simply not kept (the caller says so in the report's warnings):
    classification loses a detail, the byte accounting loses nothing.
    """

    def __init__(self, limit: int = KEPT_CONTENT_BUDGET) -> None:
        self.limit = limit
        self.remaining = limit
        self.refused = 0  # files not kept for want of budget

    def take(self, size: int) -> bool:
        if size > self.remaining:
            self.refused += 1
            return False
        self.remaining -= size
        return True
