import babel.numbers
import click
import idna
import six


@click.command()
@click.argument("host", default="bücher.example")
def main(host: str) -> None:
    encoded = idna.encode(host).decode("ascii")
    labels = babel.numbers.format_decimal(len(encoded.split(".")), locale="de_DE")
    click.echo(six.ensure_str(f"{encoded}: {labels} labels"))


main()
