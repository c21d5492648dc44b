"""Wrong, broken and borderline input files: each ends in one clear InputError (checked up front) or a correct video.

Checks run through ``check_generate_inputs``, the function ``generate`` and the CLI call before any model work.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from odd_media import RobustMedia, read_stamp

from musetalk.checks import check_generate_inputs
from musetalk.config import AUDIO_SAMPLE_RATE
from musetalk.errors import InputError
from musetalk.media import iter_frames, load_audio, probe
from musetalk.models.audio import frame_count, window_starts
from musetalk.pipeline import LipSyncPipeline


def _check(video: Path, audio: Path, tmp_path: Path) -> None:
    check_generate_inputs(video, audio, tmp_path / "out.mp4", face_scan=False)


def test_missing_video_file(media: RobustMedia, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^File not found: .*nope\.mp4\. Check the path and try again\.$"):
        _check(tmp_path / "nope.mp4", media.tone(), tmp_path)


def test_folder_given_as_video(media: RobustMedia, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is not a file\. Pass the path of a media file, not a folder\.$"):
        _check(tmp_path, media.tone(), tmp_path)


def test_zero_byte_mp4(media: RobustMedia, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(InputError, match=r"empty\.mp4 is empty \(0 bytes\)\."):
        _check(empty, media.tone(), tmp_path)


def test_text_file_renamed_mp4(media: RobustMedia, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"notes\.mp4 could not be opened as media: .*Invalid data found"):
        _check(media.text_as_mp4(), media.tone(), tmp_path)


def test_truncated_mp4_without_index(media: RobustMedia, tmp_path: Path) -> None:
    """A plain mp4 cut in half loses its moov atom (written at the end): a clear 'truncated' message."""
    with pytest.raises(InputError, match=r"could not be opened as media: it is truncated \(the end of the file, "
                                         r"which holds its index, is missing\)\. The recording, copy or download"):
        _check(media.truncated(faststart=False), media.tone(), tmp_path)


def test_truncated_faststart_mp4_still_gives_full_length(media: RobustMedia, stub_pipe: LipSyncPipeline) -> None:
    """With the index up front, the decodable first frames are used; the output still has one frame per window.

    The header promises 30 frames but fewer decode: the pipeline mirrors the last decoded frames (no drift, no
    error) so that the video covers the whole audio.
    """
    clip = media.truncated(faststart=True)
    decoded = [read_stamp(f) for f in iter_frames(clip)]
    assert 0 < len(decoded) < 30 and decoded == list(range(len(decoded)))
    import torch

    out = list(stub_pipe.frames(clip, torch.zeros(30, 50, 384)))
    assert len(out) == 30
    stamps = [read_stamp(f) for f in out]
    assert stamps[: len(decoded)] == decoded  # in order while the stream lasts
    assert set(stamps[len(decoded):]) <= set(decoded)  # then mirrored from decoded frames


def test_audio_only_file_as_video(media: RobustMedia, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"has no video stream \(it holds only sound\)\. Give a video file or an "
                                         r"image of a face"):
        _check(media.tone("mp3"), media.tone(), tmp_path)


def test_video_without_audio_track_as_audio(media: RobustMedia, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"has no audio track \(this video contains no sound\)\. Pass an audio file"):
        _check(media.testsrc(), media.testsrc(), tmp_path)


def test_zero_length_audio(media: RobustMedia, tmp_path: Path) -> None:
    empty = media.silence(0.0, "wav")
    with pytest.raises(InputError, match=r"The audio in .* is empty \(0 samples\)\."):
        _check(media.testsrc(), empty, tmp_path)


def test_audio_shorter_than_one_frame(media: RobustMedia, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"too short \(0\.020 s\): at least one video frame \(0\.04 s\)"):
        _check(media.testsrc(), media.tone(seconds=0.02), tmp_path)


def test_tenth_of_a_second_audio_gives_two_frames(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                  tmp_path: Path) -> None:
    """0.1 s of sound is floor(0.1 * 25) = 2 frames: a valid, very short video."""
    out = stub_pipe.generate(media.face_frame("jpg"), media.tone(seconds=0.1), tmp_path / "short.mp4")
    assert len(list(iter_frames(out))) == 2
    assert probe(out).has_audio


def test_ten_minutes_of_silence(media: RobustMedia, tmp_path: Path) -> None:
    """Scaled to stay fast: the 10-minute file is decoded and windowed by index (15000 frames, every window inside
    the padded features), without running Whisper on 20 segments or rendering 15000 frames. The same path end
    to end on 20 s of silence is ``test_twenty_seconds_of_silence_end_to_end``.
    """
    silence = media.silence(600.0)
    check_generate_inputs(media.testsrc(), silence, tmp_path / "out.mp4", face_scan=False)
    audio = load_audio(silence)
    assert audio.shape == (600 * AUDIO_SAMPLE_RATE,) and not audio.any()
    n = frame_count(audio.size)
    assert n == 15000
    starts = window_starts(n)
    assert starts[-1] + 10 <= 4 + 600 * 50 + 12  # last window ends inside the zero-padded features


def test_audio_too_long_for_memory(media: RobustMedia, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Whisper features of the whole audio are held at once: 10 minutes need about 0.7 GB at the peak. With
    less memory available the check says so up front, instead of the process being killed later."""
    import musetalk.checks as checks

    monkeypatch.setattr(checks, "available_memory", lambda: 500_000_000)
    with pytest.raises(InputError, match=r"^The audio silence_600\.0s\.flac is too long to process at once "
                                         r"\(10 min needs about 0\.7 GB of memory, 0\.5 GB is available\)\. "
                                         r"Split it into shorter parts\.$"):
        check_generate_inputs(media.testsrc(), media.silence(600.0), tmp_path / "out.mp4", face_scan=False)


