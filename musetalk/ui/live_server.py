"""The live avatar over one WebSocket, ``/live/ws``: the Live tab's page script and programs use the same endpoint.

Protocol (the README's "Live avatar" section says the same for client authors):

- connect to ``/live/ws?avatar=NAME`` (optional ``&model=RUN``, default the base model);
- the server answers one JSON text message: ``{"type": "hello", "fps", "width", "height", "sample_rate": 16000,
  "samples_per_frame", "audio": "f32le", "image": "jpeg", ...}``, or ``{"type": "error", "code", "error"}`` and
  closes (``busy``: close code 1013, try again later; ``bad_request``: 1008; ``failed``: 1011);
- the client sends binary messages of mono 16 kHz PCM, float32 little-endian, any length, and optionally the text
  ``{"end": true}`` (no more audio: the session ends after the last audio frame; live clients seldom send it);
- the server sends one binary message per frame: a uint32 LE length ``n``, ``n`` bytes of JSON ``{"type":
  "frame", "index", "pts", "kind", "latency_s", "audio_samples"}``, ``audio_samples`` float32 LE (the frame's
  audio, to be played at ``pts``), then the JPEG to the end; about once a second a text ``{"type": "stats", ...}``;
  ``{"type": "warning", "code": "overflow", ...}`` when a chunk was refused; ``{"type": "end"}`` after the last
  frame of an ended session.

Each connection is one :class:`LiveSession`; at most ``limit`` run at once and one more is refused at once (never
queued). The slot is released on every exit: disconnect, error, end, or drop. Sending is bounded end to end: a
send waits while the client's socket is full, the producer waits while the small outbox is full, the engine waits
while its output queue is full, and a client that takes no frame for the session's ``drop_after_s`` (once the
socket buffers are full) is dropped, the engine's rule for its consumer applied here: the client gets ``{"type": "error", "code": "dropped"}`` if it still reads, and
the connection closes. No gradio here: this is a plain Starlette route.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..avatar_folders import list_avatars, validate_name
from ..errors import InputError, MuseTalkError
from .context import BASE_MODEL, AppContext
from .messages import for_page

log = logging.getLogger(__name__)

PATH = "/live/ws"
SAMPLE_RATE = 16000
JPEG_QUALITY = 85
QUEUE_MESSAGES = 8  # frames waiting for the socket; the engine's own bounded queue is behind them
STATS_EVERY_S = 1.0
CLOSE_BUSY, CLOSE_BAD, CLOSE_FAILED, CLOSE_DROPPED = 1013, 1008, 1011, 1008


class LiveSlots:
    """At most ``limit`` live sessions at once; ``acquire`` never waits (a full house is refused)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(int(limit), 0)
        self._lock = threading.Lock()
        self._used = 0

    def acquire(self) -> bool:
        with self._lock:
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._used = max(self._used - 1, 0)

    @property
    def in_use(self) -> int:
        with self._lock:
            return self._used


@dataclass
class Opened:
    """A started session and what the hello tells about it."""

    session: Any  # musetalk.live.LiveSession (or any object with push / end / frames / stats / close)
    width: int
    height: int
    fps: float
    samples_per_frame: int


OpenSession = Callable[[AppContext, str, str | None, Any], Opened]


def open_live_session(ctx: AppContext, name: str, model: str | None, cfg: Any = None) -> Opened:
    """Load avatar ``name`` on ``model``'s pipeline and start its live session (blocking: the models may load and
    the engine warms up). ``cfg``: a :class:`musetalk.live.LiveConfig` (default: its defaults)."""
    from ..avatar import Avatar
    from ..live import LiveSession

    avatar = Avatar.load(ctx.pipeline(model), ctx.avatars_dir / name)
    fps = float(avatar.fps)
    width, height = avatar.size
    return Opened(LiveSession(avatar, cfg), width, height, fps, int(round(SAMPLE_RATE / fps)))


def pack_frame(frame: Any) -> bytes:
    """One frame as the wire's binary message: uint32 LE header length, JSON header, float32 LE audio, JPEG."""
    ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    audio = np.ascontiguousarray(frame.audio, dtype="<f4")
    header = json.dumps({"type": "frame", "index": int(frame.index), "pts": round(float(frame.pts), 6),
                         "kind": frame.kind, "latency_s": None if frame.latency_s is None
                         else round(float(frame.latency_s), 4), "audio_samples": int(audio.size)}).encode()
    return b"".join([struct.pack("<I", len(header)), header, audio.tobytes(), jpeg.tobytes()])


