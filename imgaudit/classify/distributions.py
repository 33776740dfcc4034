"""Installed Python distributions and the files each one owns.

A distribution's files are what its `*.dist-info/RECORD` (or `*.egg-info/installed-files.txt`)
lists and the image still has; sizes come from the tar headers, never from RECORD. Files that
no record lists (bytecode compiled later, data written at run time) belong to the distribution
that alone claims their directory, so namespace packages split by what each RECORD lists.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter, methodcaller

from imgaudit.classify.deps import Dependency
from imgaudit.classify.names import canonical, marker_extra, requirement_extras, requirement_name
from imgaudit.layers.merge import FinalFile
from imgaudit.layers.paths import basename, parent

SITE_DIR_NAMES = ("site-packages", "dist-packages")
_SITE_MARKERS = tuple(f"/{name}/" for name in SITE_DIR_NAMES)
DIST_INFO = ".dist-info"
EGG_INFO = ".egg-info"
_META_DIR_MARKERS = (f"{DIST_INFO}/", f"{EGG_INFO}/")


@dataclass(frozen=True, slots=True)
class InstalledDistribution:
    key: str  # its metadata directory: unique in the image
    site: str  # the site-packages directory it is installed in
    name: str  # canonical (PEP 503)
    version: str
    installer: str | None
    requires: tuple[Dependency, ...]
    layer: int  # the layer that wrote its metadata: when it was installed
    has_record: bool


@dataclass(frozen=True, slots=True)
class Ownership:
    distributions: tuple[InstalledDistribution, ...]
    owner: Mapping[str, str]  # final file path -> distribution key


def site_dir_of(path: str) -> str | None:
    """`usr/lib/python3/dist-packages/x/y.py` -> `usr/lib/python3/dist-packages`."""
    probe = "/" + path
    for marker in _SITE_MARKERS:
        found = probe.find(marker)
        if found != -1:
            return probe[1 : found + len(marker) - 1]
    return None


def _is_plain(relative: str) -> bool:
    """No empty, `.` or `..` component (nor a leading `/`): joined as it is."""
    return (
        bool(relative)
        and not relative.startswith(("/", "."))
        and not relative.endswith("/")
        and ("/." not in relative and "//" not in relative)
    )


def resolve(base: str, relative: str) -> str | None:
    """`base` joined with a RECORD path (which may climb with `..` to `bin/`), normalised."""
    if _is_plain(relative):
        # The common line: nothing to normalise (a RECORD has a line per file: 10^5 of them).
        return f"{base}/{relative}" if base else relative
    if relative.startswith("/"):
        parts: list[str] = []
        relative = relative.lstrip("/")
    else:
        parts = base.split("/") if base else []
    for part in relative.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or None


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", "replace") if data else ""


def _record_paths(data: bytes, site: str) -> list[str]:
    # NUL bytes make csv raise: a damaged RECORD lists what it still can.
    rows = csv.reader(_text(data).replace("\x00", "").splitlines())
    try:
        return [path for row in rows if row and (path := resolve(site, row[0]))]
    except csv.Error:
        return []


def _installed_files(data: bytes, meta_dir: str) -> list[str]:
    return [p for line in _text(data).splitlines() if line.strip() and (p := resolve(meta_dir, line.strip()))]


def _marker(text: str) -> str | None:
    """The environment marker after `;`, as written (evaluated later, per interpreter)."""
    _, separator, marker = text.partition(";")
    return (marker.strip() or None) if separator else None


def _requires_from_metadata(headers: Iterable[str]) -> tuple[Dependency, ...]:
    return tuple(
        Dependency(name, requirement_extras(text), marker_extra(text), _marker(text))
        for text in headers
        if (name := requirement_name(text))
    )


def _requires_txt(data: bytes) -> tuple[Dependency, ...]:
    """egg-info `requires.txt`: plain lines, then `[extra]` or `[extra:marker]` sections."""
    found: list[Dependency] = []
    section: str | None = None
    marker: str | None = None
    for line in _text(data).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            extra, _, condition = line.strip("[]").partition(":")
            section = canonical(extra) if extra else None
            marker = condition.strip() or None
            continue
        if name := requirement_name(line):
            found.append(Dependency(name, requirement_extras(line), section, marker))
    return tuple(found)


def _name_from_dir(meta_dir: str) -> tuple[str, str]:
    stem = basename(meta_dir).rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    return name, version.partition("-")[0]


# A header line as the email package reads one (feedparser's headerRE): a field name of
# printable characters but `:`, then `:`; a line starting with white space continues the last.
_HEADER = re.compile(r"([\041-\071\073-\176]*):")


def metadata_headers(text: str) -> dict[str, list[str]]:
    """The header fields of a METADATA or PKG-INFO file (lower-cased name -> values, in order),
    read as `email.parser.HeaderParser` (compat32) reads them: up to the first empty line or
    the first line that is neither a header nor a continuation; a value has its leading
    blanks stripped and keeps its continuation lines. Written here because the email package
    costs about 8 ms to import and 0.1 ms per file, and an image has hundreds of them."""
    fields: dict[str, list[str]] = {}
    name: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if name is not None:
            fields.setdefault(name, []).append("".join(lines).rstrip("\r\n"))

    # Lines end at \n, \r or \r\n only, as the email package's (not at str.splitlines' \x1c).
    for line in io.StringIO(text, newline=""):
        if line[:1] in (" ", "\t"):
            if name is not None:  # a continuation with no header before it is skipped
                lines.append(line)
            continue
        if line in ("\n", "\r\n", "\r"):
            break
        match = _HEADER.match(line)
        if match is None:
            break
        flush()
        name, lines = match[1].lower(), [line[match.end() :].lstrip(" \t")]
    flush()
    return fields


def _read(meta_dir: str, contents: Mapping[str, bytes], layer: int) -> InstalledDistribution:
    is_egg = meta_dir.endswith(EGG_INFO)
    metadata = contents.get(f"{meta_dir}/{'PKG-INFO' if is_egg else 'METADATA'}")
    headers = metadata_headers(_text(metadata))
    dir_name, dir_version = _name_from_dir(meta_dir)
    name = (headers.get("name") or [""])[0] or dir_name
    version = (headers.get("version") or [""])[0] or dir_version
    if is_egg:
        requires = _requires_txt(contents.get(f"{meta_dir}/requires.txt", b""))
        has_record = f"{meta_dir}/installed-files.txt" in contents
    else:
        requires = _requires_from_metadata(headers.get("requires-dist", []))
        has_record = f"{meta_dir}/RECORD" in contents
    installer = _text(contents.get(f"{meta_dir}/INSTALLER")).strip() or None
    return InstalledDistribution(
        meta_dir, parent(meta_dir), canonical(name), version, installer, requires, layer, has_record
    )


def _metadata_dirs(files: Sequence[FinalFile]) -> dict[str, int]:
    """Metadata directories directly inside a site-packages tree, with their newest layer."""
    found: dict[str, int] = {}
    for final in files:
        # A C-level substring test first: few of 10^5 paths hold a metadata directory at all.
        if _META_DIR_MARKERS[0] not in final.path and _META_DIR_MARKERS[1] not in final.path:
            continue
        directory = parent(final.path)
        if directory.endswith((DIST_INFO, EGG_INFO)) and basename(parent(directory)) in SITE_DIR_NAMES:
            found[directory] = max(found.get(directory, -1), final.layer)
    return found


class _Directory:
    """A directory the image has a file in or under, inside a site-packages tree (its
    ancestors above the site are nodes too), by name under its parent."""

    __slots__ = ("answer", "children", "claim", "claimed", "depth", "parent")

    def __init__(self, parent: _Directory | None, depth: int) -> None:
        self.children: dict[str, _Directory] = {}
        self.parent = parent
        self.depth = depth  # names from the image root
        self.claimed = False
        self.claim: str | None = None  # None once claimed: several distributions share it
        self.answer: tuple[int, str | None] | None = None  # (its site's depth, owner), once found

    def claim_by(self, key: str) -> None:
        if not self.claimed:
            self.claimed, self.claim = True, key
        elif self.claim != key:
            self.claim = None


class _Directories:
    """The directories of the image's files inside site-packages trees, as a tree of names:
    a directory and those above it are reached without building their paths (a walk up a
    path, a string per level, cost 4,000 directories under a chain 2,000 deep 23 s)."""

    def __init__(self) -> None:
        self.top = _Directory(None, 0)
        # Directories by path: each one added, and its parent (siblings are then one step).
        self.known: dict[str, _Directory] = {"": self.top}

    def add(self, directory: str) -> None:
        if directory in self.known:
            return
        above, _, name = directory.rpartition("/")
        parent = self.known.get(above)
        if parent is None:
            parent = self.top
            for each in above.split("/") if above else ():
                child = parent.children.get(each)
                if child is None:
                    child = parent.children[each] = _Directory(parent, parent.depth + 1)
                parent = child
            self.known[above] = parent
        node = parent.children.get(name)
        if node is None:
            node = parent.children[name] = _Directory(parent, parent.depth + 1)
        self.known[directory] = node

    def deepest(self, directory: str) -> _Directory:
        """The node of `directory`, else of the deepest directory above it the tree has."""
        node = self.known.get(directory)
        if node is not None:
            return node
        above, _, name = directory.rpartition("/")
        parent = self.known.get(above)
        if parent is not None:
            return parent.children.get(name, parent)
        node = self.top
        for each in directory.split("/"):
            child = node.children.get(each)
            if child is None:
                break
            node = child
        return node

    def exact(self, directory: str) -> _Directory | None:
        node = self.deepest(directory)
        return node if node.depth == directory.count("/") + 1 else None

    def owner(self, directory: str, site: str) -> str | None:
        """The claim of `directory` or of the first directory above it, below `site`, that a
        distribution claims. Each directory's answer is kept: siblings deep down ask once."""
        node = self.known[directory]
        floor = site.count("/") + 1
        pending: list[_Directory] = []
        found: str | None = None
        while node.depth > floor:
            if node.claimed:
                found = node.claim
                break
            if node.answer is not None and node.answer[0] == floor:
                found = node.answer[1]
                break
            pending.append(node)
            assert node.parent is not None  # a node below the site has one
            node = node.parent
        for each in pending:
            each.answer = (floor, found)
        return found


