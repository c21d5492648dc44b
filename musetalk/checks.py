"""Input checks that run before any heavy work: paths, streams, durations, memory, disk, and a quick face scan.

``generate`` and ``Avatar.prepare`` call these first, and the CLI calls them for every task before it loads the
models, so that a wrong file fails in a second with one sentence instead of after minutes of work. They return
what they learned (``CheckedInputs``: each input's probe), and the work that follows uses it instead of probing
again: each input is probed once.
"""
from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .config import AUDIO_SAMPLE_RATE, FPS, InferenceConfig
from .errors import InputError, NoFaceError
from .media import MediaInfo, audio_duration, check_output_path, iter_frames, probe
from .media.audio import non_finite_samples
from .media.rates import output_rate

log = logging.getLogger(__name__)

# Frames of the source size held at once in the worst case: two per batch slot (source + blended copy),
# the 25-frame tail kept to mirror a short stream, and a few for the decoder, the writer and the face analyser.
RESIDENT_FRAMES_EXTRA = 25 + 8
# Audio memory per video frame at the peak of the lazy windowing (generate and avatars): the 16 kHz samples, and
# the Whisper hidden states (2 steps x 5 x 384 float32) held about three times (segments, concatenated, padded).
AUDIO_BYTES_PER_FRAME = 4 * AUDIO_SAMPLE_RATE // FPS + 3 * 2 * 5 * 384 * 4
FACE_SCAN_FPS = 5  # frames per second looked at by the up-front face scan
FACE_SCAN_MAX = 200  # at most this many frames, spread over the whole video
SHORT_AUDIO_CHECK_S = 1.0  # audio shorter than this by its header is decoded up front to check its real length


# models/ and sources import torch (seconds): a command that fails on a missing file must not wait for it, so
# these come from there only when a check gets that far.
def frames_for_seconds(seconds: float, fps: Fraction | int = FPS) -> int:
    """``models.audio.frames_for_seconds``: the one frame-count rule."""
    from .models import audio

    return audio.frames_for_seconds(seconds, fps)


def available_memory() -> int | None:
    """``models.device.available_memory``: free RAM in bytes, or None if unknown."""
    from .models import device

    return device.available_memory()


def check_video(video: str | os.PathLike[str], batch_size: int = 8) -> MediaInfo:
    """A readable video or image with at least one decodable frame, small enough to process in memory."""
    info = probe(video)
    if not info.has_video:
        raise InputError(f"{info.path} has no video stream (it holds only sound).",
                         "Give a video file or an image of a face; the speech goes in the audio input.")
    check_frame_memory(info, batch_size)
    return info


def check_audio(audio: str | os.PathLike[str]) -> MediaInfo:
    """A readable file with a sound track at least one video frame (40 ms) long."""
    info = probe(audio)
    if not info.has_audio:
        kind = "video" if info.has_video else "file"
        raise InputError(f"{info.path} has no audio track (this {kind} contains no sound).",
                         "Pass an audio file (wav, mp3, m4a, flac, ogg) or a video that has sound.")
    if info.duration < SHORT_AUDIO_CHECK_S:  # empty, very short, or of unknown length: measure it
        seconds = audio_duration(info)  # raises "audio is empty" for 0 samples
        if frames_for_seconds(seconds) < 1:
            raise InputError(f"The audio in {info.path} is too short ({seconds:.3f} s): at least one video "
                             f"frame ({1 / FPS:.2f} s) of sound is needed.", "Pass a longer audio file.")
        info.duration = seconds
    bad, first = non_finite_samples(info)
    if bad:  # ffmpeg's AAC encoder would refuse them, but only after all the model work
        raise InputError(f"The audio in {info.path} contains {bad} samples that are not numbers (NaN or infinite), "
                         f"from {first:.2f} s on.", "Re-export it from your editor, or convert it to 16-bit wav.")
    return info


def check_frame_memory(info: MediaInfo, batch_size: int = 8) -> None:
    """Very large frames are processed as they are, unless holding the working set would exhaust memory."""
    frame_bytes = info.width * info.height * 3
    need = frame_bytes * (2 * batch_size + RESIDENT_FRAMES_EXTRA)
    free = available_memory()
    if free is not None and need > free:
        raise InputError(
            f"{info.path.name} has very large frames ({info.width}x{info.height}): processing them needs about "
            f"{_size(need)} of memory, but only {_size(free)} is available.",
            "Downscale the video (for example to 1920 pixels wide) or lower --batch-size.",
        )


def check_audio_memory(info: MediaInfo) -> None:
    """The Whisper features of the whole audio are held at once (about 0.7 GB per 10 minutes at the peak):
    refuse audio so long that they would exhaust memory."""
    need = frames_for_seconds(info.duration) * AUDIO_BYTES_PER_FRAME
    free = available_memory()
    if free is not None and need > free:
        raise InputError(
            f"The audio {info.path.name} is too long to process at once ({info.duration / 60:.0f} min needs about "
            f"{_size(need)} of memory, {_size(free)} is available).", "Split it into shorter parts.")


