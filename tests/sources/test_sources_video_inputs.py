"""Videos as people have them: any frame rate, VFR, 4K, one frame, still images, portrait, rotated, odd paths."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from odd_media import RobustMedia, magenta_share, read_stamp

from musetalk.checks import check_video
from musetalk.errors import InputError
from musetalk.media import iter_frames, probe
from musetalk.config import InferenceConfig
from musetalk.pipeline import LipSyncPipeline
from musetalk.sources import pingpong


def _frames(pipe: LipSyncPipeline, clip: Path, n: int, fps: int | None = 25) -> list[np.ndarray]:
    cfg = InferenceConfig(fps=None if fps is None else Fraction(fps))
    return list(pipe.frames(clip, torch.zeros(n, 50, 384), cfg))


@pytest.mark.parametrize("rate", [30, 60])
def test_30_and_60_fps_are_resampled_to_25_on_request(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                      rate: int) -> None:
    """--fps 25: 1.2 s at 30/60 fps -> 30 frames at 25 fps, in time order, every one synced."""
    clip = media.face_variant(f"face_{rate}fps.mp4", "-vf", f"fps={rate}")
    assert round(probe(clip).fps) == rate
    out = _frames(stub_pipe, clip, 30)
    stamps = [read_stamp(f) for f in out]
    assert len(out) == 30 and stamps == sorted(stamps) and stamps[0] == 0 and stamps[-1] >= 28
    src = list(iter_frames(clip))
    assert all(magenta_share(o, s) > 0.03 for o, s in zip(out, src))


@pytest.mark.parametrize("rate", [30, 60])
def test_by_default_frames_come_at_the_source_rate(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                    rate: int) -> None:
    """No --fps: 1.2 s at 30/60 fps is read at its own rate, every source frame once, in order."""
    clip = media.face_variant(f"face_{rate}fps.mp4", "-vf", f"fps={rate}")
    n = round(1.2 * rate)
    out = _frames(stub_pipe, clip, n, fps=None)
    src = list(iter_frames(clip, rate))
    assert len(out) == n == len(src)
    assert [read_stamp(f) for f in out] == [read_stamp(f) for f in src]


def test_variable_frame_rate(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """Phone-style VFR (25 fps, then every other frame dropped): constant 25 fps out, time order kept, the gaps
    filled by repeating frames, the length unchanged."""
    clip = media.face_variant("face_vfr.mp4", "-vf", "select='lt(n,10)+not(mod(n,2))'", "-fps_mode", "vfr")
    out = _frames(stub_pipe, clip, 30)
    stamps = [read_stamp(f) for f in out]
    assert len(out) == 30 and stamps == sorted(stamps) and stamps[:10] == list(range(10))
    assert set(stamps[10:]) <= set(range(10, 30, 2))  # only the kept frames, repeated to fill the gaps


def test_4k_frames_are_processed(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path) -> None:
    """3840x2160 is not rejected: the output keeps the size and the face is synced."""
    clip = media._make("face_4k.mp4", "-i", media.face(), "-t", "0.12", "-vf",
                       "scale=1620:1620,pad=3840:2160:1100:270", "-c:v", "libx264", "-preset", "ultrafast")
    out = stub_pipe.generate(clip, media.tone(seconds=0.12), tmp_path / "4k.mp4")
    info = probe(out)
    assert (info.width, info.height) == (3840, 2160)
    frames, src = list(iter_frames(out)), list(iter_frames(clip))
    assert len(frames) == 3
    assert magenta_share(frames[0][270:1890, 1100:2720], src[0][270:1890, 1100:2720]) > 0.03


def test_frames_too_large_for_memory_give_a_clear_message(media: RobustMedia,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """When holding the working set of frames would exhaust memory, the check says so before any work."""
    import musetalk.checks as checks

    monkeypatch.setattr(checks, "available_memory", lambda: 300_000_000)
    clip = media.testsrc(0.2, "3840x2160")
    with pytest.raises(InputError, match=r"has very large frames \(3840x2160\): processing them needs about "
                                         r"1\.2 GB of memory, but only 0\.3 GB is available\. Downscale the video"):
        check_video(clip, batch_size=8)
    check_video(media.testsrc(), batch_size=8)  # small frames pass the same check


def test_one_frame_video(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path) -> None:
    """A 1-frame mp4 works like a still: every output frame is that frame, synced, for the whole audio."""
    clip = media.face_variant("face_1frame.mp4", "-frames:v", "1")
    out = _frames(stub_pipe, clip, 12)
    assert len(out) == 12 and {read_stamp(f) for f in out} == {0}


@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_still_images(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path, ext: str) -> None:
    """PNG (with alpha), JPEG and WebP stills: one synced frame per audio frame, at the image's size."""
    image = media.face_frame(ext)
    info = probe(image)
    assert info.is_image and (info.width, info.height) == (192, 192)
    src = next(iter_frames(image))
    out = _frames(stub_pipe, image, 8)
    assert len(out) == 8 and all(f.shape == (192, 192, 3) for f in out)
    assert all(magenta_share(f, src) > 0.03 for f in out)


