"""load_audio / audio_duration: every common format, rate and channel count to 16 kHz mono float32."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_helpers import MediaFactory, dominant_frequency

from musetalk.errors import InputError
from musetalk.media import audio_duration, load_audio

SR = 16000


@pytest.mark.parametrize(
    ("ext", "rate", "channels"),
    [
        ("wav", 44100, 1),
        ("wav", 8000, 1),
        ("wav", 48000, 2),
        ("mp3", 44100, 2),
        ("flac", 22050, 1),
        ("ogg", 48000, 2),
        ("m4a", 44100, 2),
    ],
)
def test_load_audio_formats(media: MediaFactory, ext: str, rate: int, channels: int) -> None:
    path = media.sine(ext, rate=rate, channels=channels, freq=440, seconds=1.5)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # Lossy codecs add encoder delay/padding (tens of ms); lossless ones are sample-exact.
    tolerance = 0.002 if ext in ("wav", "flac") else 0.1
    assert audio.size / SR == pytest.approx(1.5, abs=tolerance)
    assert np.abs(audio).max() <= 1.0
    # ffmpeg's sine source has amplitude 1/8; averaging identical channels must not change it (no 0.707 * 2 boost).
    assert np.abs(audio[SR // 4: -SR // 4]).max() == pytest.approx(0.125, rel=0.1)
    assert dominant_frequency(audio, SR) == pytest.approx(440, abs=5)


def test_load_audio_other_sample_rate(media: MediaFactory) -> None:
    audio = load_audio(media.sine("wav", rate=44100, freq=1000, seconds=1.0), sample_rate=22050)
    assert audio.size == 22050
    assert dominant_frequency(audio, 22050) == pytest.approx(1000, abs=5)


def test_load_audio_from_video_track(media: MediaFactory) -> None:
    audio = load_audio(media.video_with_audio())
    assert audio.size / SR == pytest.approx(2.0, abs=0.1)
    assert dominant_frequency(audio, SR) == pytest.approx(440, abs=5)


def test_audio_duration(media: MediaFactory) -> None:
    assert audio_duration(media.sine("wav", rate=8000, seconds=1.5)) == pytest.approx(1.5, abs=1e-3)
    assert audio_duration(media.sine("mp3", rate=44100, channels=2, seconds=1.5)) == pytest.approx(1.5, abs=0.1)


def test_load_audio_video_without_audio(media: MediaFactory) -> None:
    with pytest.raises(InputError, match="no audio track"):
        load_audio(media.video())


def test_load_audio_image(media: MediaFactory) -> None:
    with pytest.raises(InputError, match="no audio track"):
        load_audio(media.image("png"))


def test_load_audio_empty(media: MediaFactory) -> None:
    with pytest.raises(InputError, match="audio .* is empty"):
        load_audio(media.empty_wav())


def test_load_audio_not_media(tmp_path: Path) -> None:
    fake = tmp_path / "speech.wav"
    fake.write_text("not audio at all\n" * 10)
    with pytest.raises(InputError, match="could not be opened as media"):
        load_audio(fake)


def test_load_audio_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "missing.wav")
