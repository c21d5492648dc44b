"""The core pipeline on small media: looping, face-less frames passing through, avatars, previews."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from core_helpers import ASSETS, cut, face_clip_from_photo, ffmpeg, read_frames

from musetalk.avatar import Avatar, list_avatars, validate_name
from musetalk.config import FaceConfig, InferenceConfig
from musetalk.errors import InputError, NoFaceError
from musetalk.media import probe
from musetalk.preview import preview
from musetalk.sources import pingpong


def test_pingpong_order() -> None:
    assert [pingpong(i, 3) for i in range(8)] == [0, 1, 2, 2, 1, 0, 0, 1]
    assert [pingpong(i, 1) for i in range(3)] == [0, 0, 0]


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory) -> Path:
    """1 s of a moving face, 422x422, 25 fps, made from the bundled photo."""
    return face_clip_from_photo(tmp_path_factory.mktemp("clips") / "face.mp4", 1.0, 422)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return cut(ASSETS / "speech.wav", tmp_path_factory.mktemp("audio") / "speech.wav", 2.5)


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_video_shorter_than_audio_loops_back_and_forth(pipe, face_clip, speech, tmp_path) -> None:
    out = pipe.generate(face_clip, speech, tmp_path / "out.mp4", InferenceConfig(batch_size=8))
    frames, src = read_frames(out), read_frames(face_clip)
    assert len(frames) == 62 and len(src) == 25  # floor(2.5 s * 25)
    # Outside the face the output is the source frame at pingpong(i): compare the top rows (hair, background).
    for i in (0, 24, 25, 30, 49, 50, 61):
        j = pingpong(i, 25)
        assert _mad(frames[i][:60], src[j][:60]) < 3, i
    # The mirrored frame is really the mirrored one, not just any frame (frames differ from each other).
    assert _mad(frames[30][:60], src[19][:60]) < _mad(frames[30][:60], src[5][:60]) or _mad(src[19], src[5]) < 1


def test_faceless_frames_pass_through(pipe, face_clip, speech, tmp_path) -> None:
    """Face, then 10 gray frames, then face: the gray frames come out unchanged and the count does not drift."""
    gray = tmp_path / "gray.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=422x422:r=25:d=0.4", "-pix_fmt", "yuv420p", str(gray))
    listing = tmp_path / "list.txt"
    listing.write_text(f"file '{face_clip}'\nfile '{gray}'\nfile '{face_clip}'\n")
    clip = tmp_path / "gap.mp4"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-pix_fmt", "yuv420p", str(clip))
    src = read_frames(clip)
    assert len(src) == 60
    out = pipe.generate(clip, speech, tmp_path / "out.mp4")
    frames = read_frames(out)
    assert len(frames) == 62
    for i in range(25, 35):  # the gray stretch: passed through
        assert _mad(frames[i], src[i]) < 2, i
    changed = [_mad(frames[i], src[i]) for i in (5, 40, 55)]
    assert min(changed) > 1.0  # face frames were re-rendered (random weights paint noise on the mouth)
    # Face frames after the gap line up with their own source frames (no drift): background identical.
    for i in (35, 45, 59):
        assert _mad(frames[i][:60], src[i][:60]) < 3, i


def test_still_image(pipe, face_clip, speech, tmp_path) -> None:
    png = tmp_path / "face.png"
    ffmpeg("-i", str(face_clip), "-frames:v", "1", str(png))
    out = pipe.generate(png, speech, tmp_path / "still.mp4")
    info = probe(out)
    assert info.n_frames == 62 and (info.width, info.height) == (422, 422) and info.has_audio


def test_no_face_anywhere_is_an_error_and_writes_nothing(pipe, speech, tmp_path) -> None:
    clip = tmp_path / "noface.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=3", "-pix_fmt", "yuv420p", str(clip))
    with pytest.raises(NoFaceError):
        pipe.generate(clip, speech, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_equal_to_input_is_refused(pipe, face_clip, speech) -> None:
    with pytest.raises(InputError, match="same as an input"):
        pipe.generate(face_clip, speech, face_clip)


def test_preview(pipe, face_clip) -> None:
    pv = preview(face_clip)
    x1, y1, x2, y2 = pv.box
    assert 0 <= x1 < x2 <= 422 and 0 <= y1 < y2 <= 422
    lo, hi = pv.bbox_shift_range
    assert lo <= 0 <= hi
    assert pv.image.shape == (422, 422, 3)


def test_avatar_prepare_speak_reload(pipe, face_clip, speech, tmp_path) -> None:
    root = tmp_path / "avatars"
    av = Avatar.prepare(pipe, face_clip, root / "me")
    assert len(av.store) == 25 and av.latents.shape == (25, 8, 32, 32)
    assert list_avatars(root) == ["me"]
    frames = list(av.speak(speech))
    assert len(frames) == 62
    # The same windows through one-shot and through the avatar give the same frames (one core).
    again = Avatar.load(pipe, root / "me")
    windows = pipe.audio_windows(speech)[:8]
    a = list(again.speak_windows(windows, InferenceConfig()))
    b = list(pipe.frames(face_clip, windows, InferenceConfig()))
    assert max(_mad(x, y) for x, y in zip(a, b)) < 1.0
    out = again.speak_to_file(speech, tmp_path / "spoken.mp4")
    assert probe(out).n_frames == 62


def test_avatar_prepare_overlapped_equals_serial(pipe, face_clip, tmp_path) -> None:
    a = Avatar.prepare(pipe, face_clip, tmp_path / "a", batch_size=4, pipelined=True)
    b = Avatar.prepare(pipe, face_clip, tmp_path / "b", batch_size=4, pipelined=False)
    assert a.latents.shape == (25, 8, 32, 32)
    assert torch.equal(a.latents, b.latents)
    assert all(t.name != "avatar-encode_0" for t in threading.enumerate())  # the worker is gone


def test_avatar_speech_keeps_the_callers_settings_but_its_face(pipe, face_clip, speech, tmp_path,
                                                              monkeypatch) -> None:
    """speak runs serially when asked (bench --serial) and in the caller's batches; the face is the prepared one."""
    import musetalk.avatar as avatar_module

    seen = []

    class Spy(avatar_module.RenderLoop):
        def __init__(self, renderer, items, windows, cfg, cache, progress, closer=None) -> None:
            seen.append(cfg)
            super().__init__(renderer, items, windows, cfg, cache, progress, closer)

    av = Avatar.prepare(pipe, face_clip, tmp_path / "me", face_cfg=FaceConfig(extra_margin=4))
    monkeypatch.setattr(avatar_module, "RenderLoop", Spy)
    list(av.speak(speech, InferenceConfig(batch_size=3, pipelined=False)))
    (cfg,) = seen
    assert cfg.pipelined is False and cfg.batch_size == 3 and cfg.face.extra_margin == 4


def test_unfinished_avatar_is_not_used(pipe, tmp_path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "frames.u8").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match="not fully prepared"):
        Avatar.load(pipe, tmp_path / "half")
    assert list_avatars(tmp_path) == []


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 65])
def test_avatar_names_are_validated(bad: str) -> None:
    with pytest.raises(InputError):
        validate_name(bad)
