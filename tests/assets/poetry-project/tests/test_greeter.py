from greeter import greeting


def test_greeting_encodes_the_domain() -> None:
    assert greeting("bücher.example") == "hello, xn--bcher-kva.example"
