"""The core categories: base, caches (paths from ENV and /etc/passwd), environments, app."""

from __future__ import annotations

from imgaudit.model import Category
from tests.conftest import AuditSpec
from tests.support.imagespec import File, ImageSpec, Layer, file

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1000::/home/appuser:/bin/sh\n"
HISTORY_BASE = [("ADD rootfs / # buildkit", False), ('CMD ["sh"]', True)]


def spec(layers: list[Layer], **kwargs: object) -> ImageSpec:
    base = Layer([File("etc/passwd", PASSWD), file("bin/sh", 1000)], "ADD rootfs / # buildkit")
    steps = HISTORY_BASE + [(layer.created_by, False) for layer in layers]
    return ImageSpec(layers=[base, *layers], history=steps, **kwargs)  # type: ignore[arg-type]


def test_caches_follow_the_configured_users_home_and_env(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        spec(
            [
                Layer(
                    [
                        file("home/appuser/.cache/pypoetry/artifacts/ab/x.whl", 700),
                        file("home/appuser/.cache/pypoetry/virtualenvs/app-py3.11/lib/site.py", 50),
                        File("home/appuser/.cache/pypoetry/virtualenvs/app-py3.11/pyvenv.cfg", b"v"),
                        file("root/.cache/pip/http-v2/0/1/2", 300),  # RUN steps before USER run as root
                        file("opt/pipcache/wheels/ab/x.whl", 40),
                        file("root/.cache/virtualenv/wheel/house/pip.whl", 20),
                        file("var/lib/apt/lists/deb.debian.org_dists", 9),
                        file("var/cache/apt/pkgcache.bin", 8),
                        file("srv/poetry-cache/cache/repositories/PyPI/x", 5),
                    ],
                    "RUN poetry install",
                )
            ],
            user="appuser",
            env={"PIP_CACHE_DIR": "/opt/pipcache", "POETRY_CACHE_DIR": "/srv/poetry-cache"},
        )
    )
    categories = report.categories
    assert categories[Category.POETRY_CACHE] == 700 + 5
    assert categories[Category.PIP_CACHE] == 300 + 40
    assert categories[Category.VIRTUALENV_SEED_CACHE] == 20
    assert categories[Category.APT_CACHE] == 17
    # A venv in Poetry's virtualenvs/ is what the app runs on, never cache.
    assert categories[Category.PYTHON_PACKAGES] == 51
    assert sum(categories.values()) == report.final_bytes


def test_a_user_home_outside_root_is_read_from_passwd_not_guessed(audit_spec: AuditSpec) -> None:
    layers = [Layer([file("home/appuser/.cache/pip/x", 100)], "RUN pip install x")]
    assert audit_spec(spec(layers, user="1000:1000")).categories[Category.PIP_CACHE] == 100
    # Without that user, ~appuser/.cache is just a directory: nothing says it is pip's cache.
    assert audit_spec(spec(layers, user="")).categories[Category.PIP_CACHE] == 0


def test_base_layers_win_over_every_other_rule(audit_spec: AuditSpec) -> None:
    base = Layer([File("etc/passwd", PASSWD), file("root/.cache/pip/x", 500)], "ADD rootfs /")
    report = audit_spec(ImageSpec(layers=[base], history=HISTORY_BASE))
    assert report.categories[Category.BASE_IMAGE] == report.final_bytes
    assert report.categories[Category.PIP_CACHE] == 0


def test_environments_app_and_other(audit_spec: AuditSpec) -> None:
    report = audit_spec(
        spec(
            [
                Layer(
                    [
                        File("opt/venv/pyvenv.cfg", b"home = /usr/bin\n"),
                        file("opt/venv/bin/tool", 30),
                        file("opt/venv/lib/python3.11/site-packages/six.py", 400),
                        file("usr/local/lib/python3.11/site-packages/requests/api.py", 200),
                        file("usr/lib/python3/dist-packages/apt/x.py", 100),
                        file("etc/motd", 7),
                    ],
                    "RUN python -m venv /opt/venv",
                ),
                Layer([file("app/main.py", 60), file("app/.venv-not-really", 6)], "COPY . /app # buildkit"),
                Layer([file("app/settings.py", 3)], "/bin/sh -c #(nop) ADD file:abc in /app/ "),
            ]
        )
    )
    assert report.categories[Category.PYTHON_PACKAGES] == len(b"home = /usr/bin\n") + 30 + 400 + 200 + 100
    assert report.categories[Category.APP] == 69
    assert report.categories[Category.OTHER] == 7
    assert sum(report.categories.values()) == report.final_bytes


def test_a_file_at_a_cache_root_is_judged_by_its_own_path_not_its_directorys(
    audit_spec: AuditSpec,
) -> None:
    # Rules are asked once per directory; a file that is itself a root must still follow the
    # rule for its own path: `virtualenvs` (kept out of Poetry's cache) and `PIP_CACHE_DIR`.
    report = audit_spec(
        spec(
            [
                Layer(
                    [
                        file("root/.cache/pypoetry/virtualenvs", 11),
                        file("root/.cache/pypoetry/artifacts.json", 700),
                        file("opt/pipcache", 40),
                        file("opt/pipcache.txt", 3),
                        file("top-level-file", 2),
                    ],
                    "RUN poetry install",
                )
            ],
            env={"PIP_CACHE_DIR": "/opt/pipcache"},
        )
    )
    categories = report.categories
    assert categories[Category.POETRY_CACHE] == 700
    assert categories[Category.PIP_CACHE] == 40
    assert categories[Category.OTHER] == 11 + 3 + 2
    assert sum(categories.values()) == report.final_bytes
