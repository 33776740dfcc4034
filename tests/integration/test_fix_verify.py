"""`imgaudit fix --verify` on three sample projects shaped like real ones, on the real engine.

Each sample (tests/assets/fix-projects) has a naive single-stage Poetry Dockerfile: built as
is, it is the original image; `fix --verify` then edits the Dockerfile, builds the result
with the same context, starts it (entrypoint or command with --help) and measures it. The
fixed image must build, start, keep its entrypoint/command and user, and ship fewer bytes.
Builds share the Poetry layer (the same prelude in every sample), so the whole module takes
about as long as two Poetry installs plus six small builds.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from tests.integration.conftest import POETRY_PRELUDE, Engine

pytestmark = pytest.mark.integration

PROJECTS = Path(__file__).parent.parent / "assets" / "fix-projects"
TAG = "dockerfile-verify/{name}-{kind}:latest"


@pytest.fixture(scope="module")
def verify_env(
    docker_engine: Engine,
    python_base_image: str,
    poetry_prelude: str,
    pypi_simple_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, Path, str]]:
    assert python_base_image == "imgaudit-test/python-base:bookworm"  # what the samples' FROM names
    for sample in PROJECTS.iterdir():  # their Poetry install then comes from the build cache
        assert (sample / "Dockerfile").read_text().startswith(POETRY_PRELUDE.format(base=python_base_image))
    yield docker_engine, tmp_path_factory.mktemp("fix-verify"), pypi_simple_url


def verified(
    verify_env: tuple[Engine, Path, str], name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    engine, work, mirror = verify_env
    context = work / name
    shutil.copytree(PROJECTS / name, context)
    original = TAG.format(name=name, kind="original")
    engine.build(context, original, build_args={"POETRY_PYPI_MIRROR_URL": mirror})
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    result = CliRunner().invoke(
        main,
        [
            "fix", "--dockerfile", str(context / "Dockerfile"), "--verify", original,
            "--build-arg", f"POETRY_PYPI_MIRROR_URL={mirror}", "--network", "host",
            "--tag", TAG.format(name=name, kind="fixed"),
        ],
    )  # fmt: skip
    report = result.output[result.output.find("verify: built") :]
    print(f"\n[fix --verify {name}]\n{report}")
    assert result.exit_code == 0, result.output
    saved = re.search(r"fixed image \(real\).* saved, (?P<share>-?[\d.]+)%\)", result.output)
    assert saved is not None and float(saved["share"]) > 0, result.output
    return result.output, (context / "Dockerfile.imgaudit").read_text()


def test_a_package_mode_false_web_app_with_an_entrypoint_script(
    verify_env: tuple[Engine, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output, fixed = verified(verify_env, "webapp", monkeypatch)
    runtime = fixed.split("AS runtime", 1)[1]
    assert "COPY web /srv/webapp/web" in runtime or "COPY web ./web" in runtime
    assert "COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh" in runtime
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in runtime and "poetry" not in runtime
    assert "smoke: docker-entrypoint.sh --help -> exit 0" in output


def test_a_cli_with_extras_and_a_non_root_user(
    verify_env: tuple[Engine, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output, fixed = verified(verify_env, "cli-extras", monkeypatch)
    runtime = fixed.split("AS runtime", 1)[1]
    assert "useradd --create-home --uid 10001 greeter" in runtime and "USER greeter" in runtime
    assert "poetry install --without dev --extras idn" in fixed
    assert 'ENTRYPOINT ["greet"]' in runtime
    assert "smoke: greet --help -> exit 0" in output


def test_a_project_with_runtime_apt_packages(
    verify_env: tuple[Engine, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output, fixed = verified(verify_env, "magic-sniffer", monkeypatch)
    runtime = fixed.split("AS runtime", 1)[1]
    assert "apt-get install -y --no-install-recommends libmagic1" in runtime
    assert "libmagic-dev" not in runtime
    assert "smoke: python -m sniffer --help -> exit 0" in output
