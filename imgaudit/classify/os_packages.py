"""OS packages from the image's own package databases, and which only the build needed.

Debian: `var/lib/dpkg/status` + `var/lib/dpkg/info/<pkg>.list` (file lists); distroless
images keep one stanza per package in `var/lib/dpkg/status.d/` with `<pkg>.md5sums` beside
it. Alpine: `lib/apk/db/installed`. Build-only: compilers, binutils, make, headers
(`*-dev`), build-essential, git, and what only they depend on (Depends/Pre-Depends).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from imgaudit.classify.graph import adjacency, closure, exclusive_against_rest
from imgaudit.classify.runtime_libraries import runtime_libraries
from imgaudit.layers.merge import FinalFile
from imgaudit.layers.paths import basename, normalize
from imgaudit.model import EntryKind, OsPackage

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
DPKG_INFO = "var/lib/dpkg/info/"
APK_INSTALLED = "lib/apk/db/installed"
# Merged-/usr images keep these as symlinks into usr/, while dpkg lists the old paths.
_USRMERGE = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
BUILD_ONLY = re.compile(
    r"^(?:(?:gcc|g\+\+|cpp|c\+\+)(?:-\d+)?(?:-[a-z0-9_]+-linux-[a-z]+)?|binutils(?:-.*)?|make|make-guile"
    r"|build-essential|build-base|git|git-man|.+-dev|libtool|autoconf|automake|pkg-config|pkgconf"
    r"|cmake|clang(?:-\d+)?|llvm(?:-\d+)?|libgcc-\d+-dev|musl-dev|linux-headers)$"
)
_DEP_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9+.\-_]*)")


@dataclass(frozen=True, slots=True)
class _Record:
    name: str
    version: str
    depends: tuple[tuple[str, ...], ...]  # each a group of alternatives
    provides: tuple[str, ...]
    files: tuple[str, ...]  # normalised paths (before usrmerge)
    dated_by: str | None  # the database file whose layer installed the package, if it has one
    manager: str  # dpkg or apk


@dataclass(frozen=True, slots=True)
class OsPackages:
    packages: tuple[OsPackage, ...]  # biggest first
    owner: Mapping[str, str]  # final file path -> package name
    build_only: Mapping[str, str]  # package -> the build-only root that needs it


def _stanzas(text: str) -> list[dict[str, str]]:
    """RFC 822-ish stanzas (dpkg status) with continuation lines folded in."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                found.append(current)
            current, last = {}, ""
        elif line[0] in " \t" and last:
            current[last] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            last = key.strip()
            current[last] = value.strip()
    if current:
        found.append(current)
    return found


def _dependency_groups(*fields: str) -> tuple[tuple[str, ...], ...]:
    groups = []
    for value in fields:
        for group in value.split(","):
            names = tuple(
                m.group(1).partition(":")[0] for alt in group.split("|") if (m := _DEP_NAME.match(alt))
            )
            if names:
                groups.append(names)
    return tuple(groups)


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", "replace") if data else ""


def _listed(text: str) -> tuple[str, ...]:
    return tuple(p for line in text.splitlines() if (p := normalize(line.strip().lstrip("/"))))


def _md5sums(text: str) -> tuple[str, ...]:
    return tuple(p for line in text.splitlines() if (p := normalize(line.partition("  ")[2].strip())))


def _dpkg(contents: Mapping[str, bytes]) -> list[_Record]:
    lists: dict[str, str] = {}
    for path in contents:
        if path.startswith(DPKG_INFO) and path.endswith(".list"):
            lists[basename(path)[: -len(".list")].partition(":")[0]] = path
    stanzas: list[tuple[dict[str, str], str | None]] = [
        (s, None) for s in _stanzas(_text(contents.get(DPKG_STATUS)))
    ]
    for path, data in contents.items():
        if path.startswith(DPKG_STATUS_D) and "." not in basename(path):
            stanzas.extend((s, path) for s in _stanzas(_text(data)))
    records = []
    for stanza, own_file in stanzas:
        name = stanza.get("Package", "")
        if not name or ("Status" in stanza and not stanza["Status"].endswith(" installed")):
            continue
        if own_file is not None:  # distroless
            files = _md5sums(_text(contents.get(f"{own_file}.md5sums")))
            dated_by: str | None = own_file
        else:
            list_path = lists.get(name)
            files = _listed(_text(contents.get(list_path))) if list_path else ()
            dated_by = list_path
        records.append(
            _Record(
                name,
                stanza.get("Version", ""),
                _dependency_groups(stanza.get("Depends", ""), stanza.get("Pre-Depends", "")),
                tuple(g[0] for g in _dependency_groups(stanza.get("Provides", ""))),
                files,
                dated_by,
                "dpkg",
            )
        )
    return records


