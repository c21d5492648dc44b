"""The output has the source's shape: odd sizes stay odd, the sample aspect ratio is kept."""
from __future__ import annotations

from pathlib import Path

from odd_media import RobustMedia, ffmpeg_streams

from musetalk.media import iter_frames, probe
from musetalk.pipeline import LipSyncPipeline


def test_odd_size_comes_back_at_the_same_size(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path) -> None:
    clip = media.face_variant("face_639x481.mp4", "-vf", "scale=639:481", "-pix_fmt", "yuv444p")
    assert (probe(clip).width, probe(clip).height) == (639, 481)
    out = stub_pipe.generate(clip, media.tone(seconds=0.4), tmp_path / "odd.mp4")
    info = probe(out)
    assert (info.width, info.height) == (639, 481)
    frames = list(iter_frames(out))
    assert len(frames) == 10 and frames[0].shape == (481, 639, 3)


def test_anamorphic_source_keeps_its_aspect_ratio(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                  tmp_path: Path) -> None:
    """720x576 stored, SAR 16:15, shown 4:3: the result is flagged the same, not square-pixel 5:4."""
    clip = media.face_variant("face_pal_sar.mp4", "-vf", "scale=720:576,setsar=16/15")
    assert "SAR 16:15 DAR 4:3" in ffmpeg_streams(clip)
    assert probe(clip).sar == (16, 15)
    out = stub_pipe.generate(clip, media.tone(seconds=0.4), tmp_path / "pal.mp4")
    assert "720x576 [SAR 16:15 DAR 4:3]" in ffmpeg_streams(out)