def check_disk_space(folder: Path, need: int, what: str) -> None:
    """InputError when ``folder``'s file system has less than ``need`` bytes free (plus 5% slack)."""
    folder = Path(folder)
    probe_dir = folder
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    try:
        free = shutil.disk_usage(probe_dir).free
    except OSError:
        return
    if need * 1.05 > free:
        raise InputError(f"{what} need about {_size(need)} of disk space in {folder}, but only {_size(free)} is free.",
                         "Free some space, use a shorter or smaller video, or point TMPDIR to a bigger disk.")


def scan_for_face(info: MediaInfo, face: str = "largest") -> int:
    """Look at up to FACE_SCAN_MAX frames spread over the video (5 per second for clips under 40 s).

    Returns the 25 fps index of the first sampled frame with a face; raises NoFaceError when none has one.
    A face visible for less than the sampling step (0.2 s, longer for long videos) can be missed; such a clip
    cannot be lip-synced usefully anyway. ``face`` (``FaceConfig.face``): a number or point that fits none of
    that frame's faces raises InputError here, before the models load.
    """
    from .config import parse_face_choice
    from .face import FaceAnalyzer

    choice = parse_face_choice(face)
    expected = 1 if info.is_image else max(1, math.ceil(info.duration * FACE_SCAN_FPS))
    step = max(1, math.ceil(expected / FACE_SCAN_MAX))
    checked = 0
    with FaceAnalyzer(static_image_mode=True, choice=choice) as analyzer:
        frames = iter_frames(info, FACE_SCAN_FPS)
        try:
            for k, frame in enumerate(frames):
                if k % step:
                    continue
                checked += 1
                if analyzer.analyze(frame) is not None:
                    log.debug("face scan: first face at %.1f s of %s", k / FACE_SCAN_FPS, info.path.name)
                    return k * FPS // FACE_SCAN_FPS
        finally:
            frames.close()  # stop ffmpeg as soon as a face is found
    where = "the image" if info.is_image else f"any of {checked} frames sampled across the video"
    raise NoFaceError(f"{where} ({info.path.name})")


@dataclass
class CheckedInputs:
    """What the checks of one generate request learned, for the work that follows (no second probe)."""

    video: MediaInfo
    audio: MediaInfo


def check_generate_inputs(video: str | os.PathLike[str], audio: str | os.PathLike[str],
                          out: str | os.PathLike[str], cfg: InferenceConfig | None = None,
                          face_scan: bool = True) -> CheckedInputs:
    """Everything ``generate`` needs, checked in order of cost."""
    cfg = cfg or InferenceConfig()
    check_output_path(out, (video, audio))
    vinfo = check_video(video, cfg.batch_size)
    ainfo = check_audio(audio)
    check_audio_memory(ainfo)
    fps = output_rate(vinfo.fps, vinfo.is_image, cfg.fps)
    n_out = frames_for_seconds(ainfo.duration, fps)
    from .sources import must_loop  # torch and the face models: only once the files are known to be good

    if must_loop(vinfo, n_out, fps):  # its frames are spooled to disk
        n_src = 1 if vinfo.is_image else min(max(vinfo.n_frames, 1), n_out)
        check_disk_space(Path(tempfile.gettempdir()), n_src * vinfo.width * vinfo.height * 3,
                         f"The {n_src} source frames of {vinfo.path.name}")
    if face_scan:
        scan_for_face(vinfo, cfg.face.face)
    return CheckedInputs(vinfo, ainfo)


def check_avatar_video(video: str | os.PathLike[str], root: Path, batch_size: int = 8,
                       face: str = "largest") -> MediaInfo:
    """The video to prepare ``root`` from: readable, small enough, room for its frames, a face in it (sampled),
    the chosen one (``FaceConfig.face``) among them."""
    info = check_video(video, batch_size)
    check_disk_space(root.parent, max(info.n_frames, 1) * info.width * info.height * 3,
                     f"The frames of {Path(video).name}")
    scan_for_face(info, face)  # seconds, before every frame is analysed and encoded
    return info


def check_speech(audio: str | os.PathLike[str], out: str | os.PathLike[str]) -> MediaInfo:
    """The audio an avatar will speak and where its video goes; returns the audio's probe."""
    check_output_path(out, (audio,))
    return check_audio(audio)


def _size(n: float) -> str:
    """Bytes in units that fit: GB from 0.1 GB up (one decimal), else MB or kB (two significant digits)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale * (0.1 if unit == "GB" else 1):
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 or unit == "GB" else f"{value:.0f} {unit}"
    return f"{int(n)} bytes"


__all__ = ["CheckedInputs", "check_audio", "check_audio_memory", "check_avatar_video", "check_disk_space",
           "check_frame_memory", "check_generate_inputs", "check_speech", "check_video", "scan_for_face"]
