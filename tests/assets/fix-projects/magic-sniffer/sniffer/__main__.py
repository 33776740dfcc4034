"""`python -m sniffer FILE...`: what libmagic says each file is."""

import sys

import magic


def main(argv: list[str]) -> int:
    if not argv or argv[0] == "--help":
        print("usage: python -m sniffer FILE...")
        print(magic.from_buffer(b"%PDF-1.4\n"))
        return 0
    for path in argv:
        print(f"{path}: {magic.from_file(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
