"""iter_frames (25 fps resampling, early close, failures) and VideoWriter (H.264 + AAC, size, atomic writes)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from media_helpers import MediaFactory, count_frames, ffmpeg_info

import musetalk.media.video as video_mod
from musetalk.errors import InputError, MuseTalkError
from musetalk.media import VideoWriter, iter_frames, probe, write_video

# --------------------------------------------------------------------------------------------------- reading


@pytest.mark.parametrize("rate", [30, 60, 25])
def test_iter_frames_resamples_to_25fps(media: MediaFactory, rate: int) -> None:
    frames = list(iter_frames(media.video(rate=rate, seconds=2.0)))
    assert abs(len(frames) - 50) <= 1
    assert all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[0].flags.writeable  # consumers may draw on frames in place


def test_iter_frames_vfr(media: MediaFactory) -> None:
    path = media.vfr_video()
    assert count_frames(path) == 45  # 30 in the first second + 15 in the second
    assert abs(sum(1 for _ in iter_frames(path)) - 50) <= 1


def test_iter_frames_content_is_bgr(media: MediaFactory, tmp_path: Path) -> None:
    # A pure-blue frame (BGR 255, 0, 0) written then read back must stay blue, not turn red.
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 0] = 255
    out = write_video(tmp_path / "blue.mp4", [blue] * 3)
    frame = next(iter_frames(out))
    b, g, r = frame.reshape(-1, 3).mean(axis=0)
    assert b > 200 and g < 40 and r < 40


def test_iter_frames_start_is_frame_exact(media: MediaFactory) -> None:
    path = media.video(rate=30)
    full = list(iter_frames(path))
    tail = list(iter_frames(path, start=40))
    assert len(tail) == len(full) - 40
    assert all(np.array_equal(a, b) for a, b in zip(full[40:], tail))
    assert list(iter_frames(path, start=10_000)) == []


def test_iter_frames_rotated(media: MediaFactory) -> None:
    frame = next(iter_frames(media.rotated_video()))
    assert frame.shape == (320, 240, 3)


def test_iter_frames_image_yields_once(media: MediaFactory) -> None:
    frames = list(iter_frames(media.image("jpg")))
    assert len(frames) == 1 and frames[0].shape == (48, 64, 3)


def test_iter_frames_rejects_audio_only(media: MediaFactory) -> None:
    with pytest.raises(InputError, match="no video stream"):
        iter_frames(media.sine("wav"))


def test_iter_frames_bad_path_raises_at_call(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        iter_frames(tmp_path / "missing.mp4")


class _RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
    instances: list[subprocess.Popen[bytes]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _RecordingPopen.instances.append(self)


def test_early_close_kills_and_reaps_ffmpeg(media: MediaFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    _RecordingPopen.instances = []
    monkeypatch.setattr(video_mod.subprocess, "Popen", _RecordingPopen)
    gen = iter_frames(media.video(rate=60, seconds=4.0))
    next(gen)
    (proc,) = [p for p in _RecordingPopen.instances if "bgr24" in p.args]  # probe's own runs are recorded too
    assert proc.poll() is None  # still decoding the rest
    gen.close()
    assert proc.returncode is not None  # killed and waited for
    assert not Path(f"/proc/{proc.pid}").exists() or sys.platform != "linux"  # no zombie left


def _fake_ffmpeg(tmp_path: Path, script: str) -> str:
    exe = tmp_path / "fake_ffmpeg"
    exe.write_text(f"#!{sys.executable}\nimport sys\n{script}\n")
    exe.chmod(0o755)
    return str(exe)


def test_failure_mid_stream_raises_input_error(media: MediaFactory, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # A decoder that delivers two frames and then dies the way ffmpeg does on a broken file.
    fake = _fake_ffmpeg(tmp_path, "sys.stdout.buffer.write(bytes(320 * 240 * 3 * 2)); sys.stdout.flush()\n"
                                  "sys.stderr.write('[h264 @ 0x1] Invalid NAL unit size (3208 > 726).\\n')\n"
                                  "sys.exit(1)")
    monkeypatch.setattr(video_mod, "ffmpeg_exe", lambda: fake)
    got = []
    with pytest.raises(InputError, match="Invalid NAL unit size") as err:
        for frame in iter_frames(media.video()):
            got.append(frame)
    assert len(got) == 2
    assert "after 2 frames" in err.value.message


# --------------------------------------------------------------------------------------------------- writing


def _frames(n: int, height: int = 240, width: int = 320) -> list[np.ndarray]:
    """``n`` smooth colour gradients drifting sideways: (height, width, 3) uint8 BGR."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for i in range(n):
        b = 128 + 100 * np.sin((x + 4 * i) / 17.0)
        g = 255 * y / max(height - 1, 1)
        r = 255 * x / max(width - 1, 1)
        frames.append(np.stack([b, g, r], axis=-1).astype(np.uint8))
    return frames


