"""Checks say what is wrong in numbers and words that fit: disk sizes in fitting units, non-finite audio."""
from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import soundfile
from odd_media import RobustMedia

from musetalk.checks import check_disk_space, check_generate_inputs
from musetalk.errors import InputError
from musetalk.pipeline import LipSyncPipeline

Usage = namedtuple("Usage", "total used free")


def test_disk_space_message_uses_units_that_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import musetalk.checks as checks

    monkeypatch.setattr(checks.shutil, "disk_usage", lambda p: Usage(10**9, 10**9 - 4_000_000, 4_000_000))
    with pytest.raises(InputError) as err:
        check_disk_space(tmp_path, 26_000_000, "The frames of a.mp4")
    assert "need about 26 MB of disk space" in err.value.message and "only 4.0 MB is free" in err.value.message
    monkeypatch.setattr(checks.shutil, "disk_usage", lambda p: Usage(10**12, 0, 2_500_000_000))
    with pytest.raises(InputError, match=r"about 3.1 GB .* only 2.5 GB is free"):
        check_disk_space(tmp_path, 3_100_000_000, "The frames of a.mp4")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_audio_samples_are_refused_up_front(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       bad: float) -> None:
    wav = tmp_path / "broken.wav"
    samples = np.zeros(16000, np.float32)
    samples[8000:8010] = bad
    soundfile.write(wav, samples, 16000, subtype="FLOAT")
    monkeypatch.setattr(stub_pipe, "audio_windows", lambda *a: pytest.fail("audio must not be encoded"))
    with pytest.raises(InputError) as err:
        stub_pipe.generate(media.testsrc(), wav, tmp_path / "out.mp4")
    assert err.value.message == (f"The audio in {wav} contains 10 samples that are not numbers (NaN or "
                                 "infinite), from 0.50 s on.")
    assert not (tmp_path / "out.mp4").exists()
    with pytest.raises(InputError, match="not numbers"):
        check_generate_inputs(media.testsrc(), wav, tmp_path / "out.mp4", face_scan=False)


def test_ffmpeg_failure_shows_its_meaningful_line() -> None:
    from musetalk.media._ffmpeg import last_error_line

    stderr = ("[aac @ 0x1] Input contains (near) NaN/+-Inf\n"
              "[aost#0:1/aac @ 0x2] Error submitting audio frame to the encoder\n"
              "[aost#0:1/aac @ 0x2] Error encoding a frame: Invalid argument\n"
              "[aost#0:1/aac @ 0x2] Task finished with error code: -22 (Invalid argument)\n"
              "[aost#0:1/aac @ 0x2] Terminating thread with return code -22 (Invalid argument)\n"
              "[out#0/mp4 @ 0x3] Error muxing a packet\n"
              "Conversion failed!\n")
    assert last_error_line(stderr) == "Input contains (near) NaN/+-Inf"
    assert last_error_line("[h264 @ 0x1] Invalid NAL unit size (3208 > 726).\n") == "Invalid NAL unit size (3208 > 726)"
