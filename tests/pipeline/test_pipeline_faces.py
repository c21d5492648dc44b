"""Hard faces: none, lost for a while, cut by the frame edge, two, tiny, squeezed to a profile.

The stub renderer paints generated faces magenta, so a test sees exactly which frames were synced and where;
frames without a face must come out as the very same pixels, and the frame stamps prove nothing drifts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from odd_media import RobustMedia, magenta_share, read_stamp

from musetalk.errors import NoFaceError
from musetalk.media import iter_frames
from musetalk.pipeline import LipSyncPipeline


def _windows(n: int) -> torch.Tensor:
    return torch.zeros(n, 50, 384)


def _run(pipe: LipSyncPipeline, clip: Path, n: int | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(source frames at 25 fps, output frames) for ``n`` windows (default: one per source frame)."""
    src = list(iter_frames(clip))
    out = list(pipe.frames(clip, _windows(n or len(src))))
    return src, out


def test_no_face_anywhere_fails_before_audio_work(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Colour bars: NoFaceError from the sampled scan, before Whisper; nothing is written."""
    monkeypatch.setattr(stub_pipe, "audio_windows", lambda *a: pytest.fail("audio must not be encoded"))
    with pytest.raises(NoFaceError, match=r"^No face was found in any of 5 frames sampled across the video "
                                          r"\(testsrc_1\.0_160x120_25\.mp4\)\. Use a video where one face"):
        stub_pipe.generate(media.testsrc(), media.tone(), tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_face_lost_mid_clip_passes_through_without_drift(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """Frames 10-19 are black (no face): they come out byte-identical; every other frame is synced, in place."""
    src, out = _run(stub_pipe, media.face(blackout=range(10, 20)))
    assert len(src) == len(out) == 30
    assert [read_stamp(f) for f in out] == list(range(30))
    for i in range(30):
        if 10 <= i < 20:
            assert np.array_equal(out[i], src[i]), f"frame {i} has no face and must pass through unchanged"
        else:
            assert magenta_share(out[i], src[i]) > 0.03, f"frame {i} has a face and must be synced"


def test_face_cut_by_the_top_edge(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """The top third of the head is outside the frame: still found, synced inside the frame, no error."""
    clip = media.face_variant("face_top_cut.mp4", "-vf", "crop=192:130:0:62")
    src, out = _run(stub_pipe, clip)
    assert len(out) == 30 and out[0].shape == (130, 192, 3)
    assert all(magenta_share(o, s) > 0.03 for o, s in zip(out, src))


def test_two_faces_side_by_side_syncs_one(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """Two people (the clip twice, hstacked, the right one smaller): the larger face is synced, the other is not."""
    clip = media._make("two_faces.mp4", "-i", media.face(), "-i", media.face(), "-filter_complex",
                       "[1:v]scale=128:128,pad=192:192:32:32[r];[0:v][r]hstack", "-c:v", "libx264",
                       "-preset", "ultrafast", "-crf", "12")
    src, out = _run(stub_pipe, clip, 10)
    for o, s in zip(out, src):
        left, right = magenta_share(o[:, :192], s[:, :192]), magenta_share(o[:, 192:], s[:, 192:])
        assert left > 0.03 and right == 0.0, (left, right)


def test_tiny_face_in_full_body_shot(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """A 100 px head in a 1920x1080 frame: found by the tiled detector and synced only around the face."""
    clip = media._make("tiny_face_1080p.mp4", "-i", media.face(), "-t", "0.24", "-vf",
                       "scale=100:100,pad=1920:1080:900:300", "-c:v", "libx264", "-preset", "ultrafast")
    src, out = _run(stub_pipe, clip)
    assert len(out) == 6 and out[0].shape == (1080, 1920, 3)
    for o, s in zip(out, src):
        changed = np.argwhere(np.abs(o.astype(int) - s).max(axis=2) > 40)
        assert len(changed) > 50
        (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0)
        assert 900 <= x0 and x1 < 1000 and 300 <= y0 and y1 < 400, (x0, y0, x1, y1)


def test_side_profile_gives_a_clear_message(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path) -> None:
    """A face squeezed to a third of its width (our stand-in for a profile: the real clips are frontal) is not
    found by the face mesh; the user gets NoFaceError, not a silent copy of the video."""
    clip = media.face_variant("face_profile.mp4", "-vf", "scale=64:192")
    with pytest.raises(NoFaceError, match=r"No face was found in any of 6 frames sampled"):
        stub_pipe.generate(clip, media.tone(), tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_face_turning_away_for_a_stretch(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """Frontal, then profile-like (squeezed) frames, then frontal: the squeezed stretch passes through unchanged,
    frontal frames are synced, the count matches."""
    clip = media._make("face_turn.mp4", "-i", media.face(), "-vf",
                       "split[a][b];[b]crop=192:180:0:12,scale=64:180,pad=192:180:64:0[s];"
                       "[a][s]overlay=x=0:y=12:enable='between(n,10,19)'",
                       "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12")
    src, out = _run(stub_pipe, clip)
    assert len(out) == 30 and [read_stamp(f) for f in out] == list(range(30))
    synced = [magenta_share(o, s) > 0.03 for o, s in zip(out, src)]
    assert all(synced[:10]) and all(synced[20:])
    for i in range(12, 18):  # the middle of the stretch (the box smoother may carry a frame at the edges)
        assert not synced[i] and np.array_equal(out[i], src[i]), i
