"""The work beside the models runs at a lower CPU priority than the models themselves.

On a CPU the models keep every core busy with one OpenMP thread each, and each op ends at a barrier: a core taken
for a few milliseconds by video decoding, landmarks, the paste-back, the closed-mouth scan or ffmpeg holds up the
whole op, so that work costs the models up to twice its own CPU time. At nice +10 it still runs whenever a model
thread waits (and on a GPU, where the model thread mostly waits, it is not slowed at all), but it no longer takes a
core from the models in the middle of an op. Linux only (nice is per thread there); elsewhere nothing changes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

BACKGROUND_NICE = 10


def lower_this_thread() -> None:
    """Lower the calling thread (and the processes it starts from now on, which inherit it) by BACKGROUND_NICE."""
    if sys.platform.startswith("linux"):
        _lower(threading.get_native_id())


def lower_process(proc: subprocess.Popen) -> None:
    """Lower a child process started by a thread that keeps its own priority (the caller's ffmpeg writer)."""
    if sys.platform.startswith("linux"):
        _lower(proc.pid)


def _lower(ident: int) -> None:
    try:
        now = os.getpriority(os.PRIO_PROCESS, ident)
        os.setpriority(os.PRIO_PROCESS, ident, min(19, now + BACKGROUND_NICE))
    except OSError:  # gone already, or not allowed: the work just runs at its normal priority
        pass
