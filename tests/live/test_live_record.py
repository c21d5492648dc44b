"""``avatar live``: a file fed to the live engine as a stream, recorded into a video with the input audio.

Counts, audio and (unpaced) equality with ``avatar speak`` are asserted; the A/V offset of a paced run is
measured from the output (by loop position) and bounded by the engine's hold rule, never timed.
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from core_helpers import cut, read_frames
from live_helpers import nearest_offline

from musetalk.avatar import Avatar
from musetalk.cli import main
from musetalk.frame_store import FrameStore
from musetalk.live import LiveConfig
from musetalk.live.record import record_live
from musetalk.media import load_audio
from musetalk.sources import pingpong


def model_args(weights: Path) -> list[str]:
    return ["--weights", str(weights), "--device", "cpu", "--dtype", "fp32", "--batch-size", "4"]


def audio_corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_cli_live_unpaced_equals_avatar_speak(live_avatar_dir, speech, tiny_weights, tmp_path, capsys) -> None:
    wav, path = speech
    avatars = str(live_avatar_dir.parent)
    live, offline = tmp_path / "live.mp4", tmp_path / "speak.mp4"
    assert main(["avatar", "--avatars", avatars, "live", "--name", "face", "--audio", str(path), "--out", str(live),
                 "--no-pace", "--idle-below-db", "none", *model_args(tiny_weights)]) == 0
    out = capsys.readouterr().out
    assert "30 frames (30 expected): 30 rendered, 0 held, 0 idle (stride 1)" in out and "audio equals the input" in out
    assert main(["avatar", "--avatars", avatars, "speak", "--name", "face", "--audio", str(path), "--out",
                 str(offline), "--silence", "keep", *model_args(tiny_weights)]) == 0
    got, want = read_frames(live), read_frames(offline)
    assert len(got) == len(want) == round(len(wav) / 16000 * 25)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert audio_corr(load_audio(live), wav) > 0.99


def test_record_live_paced_keeps_every_audio_frame(tiny_pipe, live_avatar_dir, speech, tmp_path) -> None:
    wav, path = speech
    avatar = Avatar.load(tiny_pipe, live_avatar_dir)
    rec = record_live(avatar, path, tmp_path / "paced.mp4", chunk_ms=100, cfg=LiveConfig(idle_below_db=None))
    assert rec.frames == rec.expected_frames == 30 and rec.audio_mismatch == 0
    assert sum(rec.kinds.values()) == 30 and rec.stats.latency_median_s is not None
    assert rec.max_offset <= 2 * rec.stats.stride + 2
    assert len(read_frames(tmp_path / "paced.mp4")) == 30
    assert audio_corr(load_audio(tmp_path / "paced.mp4"), wav) > 0.99


@pytest.mark.slow
def test_cli_live_on_a_real_clip_stays_in_sync(shared_data, tiny_weights, tmp_path, capsys) -> None:
    """8 s of real speech on a real face, paced. Measured from the output: each recorded frame (slot s0 + i) is
    matched, outside the face box, against the raw loop frames of nearby slots; the best slot minus its own is the
    slot whose render it shows. (Offline frames are no reference here: the live timeline puts the speech at loop
    position s0, offline at 0.) It stays within the hold bound at the start, middle and end."""
    audio = cut(shared_data / "musetalk_eng.wav", tmp_path / "eng8.wav", 8.0)
    avatars = tmp_path / "avatars"
    assert main(["avatar", "--avatars", str(avatars), "prepare", "--video", str(shared_data / "retalking_face3.mp4"),
                 "--name", "face3", *model_args(tiny_weights)]) == 0
    assert main(["avatar", "--avatars", str(avatars), "live", "--name", "face3", "--audio", str(audio),
                 *model_args(tiny_weights), "--out", str(tmp_path / "live.mp4"), "--idle-below-db", "none"]) == 0
    out = capsys.readouterr().out
    stride = int(re.search(r"\(stride (\d+)\)", out).group(1))
    s0 = int(re.search(r"first audio slot (\d+)", out).group(1))
    store = FrameStore.open(avatars / "face3", 590, 590)
    boxes = np.array([f.box for f in store.faces if f is not None])
    box = (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max()))
    got = read_frames(tmp_path / "live.mp4")
    assert abs(len(got) - 200) <= 1
    loop = (store.frame(pingpong(s0 + j, len(store))) for j in itertools.count())
    offsets = nearest_offline(got, loop, ignore=box)
    for part in (offsets[:50], offsets[75:125], offsets[-50:]):
        assert max(abs(o) for o in part) <= 2 * stride + 2, (part, out)


def test_picture_offsets_measure_each_picture_against_the_slots_showing_it() -> None:
    from musetalk.live.engine import LiveStats
    from musetalk.live.record import Recording, format_thirds

    rec = Recording(LiveStats(1.0, None, None, 0, 0, 0, True), frames=60, first_slot=100)
    # Pictures of 20 slots: 110 shown 100..119 (middle 109.5: +0.5), 127 shown 120..139 (its slot 2.5 before the
    # middle: it is shown late, -2.5), 150 shown 140..159 (+0.5).
    rec.spans = {110: [100, 119], 127: [120, 139], 150: [140, 159]}
    assert rec.picture_thirds == [pytest.approx(0.5), pytest.approx(-2.5), pytest.approx(0.5)]
    rec.spans = {110: [100, 119]}
    assert format_thirds(rec.picture_thirds) == "+0.5/-/-"
    assert Recording(rec.stats).picture_thirds == []
