"""The live engine: a prepared avatar plus a stream of audio chunks -> timestamped frames at the avatar's fps.

Three threads meet at one condition variable:

    push() (any thread)  : places audio on the timeline (``timeline.py``), bounded by ``max_pending_s``
    render thread        : picks batches of speech slots whose windows are available, renders them through the
                           same core as offline (``FaceRenderer.render`` + ``paste_back``), keeps them by slot
    output thread        : emits slot n at start + n / fps (paced) or as soon as it is ready (unpaced) into a
                           bounded queue that ``frames()`` reads

Slot n always shows source frame ``pingpong(n, len(store))``, so idle -> speech -> idle never jumps in the loop.
Paced, when rendering is slower than real time, the renderer keeps ahead of the clock by its measured batch time
and renders one speech slot in each cell of k slots (stride k, ``cells.py``); the cell's other slots show that
render ("held"), so each picture is shown round its own slot and the sync error never grows. A paced batch spans
at most ``batch_span_s`` of audio (fewer frames at a larger stride): its first frame waits for its last frame's
audio, so the span is latency.
"""
from __future__ import annotations

import collections
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .. import profiling
from ..config import AUDIO_SAMPLE_RATE
from ..errors import InputError
from ..face import paste_back
from ..profiling import stage
from ..priority import lower_this_thread
from ..sources import pingpong
from .cells import plan_cells
from .timeline import Rate, Utterance

_POLL_S = 0.02  # how often a waiting thread looks at the clock and the stop flag
_EMA = 0.3  # weight of the newest batch in the render-time estimates
# Render every k-th slot with k from the measured cost times this (blend, jitter, other work). At 1.1 a full-size
# renderer ran back to back (render times vary by 15%), its lead on the clock eroded and held slots showed old
# renders; at 1.3 it idles about a second between renders.
_HEADROOM = 1.3
_LOOKAHEAD = 3  # slots of audio a window needs from its own slot's start (it reaches 2 frames ahead)
# An utterance's delay is fixed when it starts, from the estimates of then (the warm-up's, for a stream's first);
# in the stream the renders ran 1.3-1.44x the warm-up's time (full size: 2.86 s warm-up, 3.2-4.1 s a frame, the
# output, the writer and the consumer sharing the two cores), and the stride grew with them (93 -> 125). The batch
# time and the half-stride lead in the delay get this. At 1.3 for the batch time alone the renders came 1.6-2.5 s
# before their slots where half a stride was 2.5 s, and the pictures ran 12 frames late; at 1.3 for both, up to 5.
_DELAY_HEADROOM = 1.5
_WARM_UP_S = 2.0  # the warm-up repeats renders for a steadier estimate while it has taken less than this
_END = object()


@dataclass
class LiveConfig:
    batch_size: int = 4
    pace: bool = True  # frames leave on the real-time clock; False: render every frame as fast as possible
    # Paced, a batch spans at most this much audio (its first frame waits for the last one's): at stride k it
    # holds 1 + span // k frames. Tiny weights on the 2-core CPU (bench --only live, 20/100/500 ms chunks, before
    # the half-stride lead and the delay headroom): the whole batch_size (4) put the latency 0.55-0.85 s above one
    # render; 0.2 s, 0.37-0.51 s; 0.16 s, 0.15-0.35 s at a larger stride (7-10 instead of 5). With both and the
    # stride headroom of 1.3, 0.16 s gave 0.43-0.50 s in bf16 (0.42-0.58 s in fp32); 0.12 s gave 0.25-0.44 s but
    # strides of 7-12 and a middle third 2 frames behind. With the stream-like warm-up and the delay headroom of
    # 1.5 on the lead too, 0.16 s gives 0.26-0.35 s.
    batch_span_s: float = 0.16
    idle_below_db: float | None = -50.0  # quieter slots (dBFS RMS, with hangover) show the idle frame; None: all
    # Audio received but not yet shown; more -> push() raises LiveOverflow. The bound is at least twice the
    # current delay, so that the delay a slow renderer needs never makes a real-time sender overflow.
    max_pending_s: float = 10.0
    out_frames: int = 50  # bounded output queue (and how far ahead of the output the renderer may go)
    drop_after_s: float = 5.0  # a consumer that takes no frame for this long is dropped
    # Provisional Whisper encodes of the still-open 30 s segment see only the last this-many seconds: each batch
    # otherwise pays a full 30 s pass (23 GFLOP), which alone kept a CPU below real time. None: the full pass
    # (closer to offline windows). Complete segments are always encoded exactly (see features.py).
    whisper_context_s: float | None = 8.0


