"""probe(): streams, display size, fps, duration and the errors for files that are not usable media."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from media_helpers import MediaFactory, ffmpeg

from musetalk.errors import InputError
from musetalk.media import MediaInfo, probe
from musetalk.media.probe import parse_ffmpeg_header


def test_probe_video(media: MediaFactory) -> None:
    info = probe(media.video(rate=30, seconds=2.0))
    assert isinstance(info, MediaInfo)
    assert (info.has_video, info.has_audio, info.is_image) == (True, False, False)
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(30.0)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.n_frames == 50  # estimate at 25 fps
    assert info.rotation == 0


def test_probe_video_with_audio(media: MediaFactory) -> None:
    info = probe(media.video_with_audio())
    assert info.has_video and info.has_audio
    assert info.fps == pytest.approx(25.0)


def test_probe_rotated_video_reports_display_size(media: MediaFactory) -> None:
    info = probe(media.rotated_video())
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (240, 320)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "bmp"])
def test_probe_still_image(media: MediaFactory, ext: str) -> None:
    info = probe(media.image(ext))
    assert info.is_image and info.has_video and not info.has_audio
    assert (info.width, info.height, info.n_frames) == (64, 48, 1)


def test_probe_audio(media: MediaFactory) -> None:
    info = probe(media.sine("wav", rate=8000, seconds=1.5))
    assert (info.has_video, info.has_audio, info.is_image) == (False, True, False)
    assert info.duration == pytest.approx(1.5, abs=0.05)
    assert (info.width, info.height, info.n_frames) == (0, 0, 0)


def test_probe_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        probe(tmp_path / "nope.mp4")


def test_probe_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a file"):
        probe(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_probe_unreadable(media: MediaFactory, tmp_path: Path) -> None:
    target = tmp_path / "locked.mp4"
    target.write_bytes(media.video().read_bytes())
    target.chmod(0)
    with pytest.raises(InputError, match="cannot be read"):
        probe(target)


def test_probe_text_renamed_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a shopping list, not a video\n" * 20)
    with pytest.raises(InputError, match="could not be opened as media") as err:
        probe(fake)
    assert "Invalid data" in err.value.message


def test_probe_truncated_mp4_without_index(media: MediaFactory, tmp_path: Path) -> None:
    # Without +faststart the index (moov) is at the end, so a cut-off download cannot even be opened.
    data = media.video().read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="could not be opened"):
        probe(cut)


def test_probe_truncated_mp4_with_index_but_no_frames(media: MediaFactory, tmp_path: Path) -> None:
    # With the index first, the header parses but no frame data survives: probe must notice by decoding.
    src = media.video()
    faststart = tmp_path / "fs.mp4"
    ffmpeg("-i", str(src), "-c", "copy", "-movflags", "+faststart", str(faststart))
    data = faststart.read_bytes()
    moov_end = data.index(b"mdat") + 64  # keep the index and a few bytes of the first frame
    cut = tmp_path / "cut_fs.mp4"
    cut.write_bytes(data[:moov_end])
    with pytest.raises(InputError, match="truncated or corrupt"):
        probe(cut)


def test_probe_image_with_garbage_content(tmp_path: Path) -> None:
    fake = tmp_path / "face.png"
    fake.write_bytes(b"\x00" * 300)
    with pytest.raises(InputError):
        probe(fake)


def test_parse_header_variants() -> None:
    stderr = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'phone.mov':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 9000 kb/s
  Stream #0:0[0x1](und): Video: hevc (Main 10) (hvc1 / 0x31637668), yuv420p10le(tv, bt2020nc), 1920x1080, 8000 kb/s, 29.97 fps, 29.97 tbr, 600 tbn (default)
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 256 kb/s (default)
  Stream #0:2[0x3](und): Video: mjpeg, yuvj420p, 320x240, 90k tbr, 90k tbn (attached pic)
"""
    info = parse_ffmpeg_header(stderr, Path("phone.mov"))
    assert (info.width, info.height, info.rotation) == (1080, 1920, 270)
    assert info.fps == pytest.approx(29.97)
    assert info.duration == pytest.approx(62.5)
    assert info.n_frames == round(62.5 * 25)
    assert info.has_audio and not info.is_image