@pytest.mark.parametrize("shape", ["portrait", "landscape"])
def test_portrait_and_landscape(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                                shape: str) -> None:
    """9:16 and 16:9 frames keep their size; the face is synced; looping to a longer audio goes back and forth."""
    pad = "pad=192:342:0:75" if shape == "portrait" else "pad=342:192:75:0"
    clip = media.face_variant(f"face_{shape}.mp4", "-vf", pad)
    out_path = stub_pipe.generate(clip, media.tone(seconds=1.6), tmp_path / f"{shape}.mp4")
    info = probe(out_path)
    assert (info.width, info.height) == ((192, 342) if shape == "portrait" else (342, 192))
    frames = list(iter_frames(out_path))
    assert len(frames) == 40
    # Stamps sit at the clip's top-left, moved by the 75-pixel pad (down for portrait, right for landscape).
    stamps = [read_stamp(f[75:] if shape == "portrait" else f[:, 75:]) for f in frames]
    assert stamps == [pingpong(i, 30) for i in range(40)]


def test_phone_video_with_rotation_flag(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """Stored landscape with a 90 degree display matrix: frames come upright (portrait) and the face is found."""
    landscape = media._make("face_sideways.mp4", "-i", media.face(), "-vf", "transpose=1,pad=342:192:75:0",
                            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12")
    rotated = media._make("face_rotated.mp4", "-display_rotation", "90", "-i", landscape, "-c", "copy")
    info = probe(rotated)
    assert info.rotation in (90, 270) and (info.width, info.height) == (192, 342)
    out = _frames(stub_pipe, rotated, 5)
    src = list(iter_frames(rotated))[:5]
    assert all(magenta_share(o, s) > 0.03 for o, s in zip(out, src))


def test_non_ascii_and_space_paths_with_real_models(media: RobustMedia, tiny_pipe: LipSyncPipeline,
                                                    tmp_path: Path) -> None:
    """Folders and names with spaces, accents, CJK and emoji, end to end with the real tiny models."""
    folder = tmp_path / "mes vidéos 動画 🎬"
    folder.mkdir()
    video, audio = folder / "visage de Zoë.mp4", folder / "voix — 音声.wav"
    video.write_bytes(media.face_variant("face_short.mp4", "-t", "0.4").read_bytes())
    audio.write_bytes(media.tone(seconds=0.4).read_bytes())
    out = tiny_pipe.generate(video, audio, folder / "résultat final.mp4")
    assert out.name == "résultat final.mp4" and out.is_file()
    assert len(list(iter_frames(out))) == 10 and probe(out).has_audio
    assert sorted(p.name for p in folder.iterdir()) == sorted([video.name, audio.name, out.name])