@dataclass
class LiveFrame:
    index: int  # slot on the output timeline (0 = session start), at the avatar's fps
    pts: float  # index / fps, seconds
    image: np.ndarray  # (H, W, 3) uint8 BGR, full frame; read-only when it is a rendered frame (held ones share it)
    audio: np.ndarray  # (samples of this slot,) float32 16 kHz: the audio this frame shows (zeros without speech)
    kind: str  # "speech" (its own render) | "held" (its cell's render, else the nearest) | "idle" (the raw frame)
    latency_s: float | None = None  # first frame of a pushed chunk: wall time from that push to this frame leaving
    utterance: int | None = None  # which utterance's audio this slot plays (None: no audio)
    shows: int | None = None  # the slot whose render the image is (index for speech, another for held)


@dataclass
class LiveStats:
    render_fps: float  # rendered frames per second of render-thread busy time (Whisper + UNet + VAE + blend)
    latency_median_s: float | None
    latency_p95_s: float | None
    frames_rendered: int  # frames that left showing their own render
    frames_held: int
    frames_idle: int
    below_real_time: bool
    fps: float = 25.0
    stride: int = 1  # the largest stride used (render every k-th speech slot)
    utterances: int = 0  # > 1 for one stream: audio came late (an underrun) and speech restarted
    render_batch_s: float = 0.0  # the current estimate of one batch's render time
    frames_skipped: int = 0  # paced: slots a consumer (or this process, starved) more than out_frames behind lost

    def message(self) -> str:
        if self.below_real_time and self.stride > 1:
            return (f"rendering at {self.render_fps:.1f} fps, below real time: frames are held to keep the lips "
                    f"in sync")
        if self.below_real_time:
            return f"rendering at {self.render_fps:.1f} fps, below real time ({self.fps:g} fps)"
        return f"real time (rendering at {self.render_fps:.1f} fps for {self.fps:g})"


class LiveOverflow(InputError):
    """More audio is waiting to be shown than ``max_pending_s``: the sender runs ahead of real time."""


class LiveDropped(Exception):
    """The consumer stopped taking frames for ``drop_after_s``; the session closed itself."""


class _Stopped(Exception):
    pass


