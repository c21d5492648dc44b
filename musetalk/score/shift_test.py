"""A check of the offset finder on the user's own footage: shift a clip's own audio by known amounts and see
whether the finder recovers each shift, or says it is not confident."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musetalk.config import AUDIO_SAMPLE_RATE, FPS, FaceConfig
from musetalk.errors import InputError, NoFaceError
from musetalk.media.audio import load_audio
from musetalk.media.probe import probe
from musetalk.score.offset import SyncConfig, SyncEstimate, estimate_sync
from musetalk.score.report import PathLike, scan
from musetalk.score.speech import speech_track

SHIFTS_MS = (-400, -200, -120, 0, 120, 200, 400)
TOLERANCE_MS = 40.0


def shift_audio(audio: np.ndarray, ms: float, sample_rate: int = AUDIO_SAMPLE_RATE) -> np.ndarray:
    """Delay (ms > 0: the sound comes later) or advance the audio, keeping its length; the gap is silence."""
    k = int(round(ms * sample_rate / 1000.0))
    out = np.zeros_like(audio)
    if k >= 0:
        out[k:] = audio[:audio.size - k]
    else:
        out[:audio.size + k] = audio[-k:]
    return out


@dataclass
class ShiftTrial:
    shift_ms: float
    estimate: SyncEstimate

    @property
    def error_ms(self) -> float | None:
        """Estimated minus applied offset, relative to the clip's own offset (its 0 ms trial); None if unsure."""
        return self.estimate.offset_ms - self.shift_ms if self.estimate.confident else None


def shift_test(video: PathLike, shifts_ms: tuple[float, ...] = SHIFTS_MS,
               cfg: SyncConfig | None = None) -> list[ShiftTrial]:
    """The offset finder's answer for the video's own audio shifted by each of ``shifts_ms``."""
    info = probe(video)
    if not (info.has_video and info.has_audio):
        raise InputError(f"{info.path.name} needs both a video and its own sound track for the shift test.", None)
    audio = load_audio(info)
    motion, _, _ = scan(info, None, FaceConfig(), lambda *a: None)
    if not motion.mouth.found.any():
        raise NoFaceError(f"any frame of {info.path.name}")
    n = len(motion.mouth)
    return [ShiftTrial(ms, estimate_sync(motion.mouth, speech_track(shift_audio(audio, ms), n, FPS), cfg))
            for ms in shifts_ms]


def summarize(trials: list[ShiftTrial], tolerance_ms: float = TOLERANCE_MS) -> dict[str, float | int]:
    """How many answers were confident, and how many confident ones were within ``tolerance_ms``."""
    confident = [t for t in trials if t.estimate.confident]
    good = [t for t in confident if abs(t.error_ms or 0.0) <= tolerance_ms]
    return {"trials": len(trials), "confident": len(confident), "within_tolerance": len(good),
            "tolerance_ms": tolerance_ms}
