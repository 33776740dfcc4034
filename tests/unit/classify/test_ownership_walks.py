"""Who owns the files no RECORD lists, found without a walk up each directory.

`find_ownership` claims only the directories the image has files in or under, as a tree of
names, and keeps each directory's answer (tests/functional/test_hostile_round3.py: a deep
chain cost minutes, a RECORD of deep names gigabytes). Its owners must be those the plain
rule gives: `reference_owners` below states the rule as a walk up every directory, a dict of
every claimed one, and random images of a few levels compare the two."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import pytest

from imgaudit.classify import distributions as dist_module
from imgaudit.classify.distributions import find_ownership, site_dir_of
from imgaudit.layers.merge import FinalFile
from imgaudit.layers.paths import Roots
from imgaudit.model import EntryKind

SITE = "usr/lib/python3.11/site-packages"
NESTED = f"{SITE}/vendored/site-packages"  # a site inside a site: the first marker names it


def reference_owners(files: Sequence[FinalFile], contents: Mapping[str, bytes]) -> dict[str, str]:
    """The rule: a RECORD claims its files, each listed file's directory and every one above
    it up to the site; a directory claimed by two distributions is no one's; a file no
    RECORD lists is owned by the claim of its directory, or of the nearest one above that has
    a claim, below its site."""
    m = dist_module
    metas = m._metadata_dirs(files)
    dists = [m._read(d, contents, layer) for d, layer in sorted(metas.items())]
    claimed_files: dict[str, tuple[int, str]] = {}
    claimed_dirs: dict[str, str | None] = {}

    def claim_file(path: str, dist: m.InstalledDistribution) -> None:
        claim = (dist.layer, dist.key)
        if path not in claimed_files or claim > claimed_files[path]:
            claimed_files[path] = claim

    def claim_dir(path: str, key: str) -> None:
        if claimed_dirs.setdefault(path, key) != key:
            claimed_dirs[path] = None

    for dist in dists:
        claim_dir(dist.key, dist.key)
        if dist.key.endswith(m.EGG_INFO):
            listed = m._installed_files(contents.get(f"{dist.key}/installed-files.txt", b""), dist.key)
        else:
            listed = m._record_paths(contents.get(f"{dist.key}/RECORD", b""), dist.site)
        for path in listed:
            claim_file(path, dist)
            if path.startswith(dist.site + "/") and "/__pycache__/" not in path[len(dist.site) :]:
                directory = path.rpartition("/")[0]
                while len(directory) > len(dist.site) and directory.startswith(dist.site + "/"):
                    if claimed_dirs.get(directory, "") in (dist.key, None):
                        break
                    claim_dir(directory, dist.key)
                    directory = directory.rpartition("/")[0]
        if not dist.has_record:
            for top in m._top_level_names(dist, contents):
                claim_dir(f"{dist.site}/{top}", dist.key)
                claim_file(f"{dist.site}/{top}.py", dist)
    owners: dict[str, str] = {}
    for final in files:
        if final.path in claimed_files:
            owners[final.path] = claimed_files[final.path][1]
            continue
        directory, _, name = final.path.rpartition("/")
        if directory.rpartition("/")[2] == "__pycache__":
            source = f"{directory.rpartition('/')[0]}/{name.split('.', 1)[0]}.py"
            if source in claimed_files:
                owners[final.path] = claimed_files[source][1]
                continue
        site = site_dir_of(directory + "/") if directory else None
        key = None
        while site is not None and len(directory) > len(site):
            if directory in claimed_dirs:
                key = claimed_dirs[directory]
                break
            directory = directory.rpartition("/")[0]
        if key:
            owners[final.path] = key
    return owners


def _random_image(rng: random.Random) -> tuple[list[FinalFile], dict[str, bytes]]:
    def relative() -> str:
        names = [rng.choice("abc") for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.1:
            names.insert(rng.randrange(len(names)), "__pycache__")
        return "/".join(names)

    paths: dict[str, bytes] = {}
    for _ in range(rng.randint(5, 40)):
        site = rng.choice([SITE, SITE, NESTED])
        paths[f"{site}/{relative()}.py"] = b""
    contents: dict[str, bytes] = {}
    for number in range(rng.randint(1, 4)):
        site = rng.choice([SITE, SITE, NESTED])
        meta = f"{site}/p{number}-1.0.dist-info"
        paths[f"{meta}/METADATA"] = contents[f"{meta}/METADATA"] = f"Name: p{number}\nVersion: 1.0\n".encode()
        if rng.random() < 0.8:
            image = [p[len(site) + 1 :] for p in paths if p.startswith(site + "/")]
            listed = rng.sample(image, min(len(image), rng.randint(0, 8)))
            listed += [f"{relative()}.py" for _ in range(rng.randint(0, 4))]  # not in the image
            record = "".join(f"{line},,\n" for line in listed).encode()
            paths[f"{meta}/RECORD"] = contents[f"{meta}/RECORD"] = record
        elif rng.random() < 0.5:
            paths[f"{meta}/top_level.txt"] = contents[f"{meta}/top_level.txt"] = f"{relative()}\n".encode()
    files = [FinalFile(path, EntryKind.FILE, 1, rng.randint(0, 2)) for path in sorted(paths)]
    return files, contents


@pytest.mark.parametrize("seed", range(300))
def test_owners_are_the_rules_walk_up_each_directory(seed: int) -> None:
    files, contents = _random_image(random.Random(seed))
    assert dict(find_ownership(files, contents).owner) == reference_owners(files, contents)


def test_a_deep_chain_of_unlisted_directories_is_owned_through_the_claim_above_it() -> None:
    chain = "/".join(["d"] * 2_000)
    meta = f"{SITE}/pkg-1.0.dist-info"
    contents = {f"{meta}/METADATA": b"Name: pkg\nVersion: 1.0\n", f"{meta}/RECORD": b"pkg/__init__.py,,\n"}
    paths = [f"{meta}/METADATA", f"{meta}/RECORD", f"{SITE}/pkg/__init__.py"]
    paths += [f"{SITE}/pkg/{chain}/{i}/f" for i in range(50)] + [f"{SITE}/other/{chain}/f"]
    files = [FinalFile(p, EntryKind.FILE, 1, 0) for p in sorted(paths)]
    owner = find_ownership(files, contents).owner
    assert {p for p in paths if owner.get(p) == meta} == set(paths) - {f"{SITE}/other/{chain}/f"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", ("", 0)),
        ("x", ("", 0)),
        ("a", ("a", 1)),
        ("a/b", ("a", 1)),
        ("a/b/c", ("a/b/c", 2)),
        ("a/b/c/" + "d/" * 3_000 + "e", ("a/b/c", 2)),
        ("a/bc", ("a", 1)),  # a root holds what lies beneath it, not what shares its prefix
        ("ab/c", ("", 0)),
    ],
)
def test_roots_give_the_deepest_root_holding_a_path(path: str, expected: tuple[str, int]) -> None:
    assert Roots({"": 0, "a": 1, "a/b/c": 2}).deepest(path) == expected


def test_roots_without_the_image_root_hold_nothing_else() -> None:
    roots = Roots({"a/b": 1})
    assert [roots.deepest(p) for p in ("a", "a/b", "a/b/x")] == [None, ("a/b", 1), ("a/b", 1)]
    assert not Roots({}) and Roots({"": 0}) and roots
