"""host_memory (glibc keeps freed tensor memory) and priority (work beside the models at nice +10)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from musetalk import priority
from musetalk.host_memory import OPT_OUT

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice and glibc: Linux")

_PROBE = "from musetalk.host_memory import reuse_freed_memory as r; print(r(), r())"


@linux_only
def test_malloc_settings_apply_once_and_can_be_turned_off() -> None:
    env = {k: v for k, v in os.environ.items() if k != OPT_OUT}
    on = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    off = subprocess.run([sys.executable, "-c", _PROBE], env={**env, OPT_OUT: "1"}, capture_output=True,
                         text=True, check=True)
    assert on.stdout.split() == ["True", "True"]
    assert off.stdout.split() == ["False", "False"]


@linux_only
def test_only_the_calling_thread_and_its_children_are_lowered() -> None:
    seen: dict[str, int] = {}

    def worker() -> None:
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        priority.lower_this_thread()
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - before
        child = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True,
                               text=True, check=True)
        seen["child"] = int(child.stdout) - before

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    expected = min(19, main_before + priority.BACKGROUND_NICE) - main_before
    assert seen == {"worker": expected, "child": expected}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before


@linux_only
def test_render_loop_lowers_prep_and_blend_but_not_the_model() -> None:
    import numpy as np
    import torch

    from musetalk.config import InferenceConfig
    from musetalk.render import RenderLoop

    nice: dict[str, int] = {}

    def mine() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    class Spy(RenderLoop):
        def _render(self, batch):
            nice["model"] = mine()
            return super()._render(batch)

        def _blend_batch(self, batch, faces):
            nice["blend"] = mine()
            return super()._blend_batch(batch, faces)

    def items():
        nice["prep"] = mine()
        for i in range(2):
            yield i, np.zeros((64, 64, 3), np.uint8), None  # no face: the frames pass through

    base = mine()
    frames = list(Spy(None, items(), torch.zeros(2, 50, 384), InferenceConfig(batch_size=2), None))
    assert len(frames) == 2
    lowered = min(19, base + priority.BACKGROUND_NICE)
    assert nice == {"prep": lowered, "model": base, "blend": lowered}
