"""The `imgaudit` command: a warm audit of an archive is replayed (`imgaudit.replay`) before
click, rich and the rest of imgaudit load; every other run is the command line in cli.py."""

from __future__ import annotations

import gc
import os
import sys
import time


def main() -> None:
    started = time.perf_counter()
    from imgaudit import replay

    ticket = replay.expect(started, sys.argv[1:])
    if ticket is not None:
        try:
            code = replay.serve(ticket)
        except BrokenPipeError:  # `imgaudit image.tar | head`: the reader left, as in cli.py
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        if code is not None:
            replay.forget()
            sys.exit(code)
    # One short-lived run: the cyclic collector only re-scans the hundreds of thousands of
    # tuples the walk and merge build, none of which form cycles (synth250k --no-cache: 3.9 ->
    # 3.4 s CPU, peak RSS 139 MB either way). Reference counting still frees everything else.
    gc.disable()
    # Layer digests are hashed on a second thread that needs the GIL twice per 4 MiB chunk
    # (after the read, after the hash: 2.3 ms of work here); each time it waits up to the switch
    # interval behind the walk or the classification. At the default 5 ms the report waited for
    # the hash (naive.tar: 0.09-0.19 s); at 1 ms the thread still spent half its time waiting
    # (synth250k: 1.46 s wall for 0.67 s of hashing). At 50 us it keeps pace: median wall
    # naive.tar 0.387 -> 0.339 s, synth250k 1.61 -> 1.57 s, CPU unchanged (quick A/B, 9 and 5
    # rounds). The main thread is interrupted only while that thread waits.
    sys.setswitchinterval(0.00005)
    from imgaudit.cli import main as command_line

    command_line()
