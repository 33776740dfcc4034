"""OS packages from dpkg (status + info lists, distroless status.d) and apk databases."""

from __future__ import annotations

from imgaudit.model import Category, OsPackage, Report
from tests.conftest import AuditSpec
from tests.support.imagespec import File, ImageSpec, Layer, Symlink, file
from tests.support.pyimage import dpkg, dpkg_status

PASSWD = File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
BASE_PACKAGES = [
    ("libc6", "", {"usr/lib/x86_64-linux-gnu/libc.so.6": 2000}),
    ("bash", "libc6 (>= 2.36), gcc-12-base", {"usr/bin/bash": 1500}),  # as libgcc-s1 does
    ("gcc-12-base", "", {"usr/share/doc/gcc-12-base/copyright": 40}),
]
BUILD_PACKAGES = [
    ("gcc-12", "cpp-12 (= 12.2), libc6, libmpc3 | libmpc-fallback, gcc-12-base", {"usr/bin/gcc-12": 9000}),
    ("cpp-12", "libmpc3, libc6", {"usr/lib/gcc/x86_64-linux-gnu/12/cc1": 20_000}),
    ("libmpc3", "libc6", {"usr/lib/x86_64-linux-gnu/libmpc.so.3": 700}),
    ("make", "libc6", {"usr/bin/make": 600}),
    ("libpq-dev", "libpq5 (= 15)", {"usr/include/postgresql/libpq-fe.h": 300}),
    ("libpq5", "libc6", {"usr/lib/x86_64-linux-gnu/libpq.so.5": 800}),
    # the app's runtime needs libpq5 too, so libpq5 is not build-only
    ("python3-psycopg2", "libpq5, libc6", {"usr/lib/python3/dist-packages/psycopg2/_psycopg.so": 400}),
]


def _by_name(report: Report) -> dict[str, OsPackage]:
    return {p.name: p for p in report.os_packages}


def _debian(audit_spec: AuditSpec) -> Report:
    # dpkg lists /lib/... paths; a merged-/usr image ships them under usr/lib with lib -> usr/lib.
    base_entries = [PASSWD, Symlink("lib", "usr/lib"), *dpkg(BASE_PACKAGES)]
    base_entries.append(File("var/lib/dpkg/info/libc6.list", b"/.\n/lib/x86_64-linux-gnu/libc.so.6\n"))
    base = Layer(base_entries, "ADD rootfs / # buildkit")
    install = Layer(
        [dpkg_status(BASE_PACKAGES + BUILD_PACKAGES), *dpkg(BUILD_PACKAGES)[1:]],
        "RUN apt-get install -y build-essential libpq-dev python3-psycopg2",
    )
    spec = ImageSpec(
        layers=[base, install],
        history=[(base.created_by, False), ('CMD ["bash"]', True), (install.created_by, False)],
    )
    return audit_spec(spec)


def test_build_only_packages_and_what_only_they_need(audit_spec: AuditSpec) -> None:
    packages = _by_name(_debian(audit_spec))
    build_only = {name for name, p in packages.items() if p.build_only}
    assert build_only == {"gcc-12", "cpp-12", "libmpc3", "make", "libpq-dev"}


def test_layer_base_and_bytes_of_each_package(audit_spec: AuditSpec) -> None:
    report = _debian(audit_spec)
    packages = _by_name(report)
    assert packages["libc6"].bytes == 2000  # found through the usrmerge symlink
    assert packages["libc6"].in_base and packages["libc6"].layer == 0
    assert packages["cpp-12"].layer == 1 and not packages["cpp-12"].in_base
    assert packages["cpp-12"].version == "1.0-cpp-12"
    assert report.os_packages[0].name == "cpp-12"  # biggest first
    assert report.categories[Category.BUILD_TOOLCHAIN] == 9000 + 20_000 + 700 + 600 + 300
    assert sum(report.categories.values()) == report.final_bytes


def test_build_packages_inside_the_base_stay_base_image_but_are_listed(audit_spec: AuditSpec) -> None:
    base = Layer([PASSWD, *dpkg(BASE_PACKAGES + BUILD_PACKAGES)], "ADD rootfs /")
    app = Layer([file("app/main.py", 10)], "COPY . .")
    report = audit_spec(
        ImageSpec(
            layers=[base, app], history=[("ADD rootfs /", False), ('CMD ["sh"]', True), ("COPY . .", False)]
        )
    )
    gcc = _by_name(report)["gcc-12"]
    assert gcc.build_only and gcc.in_base
    assert report.categories[Category.BUILD_TOOLCHAIN] == 0


