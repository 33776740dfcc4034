"""Greets a domain, IDNA-encoded."""

import idna


def greeting(domain: str) -> str:
    return f"hello, {idna.encode(domain).decode('ascii')}"
