import click
import idna
import six


@click.command()
@click.argument("host", default="bücher.example")
def main(host: str) -> None:
    encoded = idna.encode(host).decode("ascii")
    click.echo(six.ensure_str(f"{encoded}: {len(encoded.split('.'))} labels"))


main()
