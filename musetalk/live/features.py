"""Whisper windows of audio that arrives in chunks, for the live engine.

Why a second path: offline (``models.audio``) encodes a whole file; live audio arrives 20-500 ms at a time and a
frame is due about 80 ms after its audio. This keeps offline's segmentation (30 s segments from the stream's sample
0) and its per-segment procedure (``encode_segment``), so that once a segment's audio is complete (or ``finish()``
was called) its hidden states are offline's, bit for bit; that encode is cached and never redone.

The open (incomplete) segment is encoded from the audio received so far, zero-padded to 30 s by the extractor like
offline's last segment. Its frames differ from offline: the encoder attends over the whole segment, including the
silence that stands in for audio still to come, and the log-mel is normalised by the max of what has arrived.

Cost: every encode is a full 30 s pass (3000 mel frames, 1500 steps; 23 GFLOP for Whisper-tiny) whatever the audio
received, because the extractor pads. A ``windows()`` call that needs open-segment steps beyond its last encode
re-encodes the open segment once, so a renderer asking for every batch of 4 frames at 25 fps pays one pass per
160 ms of audio (6.25 a second), plus one final pass per completed segment it reads.

``context_s`` trades that cost for distance from offline: a provisional encode then runs the encoder on about the
last ``context_s`` seconds received (from a 20 ms step boundary, extended back to the earliest step the call asks),
as a whole number of seconds (``short_input``): earlier audio of the segment fills the length where there is some,
zeros after the received audio the rest (under a step, or up to a second in a segment's first seconds), as
offline pads its last segment. Its log-mel is of that input alone (``models.audio.encode_short``), and its steps get
the position embeddings of the segment's own steps (the state MuseTalk reads includes them; positions from 0 were
100 % off offline). Its cost grows with the context, not 30 s; its frames see less context than offline's (no audio
before the input, at most a second of silence after it, a log-mel clamped by the input's max). Complete segments
and everything after ``finish()`` keep the exact full-segment encode.
Measured (a 60 s English wav, calls at >= 4 new frames, random tiny weights, bf16): context 8 s took 3.5-11.9 s of
encodes for the 60 s (120-375 calls for 500-20 ms chunks); the provisional frames differ from offline by 10.6 %
(mean |diff| / mean |offline|; 10.7-10.8 % before the inputs were whole seconds); complete segments stay bit-exact.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import torch

from ..config import AUDIO_SAMPLE_RATE, FPS
from ..models.audio import (
    PAD_LEFT,
    WHISPER_STEPS_PER_SECOND,
    WINDOW_STEPS,
    Rate,
    encode_segment,
    encode_short,
    frame_count,
    hidden_steps,
    segment_samples,
    window_starts,
)

SEGMENT_STEPS = segment_samples(AUDIO_SAMPLE_RATE) * WHISPER_STEPS_PER_SECOND // AUDIO_SAMPLE_RATE  # 1500
STEP_SAMPLES = AUDIO_SAMPLE_RATE // WHISPER_STEPS_PER_SECOND  # 320: a short encode starts on this grid
SHORT_BUCKET = AUDIO_SAMPLE_RATE  # a short encode's input is a whole number of seconds (see short_input)


def short_input(have: int, context: int, lo: int) -> tuple[int, int]:
    """A provisional encode of an open segment holding ``have`` samples -> (first step, input samples): its input
    starts at sample ``first * 320`` of the segment (on the step grid, so its step k is the segment's step
    first + k), reaches ``context`` samples back from ``have`` (less under a step) and back to step ``lo``, and is
    a whole number of ``SHORT_BUCKET`` samples long. Audio before it fills the length where the segment has it;
    zeros after ``have`` fill the rest (under one step, except near the segment's start), as offline pads its last
    segment.

    Why whole buckets: the CPU's bf16 matmuls (oneDNN, and ideep's cache above it) keep compiled kernels per input
    shape, and an input length per audio length made a new shape at almost every encode: the heap in use grew by
    130-220 MB in 5 minutes of stream until the caches filled. At 8 s of context buckets leave 8 shapes (30 at
    most), all met in the first segment."""
    first = max(0, min(lo, -(-(have - context) // STEP_SAMPLES)))
    length = -(-(have - first * STEP_SAMPLES) // SHORT_BUCKET) * SHORT_BUCKET
    first = max(0, -(-(have - length) // STEP_SAMPLES))  # real audio for the length where there is some
    segment = segment_samples(AUDIO_SAMPLE_RATE)
    if first * STEP_SAMPLES + length > segment:  # within a step of the segment's end: start earlier instead
        first = (segment - length) // STEP_SAMPLES
    return first, length


def received_steps(n_samples: int) -> int:
    """Whisper steps whose 20 ms of audio are all in ``n_samples``, in integers. Offline's ``hidden_steps`` floors
    in floats and keeps one step fewer at some lengths (57 for 18560 samples): that rule decides the right pad
    once the audio is complete, but used before it, it would hold a frame back 20 ms for no missing audio."""
    return n_samples * WHISPER_STEPS_PER_SECOND // AUDIO_SAMPLE_RATE


class StreamingWindows:
    """Whisper windows of audio that arrives in chunks: the same 5 hidden states, window rule and padding as
    models.audio (offline), computed on demand.

    ``push`` / ``finish`` may run on another thread than ``windows``: the encode runs outside the lock that
    guards the audio, so a slow encode never blocks the audio feed.
    """

    def __init__(self, encoder, extractor, fps: Rate = FPS, context_s: float | None = None) -> None:
        """context_s: None, every encode of the open segment is the full 30 s pass; else a provisional encode
        runs the encoder on only the last ``context_s`` seconds of received audio (extended back to the earliest
        step the call asks), unpadded. Complete segments and everything after ``finish()`` stay exact."""
        if context_s is not None and not context_s > 0:
            raise ValueError(f"context_s must be > 0 seconds or None, got {context_s}")
        self.encoder = encoder
        self.extractor = extractor
        self.fps = fps
        self.context_s = context_s
        self._context = None if context_s is None else max(round(context_s * AUDIO_SAMPLE_RATE), STEP_SAMPLES)
        self.encode_seconds = 0.0  # wall time of all encodes (CUDA synchronised, so it is the real cost)
        self.encode_calls = 0
        self.short_seconds = 0.0  # the part of the above spent in short (context_s) encodes
        self.short_calls = 0
        self._seg = segment_samples(AUDIO_SAMPLE_RATE)
        self._buffers: list[np.ndarray | None] = []  # per segment, (30 s,) float32; None once encoded final
        # segment -> (samples it was encoded from, first step, states of steps first.., full 30 s procedure)
        self._hidden: dict[int, tuple[int, int, torch.Tensor, bool]] = {}
        self._n = 0
        self._finished = False
        self._forgotten = 0  # segments below this were released
        self._starts = np.zeros(0, np.int64)
        self._lock = threading.Lock()  # audio and cache state
        self._encoding = threading.Lock()  # one windows() at a time

    # ------------------------------------------------------------------ audio in

    def push(self, pcm: np.ndarray) -> None:
        """Append pcm: (n,) float32 mono 16 kHz, any n >= 0."""
        pcm = np.asarray(pcm, dtype=np.float32)
        if pcm.ndim != 1:
            raise ValueError(f"push() takes mono samples of shape (n,), got {pcm.shape}")
        with self._lock:
            if self._finished:
                raise RuntimeError("push() after finish(): the audio was declared complete")
            at = 0
            while at < len(pcm):
                seg, offset = divmod(self._n, self._seg)
                if seg == len(self._buffers):
                    self._buffers.append(np.zeros(self._seg, np.float32))
                take = min(len(pcm) - at, self._seg - offset)
                # Samples below _n are never written again, so an encode may read them without the lock.
                self._buffers[seg][offset : offset + take] = pcm[at : at + take]
                self._n += take
                at += take

    def finish(self) -> None:
        """The audio is complete: the last frames get their right pad, the last segment becomes final."""
        with self._lock:
            self._finished = True

    @property
    def n_samples(self) -> int:
        return self._n

    @property
    def available(self) -> int:
        """Frames whose whole window is covered by received audio (frame i reads real steps through
        floor(i * 50 / fps) + 5, i.e. through the end of frame i + 2 at 25 fps); after ``finish()``,
        ``frame_count(n_samples, fps)`` exactly as offline."""
        with self._lock:
            n, finished = self._n, self._finished
        total = frame_count(n, self.fps)
        if finished:
            return total
        # The last padded index of frame i's window, starts[i] + 9, is real step starts[i] + 5: it must be < steps.
        last_start = received_steps(n) + PAD_LEFT - WINDOW_STEPS
        return int(np.searchsorted(self._window_starts(total), last_start, side="right"))

    # ------------------------------------------------------------------ windows out

    def windows(self, frames: Sequence[int] | range) -> torch.Tensor:
        """-> (k, 50, 384) float32 on the encoder's device, no PE. Every frame must be < ``available`` (and not
        released by ``forget``); encodes what it needs: a completed segment once ever, the open one at most once."""
        frames = np.asarray(list(frames) if not isinstance(frames, np.ndarray) else frames, dtype=np.int64)
        available = self.available
        layers, width = self.encoder.config.encoder_layers + 1, self.encoder.config.d_model  # 5 states of 384
        with self._encoding:
            if len(frames) == 0:
                return torch.zeros(0, WINDOW_STEPS * layers, width, device=self._device())
            if frames.min() < 0 or frames.max() >= available:
                raise IndexError(f"frames {frames.min()}..{frames.max()} asked, {available} available")
            # Padded index p holds real step p - PAD_LEFT; steps past the received audio read as zeros, which
            # only happens after finish() (the right pad), as offline's clamp onto its zero padding.
            real = self._window_starts(int(frames.max()) + 1)[frames][:, None] + np.arange(WINDOW_STEPS) - PAD_LEFT
            with self._lock:
                n, finished = self._n, self._finished
            steps = hidden_steps(n) if finished else received_steps(n)
            valid = (real >= 0) & (real < steps)
            segs = np.unique(real[valid] // SEGMENT_STEPS)
            if len(segs) and segs[0] < self._forgotten:
                raise IndexError(f"frames from segment {int(segs[0])} were released by forget()")
            parts = {}
            for s in segs:
                asked = real[valid & (real // SEGMENT_STEPS == s)] - s * SEGMENT_STEPS
                parts[int(s)] = self._segment(int(s), int(asked.min()), int(asked.max()))
            device = self._device()
            out = torch.zeros(real.size, layers, width, device=device)
            for seg, (first, hidden) in parts.items():
                mask = valid & (real // SEGMENT_STEPS == seg)
                rows = torch.as_tensor(np.nonzero(mask.ravel())[0], device=device)
                steps_in_seg = torch.as_tensor(real[mask] - seg * SEGMENT_STEPS - first, device=device)
                out[rows] = hidden[steps_in_seg].float()
            return out.reshape(len(frames), WINDOW_STEPS * layers, width)

    def forget(self, before_frame: int) -> None:
        """Release the audio and hidden states of segments that only frames < ``before_frame`` read (a live
        stream would otherwise keep 11.5 MB of float32 states per 30 s); windows() of those frames then raise."""
        if before_frame <= 0:
            return
        first_step = int(self._window_starts(before_frame + 1)[before_frame]) - PAD_LEFT
        keep_from = max(first_step, 0) // SEGMENT_STEPS
        with self._lock:
            for seg in range(self._forgotten, min(keep_from, len(self._buffers))):
                self._buffers[seg] = None
                self._hidden.pop(seg, None)
            self._forgotten = max(self._forgotten, keep_from)

    # ------------------------------------------------------------------ internals

    def _segment(self, seg: int, lo: int, hi: int) -> tuple[int, torch.Tensor]:
        """-> (first, states): states[k] (encoder dtype) is step first + k of segment ``seg``, good for its steps
        lo..hi: the final encode once the segment is complete, else an open-segment encode made with audio through
        ``hi`` (the full 30 s pass, or with ``context_s`` a short one from at most step ``lo``)."""
        with self._lock:
            n, finished = self._n, self._finished
            have = min(n - seg * self._seg, self._seg)
            final = have == self._seg or finished
            buffer = self._buffers[seg]
            cached = self._hidden.get(seg)
        if cached is not None:
            used, first, hidden, full = cached
            if full and used == have:  # the full procedure on exactly the audio there is: final if the segment is
                return first, hidden
            if not final and first <= lo and seg * SEGMENT_STEPS + hi < received_steps(seg * self._seg + used):
                return first, hidden  # an open-segment encode that already covers the steps asked
        assert buffer is not None  # its final states are cached before the buffer goes
        if final or self._context is None:
            first, full = 0, True
            hidden = self._encode(buffer[:have])
        else:
            first, length = short_input(have, self._context, lo)
            full = False
            chunk = np.zeros(length, np.float32)  # not the buffer past ``have``: push() may be writing there
            chunk[: have - first * STEP_SAMPLES] = buffer[first * STEP_SAMPLES : have]
            hidden = self._encode(chunk, first)
        with self._lock:
            self._hidden[seg] = (have, first, hidden, full)
            if final:
                self._buffers[seg] = None  # never encoded again
        return first, hidden

    @torch.inference_mode()
    def _encode(self, chunk: np.ndarray, first: int | None = None) -> torch.Tensor:
        """The full-segment encode of ``chunk`` (first None), or a short one whose steps are the segment's from
        ``first`` on (and get their position embeddings: the embedding state MuseTalk reads includes them)."""
        t0 = time.perf_counter()
        short = first is not None
        if short:
            hidden = encode_short(self.encoder, self.extractor, chunk, AUDIO_SAMPLE_RATE, first)
        else:
            hidden = encode_segment(self.encoder, self.extractor, chunk, AUDIO_SAMPLE_RATE)
        if hidden.device.type == "cuda":
            torch.cuda.synchronize(hidden.device)  # the kernels are queued: time what they cost, not the launch
        seconds = time.perf_counter() - t0
        self.encode_seconds += seconds
        self.encode_calls += 1
        if short:
            self.short_seconds += seconds
            self.short_calls += 1
        return hidden

    def _window_starts(self, n_frames: int) -> np.ndarray:
        """window_starts(n_frames, fps), from a cache grown by doubling (the rule is per frame, so prefixes
        agree): ``available`` runs after every push."""
        if len(self._starts) < n_frames:
            self._starts = window_starts(max(n_frames, 2 * len(self._starts), 1024), self.fps)
        return self._starts[:n_frames]

    def _device(self) -> torch.device:
        return next(self.encoder.parameters()).device
