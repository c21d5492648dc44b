"""Feed an audio file to a live session as a stream and record what comes out: the CLI's ``avatar live`` and the
bench's live mode use it to check the engine end to end.

Paced, a feeder thread pushes ``chunk_ms`` chunks on the real-time clock, as a microphone would. Unpaced there is
no clock to follow: the whole file is pushed at once, then ``end()``, so every Whisper segment is complete when it
is encoded and the frames are the offline ones (``avatar speak --silence keep``) bit for bit when nothing is
left idle (``idle_below_db=None``).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..config import AUDIO_SAMPLE_RATE, CRF, Progress, no_progress
from ..media import MediaInfo, load_audio
from .engine import LiveConfig, LiveFrame, LiveSession, LiveStats

MIN_CHUNK_MS = 20


@dataclass
class Recording:
    """What a fed session gave: its stats, and per recorded frame its kind and A/V offset in frames."""

    stats: LiveStats
    frames: int = 0
    expected_frames: int = 0  # whole frames of the input audio, floor(seconds * fps), as offline
    kinds: dict[str, int] = field(default_factory=lambda: {"speech": 0, "held": 0, "idle": 0})
    offsets: list[int] = field(default_factory=list)  # shown slot - own slot, for speech and held frames
    spans: dict[int, list[int]] = field(default_factory=dict)  # rendered slot -> [first, last] slot showing it
    audio_mismatch: int = 0  # samples where the frames' audio differs from the input's
    first_slot: int | None = None  # the session slot of the first recorded frame (its loop position)
    repeated: int = 0  # slots a slow consumer (the writer) missed, filled with the frame before (paced only)
    path: Path | None = None

    @property
    def max_offset(self) -> int:
        return max((abs(o) for o in self.offsets), default=0)

    @property
    def mean_offset(self) -> float:
        return float(np.mean(np.abs(self.offsets))) if self.offsets else 0.0

    @property
    def thirds(self) -> list[float]:
        """The median signed offset in the first, middle and last third of the speech frames: the A/V offset
        (held frames spread round it by up to half a stride, ``mean_offset``; it should stay at 0)."""
        parts = np.array_split(np.asarray(self.offsets, np.float64), 3) if len(self.offsets) >= 3 else []
        return [float(np.median(p)) for p in parts]

    @property
    def picture_thirds(self) -> list[float | None]:
        """Per picture (a render and the held slots showing it), its slot minus the middle of those slots: how far
        the picture's time is from the audio it is shown with; the median in each third of the stream. At a large
        stride this is the A/V offset: each frame's offset then spreads over +-stride/2 by design, so its median
        in a third moves by whole frames with where the third's ends cut the pictures (+1/-4/+4 at stride 111,
        where every picture was centred within 2 frames)."""
        if not self.spans or self.first_slot is None:
            return []
        lo, n = self.first_slot, max(self.frames, 1)
        parts: list[list[float]] = [[], [], []]
        for m, (a, b) in self.spans.items():
            middle = (a + b) / 2
            parts[min(int(3 * (middle - lo) / n), 2)].append(m - middle)
        return [float(np.median(p)) if p else None for p in parts]

    def lines(self) -> list[str]:
        k = self.kinds
        thirds = format_thirds(self.thirds)
        pictures = format_thirds(self.picture_thirds)
        return [self.stats.message(),
                f"{self.frames} frames ({self.expected_frames} expected): {k['speech']} rendered, {k['held']} held, "
                f"{k['idle']} idle (stride {self.stats.stride}); A/V offset (median, start/middle/end) {thirds} "
                f"per frame, {pictures} per picture, "
                f"held spread mean {self.mean_offset:.2f}, max {self.max_offset} frames; "
                f"audio {'equals the input' if self.audio_mismatch == 0 else f'differs in {self.audio_mismatch} samples'}"
                + (f"; {self.stats.utterances} utterances (audio came late)" if self.stats.utterances > 1 else "")
                + (f"; {self.repeated} slots missed by the writer, filled with the frame before" if self.repeated
                   else ""),
                _latency_line(self.stats) + f"; first audio slot {self.first_slot}"]


def format_thirds(thirds: list[float | None]) -> str:
    """``Recording.thirds`` as the CLI and the bench print it: "+0/-0.5/+0" ("-" without speech, and for a third
    without any)."""
    return "/".join("-" if t is None else f"{t:+g}" for t in thirds) or "-"


def _latency_line(s: LiveStats) -> str:
    if s.latency_median_s is None:
        return "latency: no chunk reached the output"
    return (f"latency chunk -> frame: median {s.latency_median_s:.3f} s, p95 {s.latency_p95_s:.3f} s "
            f"(one render batch {s.render_batch_s:.3f} s)")


def feed(session: LiveSession, wav: np.ndarray, chunk_ms: int, pace: bool,
         clock: Callable[[], float] = time.monotonic) -> Callable[[], None]:
    """Start a thread pushing ``wav`` into ``session`` then calling ``end()``; returns ``join(raise_error)``,
    which waits for it and re-raises its error (an overflow, a closed session) in the caller."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            if not pace:
                session.push(wav)
            else:
                step = AUDIO_SAMPLE_RATE * chunk_ms // 1000
                t0 = clock()
                for k, at in enumerate(range(0, len(wav), step)):
                    wait = t0 + k * chunk_ms / 1000 - clock()
                    if wait > 0:
                        time.sleep(wait)
                    session.push(wav[at : at + step])
            session.end()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)
            session.close()

    thread = threading.Thread(target=run, name="musetalk-live-feeder", daemon=True)
    thread.start()

    def join(raise_error: bool = True) -> None:
        thread.join()
        if errors and raise_error:
            raise errors[0]

    return join