def stats_message(stats: Any) -> str:
    """The session's :class:`LiveStats` as the wire's ``stats`` text message (with its one-sentence message)."""
    fields = {k: getattr(stats, k) for k in ("render_fps", "latency_median_s", "latency_p95_s", "frames_rendered",
                                             "frames_held", "frames_idle", "below_real_time")}
    for k, v in fields.items():
        if isinstance(v, float):
            fields[k] = round(v, 4)
    return json.dumps({"type": "stats", **fields, "message": stats.message()})


class LiveServer:
    """The ``/live/ws`` endpoint with its session slots; ``route()`` is what the app mounts.

    ``config``: the :class:`musetalk.live.LiveConfig` of every session (default: its defaults);
    ``open_session``: how a session starts (tests may pass their own)."""

    def __init__(self, ctx: AppContext, limit: int | None = None, config: Any = None,
                 open_session: OpenSession = open_live_session) -> None:
        self.ctx = ctx
        self.slots = LiveSlots(ctx.live_sessions if limit is None else limit)
        self.config = config
        self.open_session = open_session

    def route(self) -> WebSocketRoute:
        return WebSocketRoute(PATH, self.endpoint)

    async def endpoint(self, ws: WebSocket) -> None:
        await ws.accept()
        name, model = ws.query_params.get("avatar", ""), ws.query_params.get("model") or BASE_MODEL
        problem = self._check_avatar(name)
        if problem:
            return await _error(ws, "bad_request", problem, CLOSE_BAD)
        if not self.slots.acquire():
            n = self.slots.limit
            taken = f"the server's {n} live session is" if n == 1 else f"all {n} live sessions of the server are"
            return await _error(ws, "busy", f"busy: {taken} in use. Try again when one ends.", CLOSE_BUSY)
        opened = None
        try:
            try:
                opened = await run_in_threadpool(self.open_session, self.ctx, name, model, self.config)
            except MuseTalkError as exc:
                log.info("live: refused %r: %s", name, exc)
                return await _error(ws, "bad_request", for_page(str(exc)), CLOSE_BAD)
            log.info("live: session on %r started (%d of %d in use)", name, self.slots.in_use, self.slots.limit)
            await ws.send_text(json.dumps({
                "type": "hello", "avatar": name, "model": model, "fps": opened.fps, "width": opened.width,
                "height": opened.height, "sample_rate": SAMPLE_RATE, "samples_per_frame": opened.samples_per_frame,
                "audio": "f32le", "image": "jpeg"}))
            await self._serve(ws, opened.session)
        except (WebSocketDisconnect, ClientGone):
            pass
        except Exception as exc:  # noqa: BLE001 - one connection's bug must not take the server down
            dropped = isinstance(exc, ClientStalled) or type(exc).__name__ == "LiveDropped"
            if dropped:
                log.info("live: a client on %r stopped reading and was dropped: %s", name, exc)
            else:
                log.exception("live: unexpected error in the session on %r", name)
            text = f"dropped: {exc}" if dropped else "Something went wrong on the server; see its log."
            with contextlib.suppress(Exception):  # a client that reads nothing may never take this
                await asyncio.wait_for(_error(ws, "dropped" if dropped else "failed", text,
                                              CLOSE_DROPPED if dropped else CLOSE_FAILED), 1.0)
        finally:
            if opened is not None:
                await run_in_threadpool(_close_quietly, opened.session)
            self.slots.release()
            log.info("live: session on %r closed (%d of %d in use)", name, self.slots.in_use, self.slots.limit)

    def _check_avatar(self, name: str) -> str | None:
        if not name:
            return f"Name the avatar: {PATH}?avatar=NAME (one of the prepared avatars)."
        try:
            validate_name(name)
        except MuseTalkError as exc:
            return str(exc)
        names = list_avatars(self.ctx.avatars_dir)
        if name not in names:
            return f"There is no prepared avatar named {name!r} (prepared: {', '.join(names) or 'none yet'})."
        return None

    async def _serve(self, ws: WebSocket, session: Any) -> None:
        """Audio in and frames out until the client leaves, the session ends, or the session fails or drops."""
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[bytes | str | None] = asyncio.Queue(QUEUE_MESSAGES)
        failed: asyncio.Future[None] = loop.create_future()
        stop = threading.Event()
        producer = threading.Thread(target=_produce, args=(session, loop, outbox, failed, stop),
                                    name="live-frames", daemon=True)
        producer.start()
        tasks = [asyncio.ensure_future(self._receive(ws, session)), asyncio.ensure_future(_send(ws, outbox)),
                 failed]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the first finished one's error, if any
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _receive(self, ws: WebSocket, session: Any) -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data, text = msg.get("bytes"), msg.get("text")
            if data is not None:
                if len(data) % 4:
                    await ws.send_text(_warning("bad_audio", "Audio chunks are float32 LE: a multiple of 4 bytes."))
                    continue
                try:
                    session.push(np.frombuffer(data, dtype="<f4"))
                except InputError as exc:  # LiveOverflow (the client runs ahead of real time), NaN samples
                    code = "overflow" if type(exc).__name__ == "LiveOverflow" else "bad_audio"
                    await ws.send_text(_warning(code, str(exc)))
            elif text is not None:
                try:
                    control = json.loads(text)
                except ValueError:
                    control = None
                if isinstance(control, dict) and control.get("end"):
                    session.end()
                else:
                    await ws.send_text(_warning("bad_control", 'The only text message is {"end": true}.'))