class LiveSession:
    """One live stream of a prepared avatar. ``push`` audio from any thread, read ``frames()`` from one."""

    def __init__(self, avatar, cfg: LiveConfig | None = None, clock: Callable[[], float] = time.monotonic, *,
                 windows_factory: Callable[[], object] | None = None) -> None:
        """windows_factory: makes the Whisper windows of one utterance (default ``StreamingWindows``; tests
        pass a stand-in)."""
        self.avatar = avatar
        self.cfg = cfg = cfg or LiveConfig()
        self.clock = clock
        self.rate = Rate(avatar.fps)
        m = avatar.pipeline.models
        if windows_factory is None:
            from .features import StreamingWindows

            def windows_factory() -> object:
                return StreamingWindows(m.whisper, m.feature_extractor, avatar.fps, self.cfg.whisper_context_s)

        self._make_windows = windows_factory
        self._renderer = avatar.pipeline.renderer
        self._store = avatar.store
        self._faces = avatar.store.faces
        self._n_src = len(avatar.store)
        self._latents = avatar.latents.to(device=m.device, dtype=m.dtype)
        self._batch = max(int(cfg.batch_size), 1)
        self._times = profiling.current()
        self._cond = threading.Condition()
        self._utts: list[Utterance] = []
        self._uids = 0
        self._rendered: dict[int, np.ndarray] = {}
        self._cells: collections.deque[tuple[int, int, int]] = collections.deque()  # paced: (first, stop, render)
        self._out_slot = 0  # the next slot the output thread emits
        self._ended = self._closed = self._dropped = False
        self._error: BaseException | None = None
        self._stride = self._max_stride = 1
        self._renders, self._render_busy = 0, 0.0
        self._counts = {"speech": 0, "held": 0, "idle": 0}
        self._skipped = 0
        self._chunk_push: dict[int, float] = {}  # slot -> push time of the first chunk starting there
        self._latencies: collections.deque[float] = collections.deque(maxlen=100_000)
        self._out: queue.Queue = queue.Queue(maxsize=max(int(cfg.out_frames), 1))
        self._warm_up()
        self._start = self._last_take = clock()
        self._threads = [threading.Thread(target=self._guard, args=(fn,), name=f"musetalk-live-{name}", daemon=True)
                         for fn, name in ((self._render_loop, "render"), (self._output_loop, "output"))]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ public

    def push(self, pcm: np.ndarray) -> None:
        """Append audio: (n,) float 16 kHz mono, any n. Thread-safe."""
        pcm = np.asarray(pcm)
        if pcm.ndim != 1 or not np.issubdtype(pcm.dtype, np.floating):
            raise InputError(f"Live audio must be mono float samples of shape (n,), got {pcm.dtype} {pcm.shape}.")
        pcm = np.array(pcm, np.float32)  # our own copy: the caller may reuse its buffer
        if not np.isfinite(pcm).all():
            raise InputError("Live audio contains NaN or infinite samples.")
        with self._cond:
            self._raise_if_failed()
            if self._closed:
                raise InputError("Audio was pushed to a closed live session.")
            if self._ended:
                raise InputError("Audio was pushed after end() on a live session.")
            if len(pcm) == 0:
                return
            pending = sum(u.pending_samples(self._out_slot) for u in self._utts) + len(pcm)
            bound = max(self.cfg.max_pending_s, 2 * self._delay_s())
            if pending > bound * AUDIO_SAMPLE_RATE:
                raise LiveOverflow(f"The live session has {pending / AUDIO_SAMPLE_RATE:.1f} s of audio waiting to be "
                                   f"shown, more than {bound:g} s.", "Send audio at real-time pace.")
            now = self.clock()
            u = self._utts[-1] if self._utts else None
            if u is None or (self.cfg.pace and (u.ended or u.end_slot < self._out_slot)):
                u = self._new_utterance(u, now)
            self._chunk_push.setdefault(u.end_slot, now)  # the slot that shows this chunk's first sample
            u.push(pcm)
            self._cond.notify_all()

    def end(self) -> None:
        """No more audio: frames() stops after the last whole frame of audio."""
        with self._cond:
            self._ended = True
            if self._utts:
                self._utts[-1].finish()
            self._cond.notify_all()

    def frames(self) -> Iterator[LiveFrame]:
        """The frames, in slot order (one consumer). Raises LiveDropped after a drop, or a render error."""
        while True:
            self._raise_if_failed()
            try:
                item = self._out.get(timeout=_POLL_S)
            except queue.Empty:
                if self._closed:
                    self._raise_if_failed()
                    return
                continue
            self._last_take = self.clock()
            if item is _END:
                return
            with self._cond:
                pushed = self._chunk_push.pop(item.index, None)
                for s in [s for s in self._chunk_push if s < item.index]:
                    del self._chunk_push[s]
            if pushed is not None:
                item.latency_s = self._last_take - pushed
                self._latencies.append(item.latency_s)
            yield item

    def stats(self) -> LiveStats:
        with self._cond:
            lat = np.array(self._latencies) if self._latencies else None
            render_fps = self._renders / self._render_busy if self._render_busy > 0 else 0.0
            fps = float(self.rate.fps)
            below = self._uids > 0 and render_fps < fps  # nothing rendered with speech pushed is below too
            return LiveStats(
                render_fps=render_fps,
                latency_median_s=None if lat is None else float(np.median(lat)),
                latency_p95_s=None if lat is None else float(np.percentile(lat, 95)),
                frames_rendered=self._counts["speech"], frames_held=self._counts["held"],
                frames_idle=self._counts["idle"], below_real_time=below, fps=fps, stride=self._max_stride,
                utterances=self._uids, render_batch_s=self._batch_s, frames_skipped=self._skipped)

    def close(self) -> None:
        """Stop and join the threads (the renderer first finishes the batch it is on). Idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ placement

    def _new_utterance(self, last: Utterance | None, now: float) -> Utterance:
        """A new utterance: at slot 0 unpaced; paced, as soon as its first batch can be ready."""
        if last is not None:
            last.finish()
        if not self.cfg.pace:
            first = 0
        else:
            first = max(self.rate.slots_for(now - self._start + self._delay_s()), self._out_slot + 1,
                        last.end_slot + 1 if last is not None else 0)
        u = Utterance(self._uids, first, self._make_windows(), self.rate)
        self._uids += 1
        self._utts.append(u)
        return u

    def _delay_s(self) -> float:
        """Paced, from a chunk's arrival to its first slot (which starts at the first slot boundary after it):
        one batch time, the slots a batch spans, half a stride and the window's look-ahead.

        Half a stride: a render is shown from its cell's first slot, half a stride before its own; without this
        lead it was not ready yet there, the past one was shown, and the video ran 1.4-2.1 frames behind the audio
        (tiny weights, fp32, stride 11, measured from the output).
        Never capped: a shorter delay than the renderer needs would leave every speech slot due before its render
        could be ready (nothing but held frames, as full-size weights on a CPU once showed)."""
        lead = math.ceil(_DELAY_HEADROOM * (self._stride // 2))  # the stride grows with the render time
        slots = (self._batch_now() - 1) * self._stride + lead + _LOOKAHEAD
        return self._batch_s * _DELAY_HEADROOM + self.rate.seconds(slots)

    def _batch_now(self) -> int:
        """Frames per batch: batch_size; paced, as many as fit ``batch_span_s`` at the current stride."""
        if not self.cfg.pace:
            return self._batch
        span = math.floor(self.cfg.batch_span_s * float(self.rate.fps) + 1e-9)
        return max(1, min(self._batch, 1 + span // self._stride))

    def _utterance_at(self, n: int) -> Utterance | None:
        for u in self._utts:
            last = u.end_slot + (0 if u.ended or u.n_samples == self.rate.boundary(u.n_frames) else 1)
            if u.first <= n < last:
                return u
        return None

    def _wanted(self, u: Utterance, f: int) -> bool:
        """Frame f of u is to be rendered: its source frame has a face and its audio is not quiet."""
        return (self._faces[pingpong(u.first + f, self._n_src)] is not None
                and not u.quiet(f, self.cfg.idle_below_db))

    # ------------------------------------------------------------------ rendering

    def _warm_up(self) -> None:
        """Render batches of silence: one-time device set-up, and the first estimates of the batch time and the
        stride, which the first utterance's delay is made of. Again when the first was slow (a cold start is) and
        at the batch the stride leaves (``_batch_now``); there, up to three renders within ``_WARM_UP_S`` give the
        median (one render's time varied by 1.6x with tiny weights, and the first delay with it, 0.55-0.77 s)."""
        # Slots after a stream's worth of Whisper context, in audio that is still open: the encode is then the
        # one a stream pays (a short one over whisper_context_s). A finished utterance pays the full 30 s pass,
        # and with tiny weights that made the warm-up 0.27-0.36 s a frame against 0.19 s in the stream.
        base = self.rate.slots_for(self.cfg.whisper_context_s or 0.0)
        # A stream's largest Whisper call is a segment's final encode, a full 30 s pass. One here, untimed, takes the
        # memory it needs before the stream starts: met 30 s into a stream, it was the one step in its RSS (+31 MB,
        # tiny weights, bf16), flat before and after.
        final = self._make_windows()
        final.push(np.zeros(self.rate.boundary(_LOOKAHEAD), np.float32))
        final.finish()
        final.windows([0])
        faces = [s for s in range(base, base + 2 * self._n_src) if self._faces[pingpong(s, self._n_src)] is not None]
        n, times, spent = self._batch, [], 0.0
        for i in range(6):
            slots = (faces * n)[:n]
            u = Utterance(-1, 0, self._make_windows(), self.rate)  # a new one each time: Whisper runs again
            u.push(np.zeros(self.rate.boundary(max(slots) + _LOOKAHEAD), np.float32))
            t0 = self.clock()
            self._render_slots(u, slots)
            dt = self.clock() - t0
            spent += dt
            times.append(dt)
            self._batch_s = float(np.median(times))
            self._frame_s = self._batch_s / n
            self._learn(0.0, 0)  # the stride from this estimate
            cold = i == 0 and dt > self.rate.seconds(n)
            if cold or self._batch_now() != n:
                n, times = self._batch_now(), []
            elif len(times) >= 3 or spent > _WARM_UP_S:
                break

    def _render_slots(self, u: Utterance, slots: list[int]) -> list[np.ndarray]:
        """Full frames for ``slots`` of ``u``: its windows, the cached latents, the offline renderer, paste-back."""
        windows = u.windows.windows([s - u.first for s in slots])
        src = [pingpong(s, self._n_src) for s in slots]
        faces = self._renderer.render(self._latents[src], windows)
        out = []
        for k, i in enumerate(src):
            face = self._faces[i]
            with stage("blend"):
                image = paste_back(self._store.frame(i), faces[k], face.box, face.mask(self.avatar.face_cfg))
            image.flags.writeable = False
            out.append(image)
        return out

    def _render_loop(self) -> None:
        # Live, the threads on the clock (output, the consumer, the web sender) must get a core the moment a slot
        # is due, and they need little of it; the renderer is the one allowed to lag (it strides). Its OpenMP
        # workers are started by this thread and inherit the lower priority. See priority.py.
        lower_this_thread()
        while True:
            with self._cond:
                while (job := self._pick()) is None:
                    if self._closed:
                        return
                    self._cond.wait(_POLL_S)
            u, slots = job
            t0 = self.clock()
            images = self._render_slots(u, slots)
            dt = self.clock() - t0
            with self._cond:
                self._rendered.update(zip(slots, images))
                self._learn(dt, len(slots))
                self._cond.notify_all()

    def _learn(self, dt: float, n: int) -> None:
        if n:
            self._renders += n
            self._render_busy += dt
            self._batch_s = (1 - _EMA) * self._batch_s + _EMA * dt
            # Part batches count too. A part batch costs nearly a full one (one Whisper pass), but when the
            # audio's arrival leaves the renderer only part batches, the stride must keep up at those: learnt
            # from full batches alone, it came out too small and whole stretches of slots missed their render.
            self._frame_s = (1 - _EMA) * self._frame_s + _EMA * dt / n
        if self.cfg.pace:
            self._stride = max(1, math.ceil(self._frame_s * float(self.rate.fps) * _HEADROOM))
            self._max_stride = max(self._max_stride, self._stride)

    def _pick(self) -> tuple[Utterance, list[int]] | None:
        return self._pick_paced() if self.cfg.pace else self._pick_all()

    def _pick_all(self) -> tuple[Utterance, list[int]] | None:
        """Unpaced: the next block of batch_size frames (as offline batches them), once all of it is available."""
        limit = self._out_slot + self.cfg.out_frames
        for u in self._utts:
            available = u.windows.available
            while (nxt := u.next_block) < u.n_frames:
                stop = nxt + self._batch if not u.ended else min(nxt + self._batch, u.n_frames)
                if stop > available or u.first + nxt >= limit:
                    return None
                u.next_block = stop
                want = [u.first + f for f in range(nxt, stop) if self._wanted(u, f)]
                if want:
                    return u, want
        return None

    def _pick_paced(self) -> tuple[Utterance, list[int]] | None:
        """Paced: up to batch_size speech slots, one per stride cell (``cells.py``), that can be ready in time."""
        now = self.clock()
        earliest = max(self._out_slot, self.rate.slot_at(now - self._start + self._batch_s) + 1)
        k, batch = self._stride, self._batch_now()
        # Renders wait at most out_frames slots beyond the first useful one, the batch's span and one stride (a
        # render serves its cell from half a stride before its own slot: the delay gives it that lead, and capped
        # tighter, full-size renders started late and the video showed the previous one for 20 slots).
        limit = earliest + self.cfg.out_frames + batch * k
        for u in self._utts:
            lo, hi = max(u.first, earliest) - u.first, min(u.first + u.windows.available, limit) - u.first
            plan = plan_cells(u.next_cell, k, lo, hi, batch,
                              lambda f, u=u: u.first + f not in self._rendered and self._wanted(u, f),
                              u.n_frames if u.ended else None)
            if not plan.frames:
                u.next_cell = plan.next_first  # the cells before it are past or have nothing to render
                continue
            slots = [u.first + f for f in plan.frames]
            slack = self._start + self.rate.seconds(slots[0]) - now - self._batch_s
            if len(slots) < batch and not plan.decided and slack > self.rate.seconds(2):
                return None  # time to spare: let the batch fill (one Whisper pass and one UNet call for more)
            u.next_cell = plan.next_first
            self._cells.extend((u.first + c.first, u.first + c.stop, u.first + c.frame) for c in plan.cells)
            return u, slots
        return None

    # ------------------------------------------------------------------ output

    def _output_loop(self) -> None:
        n = 0
        while True:
            with self._cond:
                if self.cfg.pace:  # starved of CPU: never more than out_frames behind the clock
                    behind = self.rate.slot_at(self.clock() - self._start) - n - self.cfg.out_frames
                    if behind > 0:
                        n += behind
                        self._skipped += behind
                while not self._due(n):
                    if self._closed:
                        return
                    wait = self._start + self.rate.seconds(n) - self.clock() if self.cfg.pace else _POLL_S
                    self._cond.wait(min(max(wait, 0.0), _POLL_S))
                if self._ended and n >= self._last_slot():
                    frame = _END
                else:
                    frame = self._make_frame(n)
                    self._out_slot = n + 1
                    self._release()
                    self._cond.notify_all()
            self._offer(frame)
            if frame is _END:
                return
            n += 1

    def _last_slot(self) -> int:
        return self._utts[-1].end_slot if self._utts else 0

    def _due(self, n: int) -> bool:
        """Slot n may leave: paced, its time has come; unpaced, its frame is final (or the stream is over)."""
        if self._ended and n >= self._last_slot():
            return True
        if self.cfg.pace:
            return self.clock() >= self._start + self.rate.seconds(n)
        u = self._utterance_at(n)
        if u is None or n >= u.end_slot:
            return False
        f = n - u.first
        return f < u.windows.available and (n in self._rendered or not self._wanted(u, f))

    def _make_frame(self, n: int) -> LiveFrame:
        src = pingpong(n, self._n_src)
        u = self._utterance_at(n)
        kind, shows, image = "idle", None, None
        if u is None:
            audio = np.zeros(self.rate.boundary(n + 1) - self.rate.boundary(n), np.float32)
        else:
            f = n - u.first
            audio = u.audio(f)
            if n in self._rendered:
                kind, shows, image = "speech", n, self._rendered[n]
            elif self._faces[src] is None:
                kind, shows = "speech", n  # nothing to render: the source frame as it is, as offline
            elif not (u.decided(f) and u.quiet(f, self.cfg.idle_below_db)):
                m = self._cell_render(u, n)
                if m is None:
                    m = self._nearest_rendered(u, n)
                if m is not None:
                    kind, shows, image = "held", m, self._rendered[m]
        if image is None:
            image = self._store.frame(src)
        self._counts[kind] += 1
        return LiveFrame(n, self.rate.seconds(n), image, audio, kind, None, None if u is None else u.uid, shows)

    def _cell_render(self, u: Utterance, n: int) -> int | None:
        """The render of slot n's stride cell, once it is ready."""
        for first, stop, m in reversed(self._cells):
            if first <= n < stop:
                return m if u.first <= m < u.end_slot and m in self._rendered else None
            if stop <= n:
                return None
        return None

    def _nearest_rendered(self, u: Utterance, n: int) -> int | None:
        """Unpaced; paced, where the slot's cell has no render ready: it is late, or the cell was passed over
        (too late to render) or had no frame to render when it was planned."""
        for d in range(1, 2 * self._stride + 3):
            for m in (n - d, n + d):
                if u.first <= m < u.end_slot and m in self._rendered:
                    return m
        return None

    def _release(self) -> None:
        """Forget what no later slot can show: old renders, shown audio, finished utterances."""
        keep_from = self._out_slot - 2 * self._stride - 3
        for s in [s for s in self._rendered if s < keep_from]:
            del self._rendered[s]
        while self._cells and self._cells[0][1] <= self._out_slot:
            self._cells.popleft()
        for u in self._utts:
            u.release(keep_from)
        self._utts = [u for u in self._utts if u is self._utts[-1] or u.end_slot > keep_from]

    def _offer(self, item: object) -> None:
        """Into the bounded output queue. Paced, the output stays on the clock: a consumer more than out_frames
        behind loses the oldest frames (counted as skipped). A consumer that takes nothing for drop_after_s is
        dropped."""
        while True:
            try:
                self._out.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                with self._cond:
                    if self._closed:
                        raise _Stopped from None
                    if self.clock() - self._last_take > self.cfg.drop_after_s:
                        self._dropped = self._closed = True
                        self._cond.notify_all()
                        raise _Stopped from None
                if self.cfg.pace and item is not _END:
                    try:
                        self._out.get_nowait()
                        self._skipped += 1
                    except queue.Empty:
                        pass

    # ------------------------------------------------------------------ threads

    def _guard(self, fn: Callable[[], None]) -> None:
        profiling.bind(self._times)
        try:
            fn()
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer's thread by frames() and push()
            with self._cond:
                if self._error is None:
                    self._error = exc
                self._closed = True
                self._cond.notify_all()

    def _raise_if_failed(self) -> None:
        """A thread's error, or the drop, in the caller's thread."""
        if self._error is not None:
            raise self._error
        if self._dropped:
            raise LiveDropped(f"The consumer took no frame for {self.cfg.drop_after_s:g} s; the live session "
                              f"closed itself.")