def test_distroless_status_d_with_md5sums(audit_spec: AuditSpec) -> None:
    entries = [
        File("var/lib/dpkg/status.d/libssl3", b"Package: libssl3\nVersion: 3.0.11\nArchitecture: amd64\n"),
        File("var/lib/dpkg/status.d/libssl3.md5sums", b"0123abcd  usr/lib/x86_64-linux-gnu/libssl.so.3\n"),
        file("usr/lib/x86_64-linux-gnu/libssl.so.3", 4321),
    ]
    report = audit_spec(ImageSpec(layers=[Layer(entries, "ADD rootfs /")]))
    (package,) = report.os_packages
    assert (package.name, package.version, package.bytes, package.layer, package.manager) == (
        "libssl3",
        "3.0.11",
        4321,
        0,
        "dpkg",
    )


def test_alpine_apk_database(audit_spec: AuditSpec) -> None:
    installed = b"""C:Q1abc=
P:musl
V:1.2.4-r2
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1

P:gcc
V:13.2.1-r0
D:binutils so:libc.musl-x86_64.so.1 libgmp>=6
F:usr/bin
R:gcc

P:binutils
V:2.41-r0
D:so:libc.musl-x86_64.so.1
F:usr/bin
R:ld

P:libgmp
V:6.3.0-r0
F:usr/lib
R:libgmp.so.10

P:python3
V:3.11.6-r0
D:so:libc.musl-x86_64.so.1
F:usr/bin
R:python3.11
"""
    base = Layer(
        [
            PASSWD,
            File("lib/apk/db/installed", installed.split(b"\nP:gcc")[0] + b"\n"),
            file("lib/ld-musl-x86_64.so.1", 600),
        ],
        "ADD alpine /",
    )
    top = Layer(
        [
            File("lib/apk/db/installed", installed),
            file("usr/bin/gcc", 5000),
            file("usr/bin/ld", 3000),
            file("usr/lib/libgmp.so.10", 400),
            file("usr/bin/python3.11", 100),
        ],
        "RUN apk add gcc python3",
    )
    report = audit_spec(
        ImageSpec(
            layers=[base, top],
            history=[("ADD alpine /", False), ('CMD ["sh"]', True), (top.created_by, False)],
        )
    )
    packages = _by_name(report)
    assert {n for n, p in packages.items() if p.build_only} == {"gcc", "binutils", "libgmp"}
    assert packages["musl"].in_base and not packages["musl"].build_only  # python3 needs it too
    assert packages["gcc"].manager == "apk" and packages["gcc"].layer == 1
    assert report.categories[Category.BUILD_TOOLCHAIN] == 5000 + 3000 + 400


def test_a_dev_packages_runtime_library_is_what_the_app_runs_on_not_build_only(audit_spec: AuditSpec) -> None:
    """`apt-get install libmagic-dev` for python-magic (ctypes: no ELF link shows it): the app
    loads libmagic1, and `imgaudit fix` gives the runtime libmagic1 and what it depends on. The
    plan must keep them too: measured on a real build, it left out libmagic1 and libmagic-mgc
    (8.8 MB) and said 151.0 MB for a fixed image of 159.8 MB."""
    magic = [
        ("libmagic-dev", "libmagic1 (= 1:5.44-3)", {"usr/include/magic.h": 300}),
        ("libmagic1", "libc6, libmagic-mgc (= 1:5.44-3)", {"usr/lib/x86_64-linux-gnu/libmagic.so.1": 800}),
        ("libmagic-mgc", "", {"usr/lib/file/magic.mgc": 7000}),
        ("make", "libc6", {"usr/bin/make": 600}),
    ]
    base = Layer([PASSWD, *dpkg(BASE_PACKAGES)], "ADD rootfs /")
    install = Layer(
        [dpkg_status(BASE_PACKAGES + magic), *dpkg(magic)[1:]], "RUN apt-get install -y libmagic-dev make"
    )
    report = audit_spec(
        ImageSpec(
            layers=[base, install],
            history=[("ADD rootfs /", False), ('CMD ["sh"]', True), (install.created_by, False)],
        )
    )
    build_only = {name for name, p in _by_name(report).items() if p.build_only}
    assert build_only == {"libmagic-dev", "make"}
    assert report.categories[Category.BUILD_TOOLCHAIN] == 300 + 600
