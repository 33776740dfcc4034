"""A tiny WSGI app: it answers with the punycode of an internationalised host name."""

from wsgiref.simple_server import make_server

import idna


def application(environ, start_response):
    body = idna.encode("bücher.example") + b"\n"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def main() -> None:
    make_server("", 8000, application).serve_forever()


if __name__ == "__main__":
    main()
