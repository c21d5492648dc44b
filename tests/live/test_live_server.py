"""The /live/ws endpoint on a real uvicorn server (the one gradio runs under), driven by the `websockets` client:
hello, frames in order, busy refusal, slots released on disconnect and drop, one clear error for a bad avatar,
the end of a session, and the stats."""
from __future__ import annotations

import json
import socket
import struct
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("websockets", reason="websockets is not installed (pip install websockets)")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from musetalk.ui.context import AppContext  # noqa: E402
from musetalk.ui.live_server import LiveServer  # noqa: E402

RATE, SPF = 16000, 640


class Served:
    """A LiveServer's route alone on uvicorn in a thread, on a free 127.0.0.1 port."""

    def __init__(self, server: LiveServer) -> None:
        import uvicorn
        from starlette.applications import Starlette

        self.live = server
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.uv = uvicorn.Server(uvicorn.Config(Starlette(routes=[server.route()]), host="127.0.0.1",
                                                port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.uv.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.uv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def url(self, avatar: str = "face", **query: str) -> str:
        q = "&".join(f"{k}={v}" for k, v in {"avatar": avatar, **query}.items())
        return f"ws://127.0.0.1:{self.port}/live/ws?{q}"

    def wait_free(self, timeout: float) -> float:
        """Seconds until every slot is free again."""
        t0 = time.monotonic()
        while self.live.slots.in_use:
            assert time.monotonic() - t0 < timeout, f"{self.live.slots.in_use} slot(s) still held after {timeout} s"
            time.sleep(0.05)
        return time.monotonic() - t0

    def close(self) -> None:
        self.uv.should_exit = True
        self.thread.join(timeout=10)


def unpack(msg: bytes) -> tuple[dict, np.ndarray, np.ndarray]:
    """The wire's frame message -> (header, audio float32, BGR image)."""
    (n,) = struct.unpack_from("<I", msg, 0)
    head = json.loads(msg[4:4 + n])
    end = 4 + n + 4 * head["audio_samples"]
    audio = np.frombuffer(msg[4 + n:end], dtype="<f4")
    image = cv2.imdecode(np.frombuffer(msg[end:], np.uint8), cv2.IMREAD_COLOR)
    return head, audio, image


def buzz(seconds: float) -> np.ndarray:
    """A voiced-looking signal (a 150 Hz buzz with harmonics, syllable envelope), float32 at 16 kHz."""
    t = np.arange(int(seconds * RATE)) / RATE
    buzz = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    return (0.3 * buzz * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


# ------------------------------------------------------------------ fixtures: tiny weights, one prepared avatar


@pytest.fixture(scope="module")
def ctx(tiny_weights, live_avatar_dir) -> AppContext:
    """The app's context on tiny weights, its avatars folder holding the live tests' avatar ("face", 256x256)."""
    return AppContext(weights_dir=tiny_weights, device="cpu", dtype="fp32", avatars_dir=live_avatar_dir.parent)


@pytest.fixture
def served(ctx):
    from musetalk.live import LiveConfig

    s = Served(LiveServer(ctx, limit=1, config=LiveConfig(drop_after_s=1.0)))
    yield s
    s.close()


def _hello(ws) -> dict:
    msg = json.loads(ws.recv(timeout=120))  # the first session loads the models
    assert msg["type"] == "hello", msg
    return msg


def _frames(ws, n: int, timeout: float = 60) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    out, texts = [], []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        msg = ws.recv(timeout=max(deadline - time.monotonic(), 0.1))
        if isinstance(msg, bytes):
            out.append(unpack(msg))
        else:
            texts.append(json.loads(msg))
    return out


# ------------------------------------------------------------------ tests


def test_hello_then_frames_in_order_with_their_audio(served):
    with connect(served.url(), max_size=None) as ws:
        hello = _hello(ws)
        assert hello["sample_rate"] == RATE and hello["fps"] == 25 and hello["samples_per_frame"] == SPF
        assert (hello["width"], hello["height"]) == (256, 256)
        assert hello["audio"] == "f32le" and hello["image"] == "jpeg"
        ws.send(buzz(2.0).tobytes())
        frames = _frames(ws, 30)
    heads = [h for h, _, _ in frames]
    idx = [h["index"] for h in heads]
    pts = [h["pts"] for h in heads]
    assert all(b > a for a, b in zip(idx, idx[1:])), idx  # in order (a CPU-starved engine may skip ahead)
    assert np.allclose(pts, np.array(idx) / 25, atol=1e-6), (idx, pts)
    for h, audio, image in frames:
        assert h["kind"] in ("speech", "held", "idle")
        assert audio.shape == (SPF,) and audio.dtype == np.float32
        assert image is not None and image.shape == (256, 256, 3)


def test_a_second_client_is_refused_at_once_while_one_is_live(served):
    with connect(served.url(), max_size=None) as first:
        _hello(first)
        t0 = time.monotonic()
        with connect(served.url(), max_size=None) as second:
            msg = json.loads(second.recv(timeout=10))
            with pytest.raises(ConnectionClosed) as closed:
                second.recv(timeout=10)
        took = time.monotonic() - t0
        assert msg["type"] == "error" and msg["code"] == "busy", msg
        assert msg["error"].startswith("busy:") and "Try again" in msg["error"], msg
        assert closed.value.rcvd.code == 1013
        assert took < 2.0, took  # refused, not queued
        _frames(first, 3)  # the first session is unharmed


def test_the_slot_is_released_when_the_client_disconnects(served):
    with connect(served.url(), max_size=None) as ws:
        _hello(ws)
        _frames(ws, 2)
        assert served.live.slots.in_use == 1
    assert served.wait_free(10) < 10
    with connect(served.url(), max_size=None) as again:
        _hello(again)


def test_a_client_that_stops_reading_is_dropped(served):
    """Handshake by hand with a tiny receive buffer, then never read: the server's sends stall, the queues behind
    them fill, the engine drops the client after drop_after_s (1 s here; plus the time the socket buffers take to
    fill), and the slot is free again."""
    import base64
    import os

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", served.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /live/ws?avatar=face HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b"101" in sock.recv(1024).split(b"\r\n")[0]
    try:
        deadline = time.monotonic() + 120
        while served.live.slots.in_use == 0:  # wait until the session started (models loaded)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        took = served.wait_free(60)
    finally:
        sock.close()
    assert took < 60
    with connect(served.url(), max_size=None) as ws:  # the server goes on serving
        _hello(ws)


@pytest.mark.parametrize("name, words", [("nobody", "no prepared avatar named 'nobody'"),
                                         ("../etc", "Invalid avatar name"), ("", "Name the avatar")])
def test_a_bad_avatar_gets_one_clear_error(served, name, words):
    with connect(served.url(name), max_size=None) as ws:
        msg = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert msg["type"] == "error" and msg["code"] == "bad_request" and words in msg["error"], msg
    assert closed.value.rcvd.code == 1008
    assert served.live.slots.in_use == 0


def test_end_closes_after_the_last_audio_frame_with_stats(served):
    with connect(served.url(), max_size=None) as ws:
        _hello(ws)
        ws.send(buzz(1.2).tobytes())
        ws.send(json.dumps({"end": True}))
        kinds, texts = [], []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                msg = ws.recv(timeout=60)
                if isinstance(msg, bytes):
                    kinds.append(unpack(msg)[0]["kind"])
                else:
                    texts.append(json.loads(msg))
    assert closed.value.rcvd.code == 1000
    assert texts[-1] == {"type": "end"}, texts[-3:]
    stats = [t for t in texts if t["type"] == "stats"]
    assert stats and {"render_fps", "latency_median_s", "latency_p95_s", "below_real_time",
                      "message"} <= set(stats[-1]), stats[-1]
    assert kinds, "no frames before the end"


def test_audio_that_is_not_float32_gets_a_warning_and_the_session_goes_on(served):
    with connect(served.url(), max_size=None) as ws:
        _hello(ws)
        ws.send(b"\x00\x01\x02")
        ws.send("hello?")
        warnings = []
        deadline = time.monotonic() + 30
        while len(warnings) < 2 and time.monotonic() < deadline:
            msg = ws.recv(timeout=30)
            if isinstance(msg, str) and json.loads(msg)["type"] == "warning":
                warnings.append(json.loads(msg)["code"])
        assert warnings == ["bad_audio", "bad_control"]
        _frames(ws, 2)


def test_app_args_take_the_live_session_limit():
    import importlib.util

    spec = importlib.util.spec_from_file_location("app_main", Path(__file__).resolve().parents[2] / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    assert app.parse_args([]).live_sessions == 1
    assert app.parse_args(["--live-sessions", "3"]).live_sessions == 3
