"""A small prepared avatar (10 frames of the bundled face photo, tiny random models) for the live tests."""
from __future__ import annotations

from pathlib import Path

import pytest
from core_helpers import ASSETS, ffmpeg


@pytest.fixture(scope="session")
def live_avatar_dir(tmp_path_factory, tiny_pipe) -> Path:
    from musetalk.avatar import Avatar

    root = tmp_path_factory.mktemp("live")
    clip = root / "face.mp4"
    ffmpeg("-loop", "1", "-i", str(ASSETS / "face.jpg"), "-t", "0.4", "-vf", "fps=25,scale=256:256",
           "-pix_fmt", "yuv420p", str(clip))
    return Avatar.prepare(tiny_pipe, clip, root / "avatars" / "face", batch_size=4).root


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """(16 kHz float32 samples, wav path) of 1.2 s of the bundled speech."""
    from musetalk.media import load_audio

    out = tmp_path_factory.mktemp("live-speech") / "speech.wav"
    ffmpeg("-i", str(ASSETS / "speech.wav"), "-t", "1.2", "-ar", "16000", "-ac", "1", str(out))
    return load_audio(out), out

