"""`requirements*.txt` pairs: which names are main, which dev.

A file named like `requirements-dev.txt` (dev, test, lint, docs, ...) declares dev roots; its
`-r requirements.txt` includes are followed, and what a main file already declares stays main.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from imgaudit.classify.deps import Root
from imgaudit.classify.names import requirement_extras, requirement_name
from imgaudit.classify.project import MAIN_GROUP, Declared
from imgaudit.layers.paths import basename

_DEV_FILE = re.compile(
    r"(?:^|[-_.])(?:dev|develop|development|test|tests|testing|lint|docs?|ci|qa|typing)(?:[-_.]|$)"
)
_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s+|=)(\S+)")


def is_dev_file(name: str) -> bool:
    stem = basename(name).rsplit(".", 1)[0]
    return bool(_DEV_FILE.search(stem[len("requirements") :]))


def _lines(name: str, files: Mapping[str, bytes], seen: frozenset[str]) -> list[tuple[str, str]]:
    """(requirement, file it came from) for a file and what it includes."""
    found: list[tuple[str, str]] = []
    for raw in files.get(name, b"").decode("utf-8", "replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if include := _INCLUDE.match(line):
            target = basename(include.group(1))  # the includes we can follow sit beside the file
            if target in files and target not in seen:
                found.extend(_lines(target, files, seen | {target}))
        elif not line.startswith("-"):
            found.append((line, name))
    return found


def requirement_roots(files: Mapping[str, bytes]) -> Declared:
    """Main roots from main files (and their includes); dev roots from dev files, less main."""
    main: dict[str, Root] = {}
    dev: dict[str, Root] = {}
    for name in sorted(files, key=is_dev_file):
        is_dev = is_dev_file(name)
        for line, origin in _lines(name, files, frozenset({name})):
            req = requirement_name(line)
            if req is None or req in main:
                continue
            if is_dev and not is_dev_file(origin):
                continue  # a main file included from a dev one: already main
            target = dev if is_dev else main
            target.setdefault(
                req, Root(req, requirement_extras(line), basename(origin) if is_dev else MAIN_GROUP)
            )
    return Declared(tuple(main.values()), tuple(r for n, r in dev.items() if n not in main))
