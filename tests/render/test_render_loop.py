"""The pipelined render loop gives exactly the serial loop's frames, in order, and stops cleanly."""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from core_helpers import ASSETS, face_clip_from_photo

from musetalk.config import InferenceConfig
from musetalk.render import RenderLoop

@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """0.6 s (15 frames) of a moving face, 320x320, made from the bundled photo."""
    return face_clip_from_photo(tmp_path_factory.mktemp("loop") / "face.mp4", 0.6, 320)


@pytest.fixture(scope="module")
def windows(pipe) -> torch.Tensor:
    return pipe.audio_windows(ASSETS / "speech.wav")[:37]  # 37 > 15 source frames: the spool + loop path


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("musetalk-")}


@pytest.mark.parametrize("batch_size", [4, 5])
def test_pipelined_generate_frames_equal_serial(pipe, clip, windows, batch_size) -> None:
    cfg = InferenceConfig(batch_size=batch_size)
    piped = list(pipe.frames(clip, windows, cfg))
    serial = list(pipe.frames(clip, windows, replace(cfg, pipelined=False)))
    assert len(piped) == len(serial) == windows.shape[0]
    for i, (a, b) in enumerate(zip(piped, serial)):
        assert np.array_equal(a, b), i
    assert not _threads()


def test_faceless_items_keep_their_place(pipe, clip, windows) -> None:
    """Items without a face pass through at their own index, in both modes."""
    from musetalk.media import iter_frames
    from musetalk.face import FaceTracker

    with FaceTracker(InferenceConfig().face) as prep:
        frames = list(iter_frames(clip))[:10]
        items = [(i, f, None if i in (2, 3, 7) else prep(f)) for i, f in enumerate(frames)]
    cfg = InferenceConfig(batch_size=4)
    piped = list(RenderLoop(pipe.renderer, items, windows[:10], cfg, {}))
    serial = list(RenderLoop(pipe.renderer, items, windows[:10], replace(cfg, pipelined=False), {}))
    assert len(piped) == 10
    for i in range(10):
        assert np.array_equal(piped[i], serial[i]), i
        if items[i][2] is None:
            assert np.array_equal(piped[i], frames[i]), i  # untouched
        else:
            assert not np.array_equal(piped[i], frames[i]), i  # a face was pasted


def test_error_in_a_worker_reaches_the_caller(pipe, clip, windows) -> None:
    from musetalk.media import iter_frames
    from musetalk.face import FaceTracker

    class Boom(Exception):
        pass

    def items():
        with FaceTracker(InferenceConfig().face) as prep:
            for i, f in enumerate(iter_frames(clip)):
                if i == 6:
                    raise Boom("source failed")
                yield (i, f, prep(f))

    with pytest.raises(Boom):
        list(RenderLoop(pipe.renderer, items(), windows[:12], InferenceConfig(batch_size=4), {}))
    assert not _threads()


def test_closing_early_stops_every_thread(pipe, clip, windows) -> None:
    gen = pipe.frames(clip, windows, InferenceConfig(batch_size=4))
    next(gen)
    gen.close()
    assert not _threads()