class _Claims:
    """Who lists each path, and which distribution alone claims each directory: only the
    directories the image has files in or under count (a RECORD may name any)."""

    def __init__(self, directories: _Directories) -> None:
        self.files: dict[str, tuple[int, str]] = {}  # path -> (layer, key): the newest install wins
        self.directories = directories

    def file(self, path: str, dist: InstalledDistribution) -> None:
        claim = (dist.layer, dist.key)
        if path not in self.files or claim > self.files[path]:
            self.files[path] = claim

    def directory(self, path: str, key: str) -> None:
        node = self.directories.exact(path)
        if node is not None:
            node.claim_by(key)

    def directories_from(self, directory: str, site: str, key: str) -> None:
        """`directory` and every one above it up to `site` (excluded) are claimed by `key`."""
        if not (site and directory.startswith(site + "/")):
            return
        node: _Directory | None = self.directories.deepest(directory)
        floor = site.count("/") + 1
        while node is not None and node.depth > floor:
            if node.claimed and node.claim in (key, None):
                break  # every key that claimed this directory claimed all above it too
            node.claim_by(key)
            node = node.parent


def _top_level_names(dist: InstalledDistribution, contents: Mapping[str, bytes]) -> list[str]:
    listed = _text(contents.get(f"{dist.key}/top_level.txt")).split()
    return listed or [dist.name.replace("-", "_")]


