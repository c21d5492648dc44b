"""Where frames come from when the video is shorter than the speech: ping-pong, never frozen frames; spools of a
killed run are reclaimed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from odd_media import RobustMedia, ffmpeg, read_stamp

from musetalk.media import iter_frames, probe
from musetalk.pipeline import LipSyncPipeline
from musetalk.sources import pingpong


def test_video_stream_shorter_than_its_container_loops(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                       tmp_path: Path) -> None:
    """1.2 s of video (30 frames) muxed with a 4 s audio track: the container says 4 s, the stream ends early."""
    clip = tmp_path / "short_stream.mp4"
    ffmpeg("-i", media.face(), "-i", media.tone(seconds=4.0), "-map", "0:v", "-map", "1:a", "-c:v", "copy",
           "-c:a", "aac", clip)
    assert probe(clip).n_frames == 100  # by the container
    out = stub_pipe.generate(clip, media.tone(seconds=3.0), tmp_path / "out.mp4")
    stamps = [read_stamp(f) for f in iter_frames(out)]
    assert stamps == [pingpong(i, 30) for i in range(75)]


def test_spool_of_a_killed_run_is_reclaimed(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has exited
    orphan = tmp_path / f"musetalk-spool-{dead}-abcd1234"
    orphan.mkdir()
    (orphan / "frames.u8").write_bytes(b"\0" * 100)
    alive = tmp_path / f"musetalk-spool-{os.getpid()}-live0000"  # a running process's: kept
    alive.mkdir()
    stub_pipe.generate(media.face(), media.tone(seconds=1.6), tmp_path / "out.mp4")  # loops: spools
    assert not orphan.exists()
    assert alive.exists()
    assert [p.name for p in tmp_path.glob("musetalk-spool-*")] == [alive.name]  # its own spool is gone too