def run_fed(avatar, wav: np.ndarray, chunk_ms: int = 100, cfg: LiveConfig | None = None,
            consume: Callable[[Iterator[np.ndarray]], None] | None = None, progress: Progress = no_progress,
            clock: Callable[[], float] = time.monotonic) -> Recording:
    """Feed ``wav`` (16 kHz mono float32) to a new session on ``avatar`` and take every frame of its audio (the
    utterance slots: not the idle slots before, nor between utterances after an underrun, which carry no audio).
    ``consume`` receives the images (e.g. a video writer); without it they are dropped."""
    cfg = cfg or LiveConfig()
    if not cfg.pace:  # the whole file is pushed at once: there is no real time for it to run ahead of
        cfg = replace(cfg, max_pending_s=max(cfg.max_pending_s, len(wav) / AUDIO_SAMPLE_RATE + 1))
    with LiveSession(avatar, cfg, clock) as session:
        rec = Recording(session.stats(), expected_frames=session.rate.frames(len(wav)))
        join = feed(session, wav, chunk_ms, cfg.pace, clock)
        images = _recorded(session.frames(), rec, wav, progress, join)
        try:
            if consume is None:
                for _ in images:
                    pass
            else:
                consume(images)
        finally:
            images.close()
            session.close()
            join(False)  # an error of the consumer's is the one to raise
        rec.stats = session.stats()
    return rec


def _recorded(frames: Iterator[LiveFrame], rec: Recording, wav: np.ndarray, progress: Progress,
              join: Callable[[bool], None]) -> Iterator[np.ndarray]:
    """The recorded images; the feeder's error, if the stream ended because of one, is raised here, inside the
    writer's loop, so that no partial video is left behind."""
    at, last = 0, None
    for frame in frames:
        if frame.utterance is None:
            continue
        if last is not None and last.utterance == frame.utterance and frame.index > last.index + 1:
            for _ in range(frame.index - last.index - 1):  # skipped: the file keeps its length and its sync
                at += len(last.audio)
                rec.frames += 1
                rec.repeated += 1
                yield last.image
        last = frame
        if rec.first_slot is None:
            rec.first_slot = frame.index
        ref = wav[at : at + len(frame.audio)]
        rec.audio_mismatch += int(np.count_nonzero(frame.audio[: len(ref)] != ref)) + len(frame.audio) - len(ref)
        at += len(frame.audio)
        rec.frames += 1
        rec.kinds[frame.kind] += 1
        if frame.shows is not None:
            rec.offsets.append(frame.shows - frame.index)
            span = rec.spans.setdefault(frame.shows, [frame.index, frame.index])
            span[0], span[1] = min(span[0], frame.index), max(span[1], frame.index)
        progress("lip-sync", rec.frames, max(rec.expected_frames, rec.frames))
        yield frame.image
    join(True)


def record_live(avatar, audio: str | os.PathLike[str] | MediaInfo, out: str | os.PathLike[str], chunk_ms: int = 100,
                cfg: LiveConfig | None = None, crf: int = CRF, progress: Progress = no_progress) -> Recording:
    """Stream ``audio`` through a live session of ``avatar`` into the video ``out`` (the writer, crf, colour, sar
    and fps of ``avatar speak``, with ``audio`` muxed)."""
    from ..pipeline import write_frames

    wav = load_audio(audio)

    def consume(images: Iterator[np.ndarray]) -> None:
        write_frames(images, out, avatar.size, audio, progress, avatar.sar, avatar.fps, crf, avatar.color)

    rec = run_fed(avatar, wav, chunk_ms, cfg, consume, progress)
    rec.path = Path(out)
    return rec
