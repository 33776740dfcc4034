"""`greet NAME`: greets a host name, in punycode (the `idn` extra)."""

import click
import idna


@click.command()
@click.argument("name", default="bücher.example")
def main(name: str) -> None:
    click.echo(f"hello, {idna.encode(name).decode()}")
