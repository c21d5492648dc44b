"""The live output timeline: slots at the avatar's fps from the session start, and the utterances placed on it.

An utterance is a stretch of contiguous audio: it starts at one slot and each following slot shows the next
1/fps seconds of it. Slot audio boundaries are exact for fractional rates (slot f of an utterance holds samples
``floor(f * 16000 / fps)`` up to the next such boundary), the rule ``frame_count`` uses offline.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..config import AUDIO_SAMPLE_RATE
from ..models.audio import frame_count

HANGOVER_BEFORE = 3  # a slot shows speech if a slot this far before it is loud (lips close after the sound)...
HANGOVER_AFTER = 2  # ...or this far after it (they open before; the window reaches 2 frames ahead anyway)


class Rate:
    """Slot <-> sample and slot <-> seconds arithmetic at an exact frame rate."""

    def __init__(self, fps: Fraction) -> None:
        self.fps = Fraction(fps)

    def boundary(self, f: int) -> int:
        """First sample of frame f of an utterance."""
        return (f * AUDIO_SAMPLE_RATE * self.fps.denominator) // self.fps.numerator

    def frames(self, n_samples: int) -> int:
        """Whole frames in n_samples (floor, as offline)."""
        return frame_count(n_samples, self.fps)

    def seconds(self, slots: int) -> float:
        return float(slots / self.fps)

    def slot_at(self, seconds: float) -> int:
        """The slot whose time has come at ``seconds`` after the start (floor)."""
        return math.floor(seconds * float(self.fps) + 1e-9)

    def slots_for(self, seconds: float) -> int:
        """Slots needed to cover ``seconds`` (ceil)."""
        return math.ceil(seconds * float(self.fps) - 1e-9)


class Utterance:
    """Audio received for one stretch of speech and its Whisper windows (one ``StreamingWindows``, so the
    segmentation starts at the utterance's first sample, as offline starts at a file's sample 0).

    Only the audio of slots not yet shown (plus a little hangover) is kept: memory is bounded by the pending audio.
    """

    def __init__(self, uid: int, first: int, windows, rate: Rate) -> None:
        self.uid = uid
        self.first = first  # its first slot on the session timeline
        self.windows = windows  # StreamingWindows
        self.rate = rate
        self.n_samples = 0
        self.ended = False
        self.next_block = 0  # unpaced rendering: the first frame of the next batch
        self.next_cell = 0  # paced rendering: the first frame of the next stride cell to plan
        self._buf = np.zeros(0, np.float32)
        self._base = 0  # utterance sample index of _buf[0]
        self._db: dict[int, float] = {}  # frame -> RMS level in dBFS, for whole frames

    @property
    def n_frames(self) -> int:
        """Whole frames received."""
        return self.rate.frames(self.n_samples)

    @property
    def end_slot(self) -> int:
        """One past its last whole slot."""
        return self.first + self.n_frames

    def push(self, pcm: np.ndarray) -> None:
        before = self.n_frames
        self.windows.push(pcm)
        self._buf = np.concatenate([self._buf, pcm])
        self.n_samples += len(pcm)
        for f in range(before, self.n_frames):
            a = self.audio(f)
            self._db[f] = 20 * math.log10(float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) + 1e-12)

    def finish(self) -> None:
        if not self.ended:
            self.ended = True
            self.windows.finish()

    def audio(self, f: int) -> np.ndarray:
        """(samples of frame f,) float32; the part not received yet (an underrun) reads as zeros."""
        a, b = self.rate.boundary(f), self.rate.boundary(f + 1)
        out = np.zeros(b - a, np.float32)
        got = self._buf[max(a - self._base, 0) : max(b - self._base, 0)]
        if a >= self._base:
            out[: len(got)] = got
        return out

    def pending_samples(self, from_slot: int) -> int:
        """Samples received for slots >= from_slot (not shown yet)."""
        f = max(from_slot - self.first, 0)
        return max(self.n_samples - self.rate.boundary(f), 0)

    def decided(self, f: int) -> bool:
        """Whether frame f's loudness neighbourhood is known (its window audio has arrived)."""
        return self.ended or f + HANGOVER_AFTER < self.n_frames

    def quiet(self, f: int, below_db: float | None) -> bool:
        """Frame f and its hangover neighbours are all below ``below_db`` (None: nothing is quiet)."""
        if below_db is None:
            return False
        near = range(max(f - HANGOVER_BEFORE, 0), min(f + HANGOVER_AFTER + 1, self.n_frames))
        return all(self._db.get(j, -math.inf) < below_db for j in near)

    def release(self, before_slot: int) -> None:
        """Drop audio and levels of slots before ``before_slot`` (already shown, past the hangover)."""
        f = before_slot - self.first - HANGOVER_AFTER - 1
        if f <= 0:
            return
        cut = self.rate.boundary(f) - self._base
        if cut >= AUDIO_SAMPLE_RATE:  # in 1 s steps: a copy per slot would cost O(pending) each time
            self._buf = self._buf[cut:].copy()
            self._base += cut
        for j in [j for j in self._db if j < f - HANGOVER_BEFORE]:
            del self._db[j]
        forget = getattr(self.windows, "forget", None)
        if forget is not None:
            forget(f)