class ClientGone(Exception):
    """The connection closed while a message was being sent."""


class ClientStalled(Exception):
    """The client read nothing for the session's ``drop_after_s`` while frames waited: it is dropped."""


async def _error(ws: WebSocket, code: str, text: str, close_code: int) -> None:
    await ws.send_text(json.dumps({"type": "error", "code": code, "error": text}))
    await ws.close(close_code, code)


def _warning(code: str, text: str) -> str:
    return json.dumps({"type": "warning", "code": code, "message": text})


async def _send(ws: WebSocket, outbox: asyncio.Queue) -> None:
    """The one writer of frames and stats. A send waits while the client's socket is full, so the queues behind
    it fill up and the engine drops a client that stops reading (its ``drop_after_s``)."""
    while True:
        item = await outbox.get()
        if item is None:  # the session ended after its last audio frame
            await ws.send_text(json.dumps({"type": "end"}))
            await ws.close(1000, "end")
            return
        try:
            await (ws.send_bytes(item) if isinstance(item, bytes) else ws.send_text(item))
        except (RuntimeError, OSError) as exc:  # closed under us (uvicorn raises ClientDisconnected, an OSError)
            raise ClientGone() from exc


def _produce(session: Any, loop: asyncio.AbstractEventLoop, outbox: asyncio.Queue, failed: asyncio.Future,
             stop: threading.Event) -> None:
    """The producer thread: the session's frames, JPEG-encoded here (off the event loop), stats once a second,
    put into ``outbox`` with back-pressure (it waits while the outbox is full); an error ends up in ``failed``."""

    drop_after_s = float(session.cfg.drop_after_s)

    def put(item: bytes | str | None) -> bool:
        fut = asyncio.run_coroutine_threadsafe(outbox.put(item), loop)
        since = time.monotonic()
        while not stop.is_set():
            try:
                fut.result(timeout=0.1)
                return True
            except concurrent.futures.TimeoutError:
                if time.monotonic() - since > drop_after_s:  # this thread is the engine's consumer: the same rule
                    fut.cancel()
                    raise ClientStalled(f"The client took no frame for {drop_after_s:g} s.") from None
        fut.cancel()
        return False

    last_stats = time.monotonic()
    try:
        for frame in session.frames():
            if not put(pack_frame(frame)):
                return
            now = time.monotonic()
            if now - last_stats >= STATS_EVERY_S:
                last_stats = now
                if not put(stats_message(session.stats())):
                    return
        if put(stats_message(session.stats())):
            put(None)
    except Exception as exc:  # noqa: BLE001 - LiveDropped or a render error: the endpoint says so and closes
        if not stop.is_set():
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is left to tell
                loop.call_soon_threadsafe(_fail, failed, exc)


def _fail(failed: asyncio.Future, exc: BaseException) -> None:
    if not failed.done():
        failed.set_exception(exc)


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except Exception:  # noqa: BLE001 - closing must not hide why the session ended
        log.exception("live: closing the session failed")
