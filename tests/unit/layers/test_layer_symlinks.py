"""A layer's names through the symlinks it wrote before them (layers.symlinks), as
continuity's fs.RootPath resolves an entry's directory for containerd's applier."""

from __future__ import annotations

import pytest

from imgaudit.layers.symlinks import MAX_HOPS, LayerLinks, TooManyLinks


def _links(*pairs: tuple[str, str]) -> LayerLinks:
    links = LayerLinks()
    for path, target in pairs:
        links.link(links.resolve(path)[0], target)
    return links


@pytest.mark.parametrize(
    ("pairs", "entry", "expected"),
    [
        ((), "a/f", "a/f"),
        ((("a", "b"),), "a/f", "b/f"),
        ((("a", "b"),), "a", "a"),  # an entry's own name is never followed
        ((("a", "b"),), "x/a/f", "x/a/f"),  # a link elsewhere in the tree
        ((("x/a", "b"),), "x/a/f", "x/b/f"),  # relative: from the link's directory
        ((("x/a", "/b"),), "x/a/f", "b/f"),  # absolute: from the root
        ((("x/a", "../../../b"),), "x/a/c/f", "b/c/f"),  # `..` stops at the root
        ((("x/a", "b/../c/./"),), "x/a/f", "x/c/f"),  # cleaned as filepath.Join cleans
        ((("a", "b"), ("b", "c/d")), "a/e/f", "c/d/e/f"),  # a chain
        ((("a", "b"), ("a/l", "/z")), "b/l/f", "z/f"),  # a link written through a link
        ((("a", "/"),), "a/f", "f"),
    ],
)
def test_an_entrys_directory_resolves_through_the_layers_links(
    pairs: tuple[tuple[str, str], ...], entry: str, expected: str
) -> None:
    assert _links(*pairs).resolve(entry)[0] == expected


def test_what_replaces_a_link_ends_it_and_what_resolved_before_does_not_stay() -> None:
    links = _links(("a", "b"), ("d/l", "/t"))
    assert links.resolve("a/f")[0] == "b/f"
    links.remove(links.resolve("a")[1], "a")  # a file (or a whiteout) at a
    assert links.resolve("a/f")[0] == "a/f"
    links.unlink(links.resolve("d")[1], "d")  # a directory at d merges: its links stay
    assert links.resolve("d/l/f")[0] == "t/f"
    links.unlink(links.resolve("d/l")[1], "l")  # a directory at d/l replaces the link
    assert links.resolve("d/l/f")[0] == "d/l/f"
    links.link("d", "/u")  # a link at d: what was beneath it goes
    assert links.resolve("d/l/f")[0] == "u/l/f"


def test_more_than_255_links_on_the_way_is_too_many() -> None:
    chain = [(f"l{i}", f"l{i + 1}") for i in range(MAX_HOPS)]
    assert _links(*chain).resolve("l0/f")[0] == f"l{MAX_HOPS}/f"
    with pytest.raises(TooManyLinks):
        _links(*chain, (f"l{MAX_HOPS}", "end")).resolve("l0/f")
    with pytest.raises(TooManyLinks):
        _links(("a", "b"), ("b", "a")).resolve("a/f")
