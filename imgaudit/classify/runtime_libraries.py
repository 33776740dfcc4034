"""The OS packages an app built against a `-dev` package (or by a compiler) loads at run time.

One table for both sides: `imgaudit fix` installs these in the runtime stage it writes, and the
image audit does not count them as build-only (so the multi-stage plan keeps what that runtime
stage will hold).
"""

from __future__ import annotations

# A `-dev` package's runtime library on Debian bookworm: what an app built against it loads.
RUNTIME_LIBRARY = {
    "libpq-dev": "libpq5",
    "libmagic-dev": "libmagic1",
    "libxml2-dev": "libxml2",
    "libxslt1-dev": "libxslt1.1",
    "libxslt-dev": "libxslt1.1",
    "libjpeg-dev": "libjpeg62-turbo",
    "libjpeg62-turbo-dev": "libjpeg62-turbo",
    "libffi-dev": "libffi8",
    "libssl-dev": "libssl3",
    "default-libmysqlclient-dev": "libmariadb3",
    "libmariadb-dev": "libmariadb3",
    "libgeos-dev": "libgeos-c1v5",
    "libyaml-dev": "libyaml-0-2",
    "libsqlite3-dev": "libsqlite3-0",
    "libcurl4-openssl-dev": "libcurl4",
    "libzmq3-dev": "libzmq5",
}

# A `-dev` package's runtime library on Alpine, as the aports APKBUILDs split them (the library
# is the package or a subpackage of the same source): postgresql's `libpq` subpackage (newer
# releases also name the headers libpq-dev), libjpeg-turbo (`jpeg-dev` is a wrapper that depends
# on libjpeg-turbo-dev), libffi, zlib, libxml2, libxslt, and openssl's `libssl$abiver`
# subpackage: libssl3 since Alpine 3.17 (OpenSSL 3), the release of every supported Python image.
APK_RUNTIME_LIBRARY = {
    "postgresql-dev": "libpq",
    "libpq-dev": "libpq",
    "jpeg-dev": "libjpeg-turbo",
    "libjpeg-turbo-dev": "libjpeg-turbo",
    "libffi-dev": "libffi",
    "zlib-dev": "zlib",
    "libxml2-dev": "libxml2",
    "libxslt-dev": "libxslt",
    "openssl-dev": "libssl3",
}
# The libraries what a builder's compiler builds loads at run time, where the runtime's base
# lacks them. Alpine: code g++ compiles links libstdc++.so.6 and libgcc_s.so.1 (aports' gcc
# splits them into `libstdc++` and `libgcc`), which the python:alpine image does not carry;
# build-base depends on g++. Debian's slim images have libstdc++6 and libgcc-s1 already (apt
# itself links them), so apt's table is empty.
APK_COMPILER_RUNTIME = {"g++": ("libstdc++", "libgcc"), "build-base": ("libstdc++", "libgcc")}


def runtime_libraries(manager: str) -> dict[str, tuple[str, ...]]:
    """Build package -> the packages what it builds loads, for one package manager (dpkg, apk)."""
    if manager == "apk":
        return {**{k: (v,) for k, v in APK_RUNTIME_LIBRARY.items()}, **APK_COMPILER_RUNTIME}
    return {k: (v,) for k, v in RUNTIME_LIBRARY.items()}
