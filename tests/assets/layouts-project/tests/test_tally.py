import idna


def test_encodes() -> None:
    assert idna.encode("bücher.example") == b"xn--bcher-kva.example"
