"""Stream a speech file to a running MuseTalk Studio's live avatar and keep what comes back.

    python examples/live_client.py speech.wav --avatar NAME [--url ws://127.0.0.1:7860/live/ws] [--out live-out]

The audio goes out at real-time pace in 20 ms chunks, as a microphone would send it; every frame that comes back
is saved as ``live-out/000123.jpg``, its audio is collected into ``live-out/audio.wav``, and at the end
``live-out/live.mp4`` holds the frames with that audio. The protocol is in the README ("Live avatar").
"""
from __future__ import annotations

import argparse
import json
import struct
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf
from websockets.sync.client import connect

from musetalk.media import VideoWriter, load_audio

CHUNK_S = 0.02


def send_at_real_time(ws, pcm: np.ndarray, rate: int) -> None:
    """``pcm`` in 20 ms chunks on the wall clock, then ``{"end": true}``: the session ends after its last frame."""
    step = int(rate * CHUNK_S)
    t0 = time.monotonic()
    for k, i in enumerate(range(0, len(pcm), step)):
        ws.send(pcm[i:i + step].astype("<f4").tobytes())
        time.sleep(max(0.0, t0 + (k + 1) * CHUNK_S - time.monotonic()))
    ws.send(json.dumps({"end": True}))


def unpack(msg: bytes) -> tuple[dict, np.ndarray, bytes]:
    """A frame message: uint32 LE header length, JSON header, float32 LE audio, JPEG."""
    (n,) = struct.unpack_from("<I", msg, 0)
    head = json.loads(msg[4:4 + n])
    end = 4 + n + 4 * head["audio_samples"]
    return head, np.frombuffer(msg[4 + n:end], dtype="<f4"), msg[end:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("audio", help="speech to send (any format ffmpeg reads)")
    p.add_argument("--avatar", required=True, help="a prepared avatar's name")
    p.add_argument("--url", default="ws://127.0.0.1:7860/live/ws")
    p.add_argument("--out", default="live-out", help="folder for the frames, audio.wav and live.mp4")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()

    with connect(f"{args.url}?avatar={args.avatar}", max_size=None) as ws:
        hello = json.loads(ws.recv())
        if hello["type"] == "error":  # e.g. "busy: ... Try again when one ends."
            raise SystemExit(f"refused: {hello['error']}")
        print(f"live: {hello['width']}x{hello['height']} at {hello['fps']:g} fps")
        pcm = load_audio(args.audio, hello["sample_rate"])
        threading.Thread(target=send_at_real_time, args=(ws, pcm, hello["sample_rate"]), daemon=True).start()
        sound, t0, stats, kind = [], time.monotonic(), {}, None
        for msg in ws:  # until the server closes after {"type": "end"}
            if isinstance(msg, str):
                info = json.loads(msg)
                stats = info if info["type"] == "stats" else stats
                continue
            head, audio, jpeg = unpack(msg)
            (out / f"{head['index']:06d}.jpg").write_bytes(jpeg)
            sound.append(audio)
            if head["index"] % 25 == 0 or head["kind"] != kind:  # once a second, and where speech starts/stops
                late = "" if head["latency_s"] is None else f", latency {head['latency_s']:.2f} s"
                print(f"frame {head['index']:5d}  pts {head['pts']:6.2f} s  at {time.monotonic() - t0:6.2f} s  "
                      f"{head['kind']}{late}")
            kind = head["kind"]
    print(stats.get("message", "no stats"))
    sf.write(out / "audio.wav", np.concatenate(sound), hello["sample_rate"])
    with VideoWriter(out / "live.mp4", hello["width"], hello["height"], fps=hello["fps"],
                     audio_path=out / "audio.wav") as video:
        for jpg in sorted(out.glob("*.jpg")):
            video.write(cv2.imread(str(jpg)))
    print(f"wrote {video.out_path} ({len(sound)} frames)")


if __name__ == "__main__":
    main()
