"""Outputs keep the source's frame rate and colour tags (or the rate asked for), with round(audio s x fps) +- 1
frames, and outside the face the source's pixels."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from core_helpers import face_clip_from_photo, ffmpeg

from musetalk.config import InferenceConfig, SilenceConfig
from musetalk.media import iter_frames, probe
from musetalk.media.rates import standard_rate

TAGS = "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("rates")
    base = face_clip_from_photo(root / "face.mp4", 2.0, 160)
    out = {}
    for name, rate in (("30", "30"), ("50", "50"), ("ntsc_film", "24000/1001")):
        out[name] = root / f"face_{name}.mp4"
        ffmpeg("-i", str(base), "-vf", f"fps={rate},scale=out_color_matrix=bt709:out_range=tv,{TAGS}",
               "-pix_fmt", "yuv420p", "-c:v", "libx264", "-crf", "12", str(out[name]))
    out["tone"] = root / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=800:sample_rate=16000:duration=1.5", str(out["tone"]))
    return out


@pytest.mark.parametrize("name, fps", [("30", Fraction(30)), ("50", Fraction(50)),
                                       ("ntsc_film", Fraction(24000, 1001))])
def test_the_source_rate_and_colour_are_kept(stub_pipe, clips, tmp_path, name, fps):
    # crf 10: on this small, detailed clip, x264's own loss at the default 18 is near the 3-level bound
    out = stub_pipe.generate(clips[name], clips["tone"], tmp_path / "out.mp4",
                             InferenceConfig(silence=SilenceConfig(mode="keep"), crf=10))
    info = probe(out)
    assert standard_rate(info.fps) == fps
    assert info.color is not None and (info.color.range, info.color.space) == ("tv", "bt709")
    result = list(iter_frames(out, fps))
    assert abs(len(result) - round(1.5 * float(fps))) <= 1
    source = list(iter_frames(clips[name], fps))
    # the stub paints the blend region (the mouth, rows 30-55 of this small face) magenta; below it, the suit and
    # the background are the source's pixels
    below = [np.abs(a[70:].astype(int) - b[70:].astype(int)).mean() for a, b in zip(result, source)]
    assert max(below) < 3


def test_a_rate_can_be_asked_for(stub_pipe, clips, tmp_path):
    out = stub_pipe.generate(clips["30"], clips["tone"], tmp_path / "out25.mp4",
                             InferenceConfig(fps=Fraction(25), silence=SilenceConfig(mode="keep")))
    assert standard_rate(probe(out).fps) == 25
    assert abs(len(list(iter_frames(out, 25))) - round(1.5 * 25)) <= 1
