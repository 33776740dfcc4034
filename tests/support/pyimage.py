"""Image-spec pieces for Python distributions and OS package databases, as real tools write them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tests.support.imagespec import File, file


def distribution(
    site: str,
    name: str,
    version: str,
    files: Mapping[str, int],
    requires: Sequence[str] = (),
    *,
    record: bool = True,
    unlisted: Mapping[str, int] | None = None,
    record_extra: Iterable[str] = (),
    installer: str = "pip",
    top_level: Sequence[str] = (),
) -> list[File]:
    """A `*.dist-info` distribution in `site` with files of the given sizes (paths relative to
    `site`, `../../../bin/x` allowed). `unlisted` files exist but RECORD omits them;
    `record_extra` are listed but absent from the image."""
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    entries = [file(_join(site, path), size, seed=len(name)) for path, size in files.items()]
    entries += [file(_join(site, path), size) for path, size in (unlisted or {}).items()]
    meta = {
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/INSTALLER": f"{installer}\n".encode(),
    }
    if top_level:
        meta[f"{dist_info}/top_level.txt"] = "".join(f"{t}\n" for t in top_level).encode()
    if record:
        rows = [*files, *meta, *record_extra, f"{dist_info}/RECORD"]
        meta[f"{dist_info}/RECORD"] = "".join(f"{row},sha256=x,1\n" for row in rows).encode()
    entries += [File(f"{site}/{path}", data) for path, data in meta.items()]
    return entries


def _join(site: str, relative: str) -> str:
    parts = site.split("/")
    for part in relative.split("/"):
        if part == "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def metadata_bytes(entries: Iterable[File], site: str) -> int:
    """Bytes of the files a distribution's entries put in its dist-info directory."""
    return sum(len(e.data) for e in entries if ".dist-info/" in e.path and e.path.startswith(site))


DpkgPackage = tuple[str, str, Mapping[str, int]]  # name, Depends, {path: size}


def dpkg_status(packages: Sequence[DpkgPackage]) -> File:
    """dpkg rewrites its whole status file on every install: give every package installed so far."""
    return dpkg(packages)[0]


def dpkg(packages: Sequence[DpkgPackage]) -> list[File]:
    """dpkg status, info lists and the files of these packages."""
    status, entries = [], []
    for name, depends, files in packages:
        stanza = f"Package: {name}\nStatus: install ok installed\nVersion: 1.0-{name}\nArchitecture: amd64\n"
        if depends:
            stanza += f"Depends: {depends}\n"
        status.append(stanza)
        listing = "/.\n" + "".join(f"/{path}\n" for path in files)
        entries.append(File(f"var/lib/dpkg/info/{name}.list", listing.encode()))
        entries += [file(path, size, seed=len(name)) for path, size in files.items()]
    return [File("var/lib/dpkg/status", "\n".join(status).encode()), *entries]