def test_twenty_seconds_of_silence_end_to_end(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                              tmp_path: Path) -> None:
    out = stub_pipe.generate(media.face_frame("png"), media.silence(20.0), tmp_path / "quiet.mp4")
    assert sum(1 for _ in iter_frames(out)) == 500


AUDIO_FORMATS = {
    "mp3": dict(ext="mp3", rate=44100, channels=2),
    "m4a": dict(ext="m4a", rate=44100, channels=2),
    "ogg": dict(ext="ogg", rate=44100, channels=2),
    "flac": dict(ext="flac", rate=44100, channels=1),
    "wav-8k-mono": dict(ext="wav", rate=8000, channels=1),
    "wav-48k-stereo": dict(ext="wav", rate=48000, channels=2),
}


@pytest.mark.parametrize("fmt", list(AUDIO_FORMATS))
def test_audio_formats_decode_to_16k_mono(media: RobustMedia, fmt: str) -> None:
    """Each becomes 16 kHz mono float32 of the right length (codec padding aside) and the right pitch."""
    spec = AUDIO_FORMATS[fmt]
    path = media.tone(spec["ext"], 1.0, spec["rate"], spec["channels"])
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size / AUDIO_SAMPLE_RATE - 1.0) < 0.06, audio.size  # mp3/aac add a few ms of padding
    assert frame_count(audio.size) in (24, 25, 26)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    assert abs(np.argmax(spectrum) * AUDIO_SAMPLE_RATE / audio.size - 440) < 5


@pytest.mark.parametrize("fmt", ["ogg", "wav-48k-stereo"])
def test_audio_formats_end_to_end(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                                  fmt: str) -> None:
    spec = AUDIO_FORMATS[fmt]
    audio = media.tone(spec["ext"], 1.0, spec["rate"], spec["channels"])
    out = stub_pipe.generate(media.face_frame("png"), audio, tmp_path / "out.mp4")
    n = frame_count(load_audio(audio).size)
    assert sum(1 for _ in iter_frames(out)) == n
    assert abs(probe(out).duration - n / 25) < 0.1


def test_input_errors_come_before_any_model_work(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong file fails in the checks, before Whisper runs: seconds, not minutes."""
    def no_audio_work(*_a, **_k):
        raise AssertionError("audio windows must not be computed for a bad input")

    monkeypatch.setattr(stub_pipe, "audio_windows", no_audio_work)
    start = time.monotonic()
    with pytest.raises(InputError, match="could not be opened as media"):
        stub_pipe.generate(media.text_as_mp4(), media.tone(), tmp_path / "out.mp4")
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out.mp4").exists()