def _claim(dist: InstalledDistribution, contents: Mapping[str, bytes], claims: _Claims) -> None:
    claims.directory(dist.key, dist.key)
    if dist.key.endswith(EGG_INFO):
        listed = _installed_files(contents.get(f"{dist.key}/installed-files.txt", b""), dist.key)
    else:
        listed = _record_paths(contents.get(f"{dist.key}/RECORD", b""), dist.site)
    site_prefix = f"{dist.site}/"
    claimed_last = None  # a RECORD lists a directory's files together: it is claimed once
    for path in listed:
        claims.file(path, dist)
        if path.startswith(site_prefix) and "/__pycache__/" not in path[len(dist.site) :]:
            directory = path.rpartition("/")[0]
            if directory != claimed_last:
                claims.directories_from(directory, dist.site, dist.key)
                claimed_last = directory
    if not dist.has_record:
        # No record (removed, or never written): its importable top-level names say what is its.
        for top in _top_level_names(dist, contents):
            claims.directory(f"{dist.site}/{top}", dist.key)
            claims.file(f"{dist.site}/{top}.py", dist)


_PATH, _SPLIT, _DIRECTORY = itemgetter(0), methodcaller("rpartition", "/"), itemgetter(0)


def find_ownership(files: Sequence[FinalFile], contents: Mapping[str, bytes]) -> Ownership:
    """Every installed distribution of the final filesystem and the files it owns."""
    dists = tuple(_read(d, contents, layer) for d, layer in sorted(_metadata_dirs(files).items()))
    if not dists:
        return Ownership((), {})  # nothing claims a file: no need to ask for each
    # The directories whose files no RECORD lists may be owned through: those in a site.
    # (The distinct directories through C-level maps: a Python loop over 10^5 files costs 40 ms.)
    sites: dict[str, str | None] = {}  # directory -> its site-packages directory
    directories = _Directories()
    for directory in dict.fromkeys(map(_DIRECTORY, map(_SPLIT, map(_PATH, files)))):
        site = sites[directory] = site_dir_of(directory + "/") if directory else None
        if site is not None:
            directories.add(directory)
    claims = _Claims(directories)
    for dist in dists:
        _claim(dist, contents, claims)
    owner: dict[str, str] = {}
    # Files share directories (250k files sit in a few thousand): a file not listed by any
    # RECORD is owned as its directory is, found once per directory.
    directory_owner: dict[str, str | None] = {}
    for final in files:
        path = final.path
        claim = claims.files.get(path)
        if claim is not None:
            owner[path] = claim[1]
            continue
        directory, _, name = path.rpartition("/")
        if directory.endswith("__pycache__") and basename(directory) == "__pycache__":
            source = f"{parent(directory)}/{name.split('.', 1)[0]}.py"
            if source in claims.files:
                owner[path] = claims.files[source][1]
                continue
        if directory in directory_owner:
            key = directory_owner[directory]
        else:
            site = sites[directory]
            key = directory_owner[directory] = (
                directories.owner(directory, site) if site is not None else None
            )
        if key:
            owner[path] = key
    return Ownership(dists, owner)
