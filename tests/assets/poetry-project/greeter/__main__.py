import click

from greeter import greeting


@click.command()
@click.argument("domain", default="bücher.example")
def main(domain: str) -> None:
    click.echo(greeting(domain))


main()
