"""The real CLI on the real clips: every video in ../shared/data with every audio there (trimmed), plus a still.

One `generate --tasks` run covers the whole matrix, so the models load once.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from core_helpers import cut, ffmpeg, read_frames, stream_codecs

from musetalk.config import FaceConfig
from musetalk.media import audio_duration, iter_frames, probe
from musetalk.face import FaceTracker

REPO = Path(__file__).resolve().parents[2]
AUDIO_SECONDS = 1.2

pytestmark = pytest.mark.slow


def _outside_box_mad(out_frames: list[np.ndarray], in_frames: list[np.ndarray]) -> float:
    """Mean |out - in| over the pixels outside each frame's face box (boxes from the same preparation)."""
    diffs = []
    with FaceTracker(FaceConfig()) as prep:
        for o, i in zip(out_frames, in_frames):
            face = prep(i)
            keep = np.ones(i.shape[:2], bool)
            if face is not None:
                x1, y1, x2, y2 = face.box
                keep[y1:y2, x1:x2] = False
            diffs.append(np.abs(o.astype(np.int16) - i.astype(np.int16))[keep].mean())
    return float(np.mean(diffs))


@pytest.fixture(scope="module")
def matrix(shared_data: Path, tiny_weights: Path, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("matrix")
    videos = sorted(shared_data.glob("*.mp4"))
    audios = sorted(shared_data.glob("*.wav"))
    assert videos and audios
    face_png = work / "face.png"
    ffmpeg("-ss", "1", "-i", str(shared_data / "retalking_face3.mp4"), "-frames:v", "1", str(face_png))
    tasks, expected = {}, {}
    for a in audios:
        short = cut(a, work / f"{a.stem}.wav", AUDIO_SECONDS)  # keeps rate and channels (48 kHz stereo stays so)
        for v in [*videos, face_png]:
            name = f"{v.stem}__{a.stem}"
            tasks[name] = {"video": str(v), "audio": str(short)}
            expected[name] = (v, short, work / "out" / f"{name}.mp4")
    (work / "tasks.yaml").write_text(yaml.safe_dump(tasks))
    proc = subprocess.run(
        [sys.executable, "-m", "musetalk", "generate", "--tasks", str(work / "tasks.yaml"), "--out-dir",
         str(work / "out"), "--weights", str(tiny_weights), "--device", "cpu", "--dtype", "fp32"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return expected


def test_every_output_is_valid(matrix: dict) -> None:
    for name, (video, audio, out) in matrix.items():
        assert out.is_file(), name
        info, src = probe(out), probe(video)
        streams = stream_codecs(out)
        assert "h264" in streams and "yuv420p" in streams and "aac" in streams, (name, streams)
        assert info.fps == 25, name
        assert (info.width, info.height) == (src.width, src.height), name
        n = len(read_frames(out))
        assert abs(n - round(audio_duration(audio) * 25)) <= 1, (name, n)


def test_outside_the_face_box_is_untouched(matrix: dict) -> None:
    for name, (video, _, out) in matrix.items():
        out_frames = read_frames(out)
        in_frames = list(itertools.islice(iter_frames(video), len(out_frames)))
        if len(in_frames) == 1:  # a still image: every output frame comes from it
            in_frames = in_frames * len(out_frames)
        assert _outside_box_mad(out_frames, in_frames) < 3, name