def _apk(contents: Mapping[str, bytes]) -> list[_Record]:
    records = []
    for block in _text(contents.get(APK_INSTALLED)).split("\n\n"):
        fields: dict[str, list[str]] = defaultdict(list)
        files: list[str] = []
        directory = ""
        for line in block.splitlines():
            key, _, value = line.partition(":")
            if key == "F":
                directory = value
            elif key == "R" and (path := normalize(f"{directory}/{value}" if directory else value)):
                files.append(path)
            else:
                fields[key].append(value)
        if not fields["P"]:
            continue
        depends = tuple(
            (d if d.startswith(("so:", "cmd:", "pc:")) else re.split(r"[<>=~]", d, maxsplit=1)[0],)
            for value in fields["D"]
            for d in value.split()
            if not d.startswith("!")
        )
        provides = tuple(p.partition("=")[0] for value in fields["p"] for p in value.split())
        records.append(
            _Record(fields["P"][0], (fields["V"] or [""])[0], depends, provides, tuple(files), None, "apk")
        )
    return records


def _usrmerged(final: Mapping[str, FinalFile]) -> frozenset[str]:
    return frozenset(p for p in _USRMERGE if p in final and final[p].kind is EntryKind.SYMLINK)


def _resolve(path: str, merged: frozenset[str]) -> str:
    top, _, rest = path.partition("/")
    return f"usr/{top}/{rest}" if rest and top in merged else path


def _build_only(records: Sequence[_Record]) -> dict[str, str]:
    installed = {r.name for r in records}
    providers: dict[str, list[str]] = defaultdict(list)
    for record in records:
        for virtual in record.provides:
            providers[virtual].append(record.name)
    graph: dict[str, list[str]] = {}
    for record in records:
        targets = []
        for group in record.depends:
            for alternative in group:
                if alternative in installed:
                    targets.append(alternative)
                targets.extend(providers.get(alternative, ()))
        graph[record.name] = targets
    roots = sorted(n for n in installed if BUILD_ONLY.match(n))
    edges = adjacency(graph)
    only_build = exclusive_against_rest(roots, sorted(installed), edges)
    # What the roots build loads at run time (a `-dev` package's library, Alpine's libstdc++ for
    # g++) is the app's: the runtime stage `imgaudit fix` writes installs it, and the plan keeps it.
    loaded = [
        library
        for record in records
        if record.name in roots
        for library in runtime_libraries(record.manager).get(record.name, ())
        if library in installed
    ]
    needed = closure(loaded, edges)
    return {name: root for name, root in only_build.items() if name not in needed}


def _majority_layer(paths: Iterable[str], final: Mapping[str, FinalFile]) -> int | None:
    counts = Counter(final[p].layer for p in paths if p in final)
    return counts.most_common(1)[0][0] if counts else None


def find_os_packages(
    files: Sequence[FinalFile], contents: Mapping[str, bytes], base_layer_count: int
) -> OsPackages:
    records = _dpkg(contents) + _apk(contents)
    if not records:
        return OsPackages((), {}, {})  # no package database: no need to index 10^5 files
    final = {f.path: f for f in files}
    merged = _usrmerged(final)
    owner: dict[str, str] = {}
    owned: dict[str, list[str]] = defaultdict(list)
    for record in records:
        for listed in record.files:
            path = _resolve(listed, merged)
            if path in final and path not in owner:
                owner[path] = record.name
                owned[record.name].append(path)
    build_only = _build_only(records)
    packages = []
    for record in records:
        paths = owned.get(record.name, [])
        dated = final.get(record.dated_by) if record.dated_by is not None else None
        layer = dated.layer if dated is not None else _majority_layer(paths, final)
        packages.append(
            OsPackage(
                name=record.name,
                version=record.version,
                bytes=sum(final[p].size for p in paths),
                files=len(paths),
                layer=layer,
                in_base=layer is not None and layer < base_layer_count,
                build_only=record.name in build_only,
                manager=record.manager,
            )
        )
    packages.sort(key=lambda p: (-p.bytes, p.name))
    return OsPackages(tuple(packages), owner, build_only)
