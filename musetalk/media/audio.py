"""Audio decoding through ffmpeg: any format ffmpeg reads, to mono float32 at the model's sample rate.

Mono is the average of the channels (as librosa's ``to_mono``, which MuseTalk uses) and resampling uses soxr
(librosa's default resampler), so the samples match the reference loader closely.
"""
from __future__ import annotations

import logging
import os
import subprocess

import numpy as np

from musetalk.config import AUDIO_SAMPLE_RATE
from musetalk.errors import InputError
from musetalk.media._ffmpeg import BASE_ARGS, ISOLATE, StderrTail, ffmpeg_exe, stop_process
from musetalk.media.probe import MediaInfo, read_header

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16  # bytes per pipe read


def _decode_args(path: str, sample_rate: int) -> list[str]:
    """ffmpeg arguments decoding the first audio stream of ``path`` to f32le mono at ``sample_rate`` on stdout."""
    # rematrix_maxval=1 normalises the downmix so that stereo -> mono is (L + R) / 2 rather than ffmpeg's
    # default (L + R) * 0.707, which can exceed [-1, 1].
    resample = f"aresample=osr={sample_rate}:ochl=mono:rematrix_maxval=1:resampler=soxr"
    return [ffmpeg_exe(), *BASE_ARGS, "-v", "error", "-i", path, "-map", "0:a:0", "-vn", "-sn", "-dn",
            "-af", resample, "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]


def _decode(path: str | os.PathLike[str] | MediaInfo, sample_rate: int,
            keep: bool) -> tuple[list[bytes], int]:
    """Stream the decoded audio; returns (chunks if ``keep`` else [], total byte count).

    ``path`` may be the ``MediaInfo`` of an earlier probe, which spares reading the header again."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    info = path if isinstance(path, MediaInfo) else read_header(path)
    if not info.has_audio:
        kind = "video" if info.has_video else "file"
        raise InputError(f"{info.path} has no audio track (this {kind} contains no sound).",
                         "Pass an audio file (wav, mp3, m4a, flac, ogg) or a video that has sound.")
    cmd = _decode_args(str(info.path), sample_rate)
    logger.debug("ffmpeg audio: %s", cmd)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **ISOLATE)
    assert proc.stdout is not None and proc.stderr is not None
    tail = StderrTail(proc.stderr)
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := proc.stdout.read(_CHUNK):
            total += len(chunk)
            if keep:
                chunks.append(chunk)
        rc = proc.wait()
    finally:
        stop_process(proc)
        tail.join()
    if rc != 0:
        raise InputError(f"Could not decode the audio of {info.path}: {tail.last_line()}.",
                         "The file may be truncated or corrupt; re-export it as wav or mp3.")
    if total < 4:
        raise InputError(f"The audio in {info.path} is empty (0 samples).", "Pass a file that contains sound.")
    return chunks, total


def load_audio(path: str | os.PathLike[str] | MediaInfo, sample_rate: int = AUDIO_SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of ``path`` (audio file or video) to ``(n,) float32`` mono in [-1, 1].

    Any format ffmpeg reads works (wav, mp3, m4a/aac, flac, ogg, the sound track of an mp4, ...), at any rate
    and channel count; the result is at ``sample_rate`` Hz. Raises InputError when the file is missing or not
    media, has no audio stream, fails to decode, or decodes to no samples ("audio is empty").
    """
    chunks, total = _decode(path, sample_rate, keep=True)
    audio = np.frombuffer(b"".join(chunks), dtype=np.float32, count=total // 4).copy()
    # Lossy decoders (mp3, aac) can overshoot full scale slightly.
    np.clip(audio, -1.0, 1.0, out=audio)
    logger.debug("loaded %s: %d samples at %d Hz", path, audio.size, sample_rate)
    return audio


def audio_duration(path: str | os.PathLike[str] | MediaInfo) -> float:
    """Length in seconds of the first audio stream of ``path``, measured by decoding it (exact, not the header).

    Decodes at 16 kHz and counts samples without keeping them. Raises InputError like ``load_audio``.
    """
    _, total = _decode(path, AUDIO_SAMPLE_RATE, keep=False)
    return (total // 4) / AUDIO_SAMPLE_RATE


FLOAT_CODECS = ("pcm_f32le", "pcm_f32be", "pcm_f64le", "pcm_f64be", "pcm_f16le", "pcm_f24le")


def non_finite_samples(info: MediaInfo) -> tuple[int, float]:
    """(count, seconds of the first) of the NaN or infinite samples in a float-PCM audio track; (0, 0.0) else.

    Only float PCM can hold them (integer PCM and the usual codecs cannot), so other files are not decoded.
    Decoded at the file's own rate, mono, so the count is the file's, not a resampler's.
    """
    if info.audio_codec not in FLOAT_CODECS:
        return 0, 0.0
    cmd = [ffmpeg_exe(), *BASE_ARGS, "-v", "error", "-i", str(info.path), "-map", "0:a:0", "-vn", "-ac", "1",
           "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=600, **ISOLATE)
    samples = np.frombuffer(proc.stdout, dtype=np.float32, count=len(proc.stdout) // 4)
    bad = np.flatnonzero(~np.isfinite(samples))
    if bad.size == 0:
        return 0, 0.0
    return int(bad.size), float(bad[0]) / (info.audio_rate or AUDIO_SAMPLE_RATE)
