"""score_video, its plot and the ``score`` command, on a face clip the tests make (and the real clips, slow)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from core_helpers import face_clip_from_photo, ffmpeg

from musetalk.cli import main
from musetalk.score.quality import QualityMeter, box_motion, region_mask, ssim_map
from musetalk.score.report import score_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("score")
    silent = face_clip_from_photo(root / "face.mp4", 3.0, 160)
    talking = root / "face_tone.mp4"
    # 1 s tone, 1 s silence, 1 s tone: the silence detector must find the middle second
    ffmpeg("-i", str(silent), "-f", "lavfi", "-i", "sine=frequency=1500:sample_rate=16000:duration=3",
           "-af", "volume='if(between(t,1,2),0,1)':eval=frame", "-c:v", "copy", "-c:a", "aac", "-shortest",
           str(talking))
    small = root / "small.mp4"
    ffmpeg("-i", str(silent), "-vf", "scale=128:128", "-an", str(small))
    return {"silent": silent, "talking": talking, "small": small, "root": root}


def test_ssim_and_psnr_by_region():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert np.allclose(ssim_map(a[..., 0], a[..., 0]), 1.0, atol=1e-4)
    b = a.copy()
    b[20:40, 20:40] = 255 - b[20:40, 20:40]
    inside = region_mask(a.shape, (16, 16, 44, 44), np.ones((28, 28), np.float32))
    meter = QualityMeter()
    meter.add(b, a, inside)
    assert meter.region("outside").psnr == float("inf") and meter.region("outside").ssim == pytest.approx(1, abs=0.02)
    diff = (b[20:40, 20:40].astype(float) - a[20:40, 20:40]) ** 2
    expected = 10 * np.log10(255**2 / (diff.sum() / 3 / inside.sum()))
    assert meter.region("inside").psnr == pytest.approx(expected, abs=0.01)
    assert meter.region("inside").ssim < 0.5


def test_box_motion_in_box_widths():
    boxes = np.array([[0, 0, 100, 100], [4, 4, 104, 104], [np.nan] * 4, [4, 4, 104, 104]], dtype=float)
    assert box_motion(boxes) == pytest.approx(0.04)


def test_score_video_finds_the_silence_and_does_not_guess_an_offset(clips):
    report = score_video(clips["talking"], source=clips["silent"])
    assert report.frames == 75 and report.face_frames == 75
    assert not report.sync.confident  # a photo does not move its lips: nothing to sync to
    assert report.silence["stretches"] and abs(report.silence["stretches"][0][0] - 1.0) <= 0.1
    assert abs(report.silence["silent_s"] - 1.0) <= 0.12
    # the result is the source re-encoded: near-lossless everywhere
    assert report.quality["outside"]["psnr"] > 35 and report.quality["inside"]["ssim"] > 0.9
    assert report.jitter["box_motion"] == pytest.approx(report.jitter["source_box_motion"], rel=0.3)
    text = "\n".join(report.lines())
    assert "offset not confident" in text and "of silence" in text and "vs source (75 frames)" in text


def test_score_command_writes_json_and_plot(clips, capsys):
    out_json, out_png = clips["root"] / "r.json", clips["root"] / "r.png"
    assert main(["score", "--video", str(clips["talking"]), "--json", str(out_json), "--plot", str(out_png)]) == 0
    data = json.loads(out_json.read_text())
    assert set(data) >= {"sync", "silence", "jitter", "series"} and len(data["series"]["opening"]) == 75
    png = out_png.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import cv2

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (480, 1000)
    magenta = (img[..., 2] > 150) & (img[..., 1] < 80) & (img[..., 0] > 60)  # the mouth-opening line
    grey = (np.abs(img.astype(int) - 217).max(axis=2) < 6)  # the shaded silence
    assert magenta.sum() > 200 and grey.sum() > 2000
    assert "sync" in capsys.readouterr().out
    assert not list(clips["root"].glob(".*.tmp*"))


@pytest.mark.parametrize("extra, words", [
    (["--syncnet", "/nonexistent/syncnet_v2.model"], "robots.ox.ac.uk"),
    (["--json", "report.txt"], ".json"),
    (["--source", "SMALL"], "is 128x128"),
])
def test_score_command_bad_input_is_one_sentence_and_exit_2(clips, capsys, extra, words):
    extra = [str(clips["small"]) if e == "SMALL" else e for e in extra]
    assert main(["score", "--video", str(clips["talking"]), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_video_without_sound_needs_an_audio(clips, capsys):
    assert main(["score", "--video", str(clips["silent"])]) == 2
    assert "no sound track" in capsys.readouterr().err


@pytest.mark.slow
def test_own_voice_scores_higher_than_another_clips_voice(shared_data):
    scores = {}
    for mine, other in (("retalking_face2.mp4", "retalking_face3.mp4"), ("retalking_face3.mp4", "retalking_face2.mp4")):
        own = score_video(shared_data / mine).sync
        wrong = score_video(shared_data / mine, audio=shared_data / other).sync
        scores[mine] = (own.sync_score, wrong.sync_score)
        assert own.sync_score > wrong.sync_score + 0.05, scores
        assert not wrong.confident


@pytest.mark.slow
def test_shift_test_recovers_known_shifts_or_says_not_confident(shared_data):
    from musetalk.score.shift_test import shift_test, summarize

    trials = shift_test(shared_data / "retalking_face3.mp4")
    summary = summarize(trials)
    assert summary["confident"] >= 3 and summary["within_tolerance"] == summary["confident"]
    assert all(t.estimate.reason for t in trials if not t.estimate.confident)