def test_writer_roundtrip_with_audio(media: MediaFactory, tmp_path: Path) -> None:
    audio = media.sine("wav", rate=44100, seconds=1.5)
    n = round(1.5 * 25)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 320, 240, audio_path=audio) as writer:
        for frame in _frames(n):
            writer.write(frame)
    assert writer.frames_written == n
    info_text = ffmpeg_info(out)
    assert re.search(r"Video: h264 .*yuv420p.*320x240.*25 fps", info_text), info_text
    assert re.search(r"Audio: aac", info_text), info_text
    info = probe(out)
    assert (info.width, info.height, info.has_audio) == (320, 240, True)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(1.5, abs=0.1)
    assert count_frames(out) == n
    head = out.read_bytes()[:4096]
    assert b"moov" in head  # +faststart: the index precedes the media data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    plain = tmp_path / "plain"
    plain.touch()
    assert out.stat().st_mode == plain.stat().st_mode  # permissions as for any new file, not a temp file's 0600


def test_write_video_no_audio_and_readback(tmp_path: Path) -> None:
    frames = _frames(10, 64, 96)
    out = write_video(tmp_path / "clip.mp4", iter(frames))
    assert out == tmp_path / "clip.mp4"
    back = list(iter_frames(out))
    assert len(back) == 10 and back[0].shape == (64, 96, 3)
    assert not probe(out).has_audio
    # crf 18 on a smooth image: close to the original, and in the same channel order.
    assert np.abs(back[0].astype(int) - frames[0]).mean() < 4


def test_writer_keeps_odd_sizes(tmp_path: Path) -> None:
    """4:2:0 cannot hold an odd size: odd sizes are written 4:4:4, at exactly the frames' size."""
    frames = _frames(3, 241, 321)
    out = write_video(tmp_path / "odd.mp4", frames)
    info = probe(out)
    assert (info.width, info.height) == (321, 241)
    back = list(iter_frames(out))
    assert len(back) == 3 and back[0].shape == (241, 321, 3)


def test_writer_exception_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyError):
        with VideoWriter(out, 64, 64) as writer:
            writer.write(np.zeros((64, 64, 3), np.uint8))
            raise KeyError("consumer failed")
    assert list(tmp_path.iterdir()) == []


def test_writer_failure_keeps_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(MuseTalkError, match="Could not write"):
        with VideoWriter(out, 64, 64, preset="no-such-preset") as writer:
            for frame in _frames(5, 64, 64):
                writer.write(frame)
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_writer_abort(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "a.mp4", 64, 64)
    writer.write(np.zeros((64, 64, 3), np.uint8))
    tmp = writer._tmp_path  # hidden, beside the target, same extension (so ffmpeg and users see an .mp4)
    assert tmp.parent == tmp_path and tmp.name.startswith(".a.") and tmp.suffix == ".mp4"
    writer.abort()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        writer.write(np.zeros((64, 64, 3), np.uint8))


def test_writer_wrong_frame_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a"):
        with VideoWriter(tmp_path / "a.mp4", 64, 64) as writer:
            writer.write(np.zeros((32, 64, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_writer_zero_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MuseTalkError, match="No frames"):
        with VideoWriter(tmp_path / "a.mp4", 64, 64):
            pass
    assert list(tmp_path.iterdir()) == []


def test_writer_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "dir" / "out.mp4", 64, 64)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_writer_readonly_dir(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(InputError, match="not writable"):
            VideoWriter(ro / "out.mp4", 64, 64)
    finally:
        ro.chmod(0o700)


def test_writer_rejects_audio_without_sound(media: MediaFactory, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no audio track"):
        VideoWriter(tmp_path / "a.mp4", 64, 64, audio_path=media.video())
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported extension"):
        VideoWriter(tmp_path / "a.gif", 64, 64)


def test_writer_removes_temp_files_of_killed_writers_only(tmp_path: Path) -> None:
    out = tmp_path / "a.mp4"
    script = ("import sys, time, numpy as np\nfrom musetalk.media import VideoWriter\n"
              f"w = VideoWriter({str(out)!r}, 64, 64)\nw.write(np.zeros((64, 64, 3), np.uint8))\n"
              "print(w._tmp_path, flush=True)\ntime.sleep(60)\n")
    killed = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    orphan = Path(killed.stdout.readline().strip())
    assert orphan.parent == tmp_path and orphan.name.startswith(".a."), orphan
    killed.kill()  # SIGKILL: no cleanup runs
    killed.wait()
    killed.stdout.close()
    deadline = time.monotonic() + 10
    while not orphan.exists() and time.monotonic() < deadline:  # ffmpeg finishes on stdin EOF
        time.sleep(0.05)
    assert orphan.exists()
    alive = tmp_path / f".a.{os.getpid()}-00000000.tmp.mp4"  # a writer that is still running (this process)
    alive.write_bytes(b"in progress")
    other = tmp_path / f".ab.{killed.pid}-00000000.tmp.mp4"  # another target's, even if its writer is dead
    other.write_bytes(b"x")
    write_video(out, _frames(2, 64, 64))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "a.mp4"])
