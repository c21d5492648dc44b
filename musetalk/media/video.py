"""Streaming video reads over an ffmpeg pipe: raw BGR frames, never PNG files, never the whole clip in memory.

``iter_frames`` decodes any video (or still image) to constant-rate BGR frames (writing: ``writer.py``).
"""
from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from musetalk.config import FPS
from musetalk.errors import InputError
from musetalk.media._ffmpeg import BASE_ARGS, ISOLATE, StderrTail, ffmpeg_exe, stop_process, widen_pipe
from musetalk.media.probe import MediaInfo, probe

logger = logging.getLogger(__name__)

def _read_exact(stream: IO[bytes], n: int) -> bytearray | None:
    """Read exactly ``n`` bytes into a fresh (hence writable, not shared) buffer; None at a clean EOF.

    Raises EOFError if the stream ends part-way through the buffer.
    """
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])  # type: ignore[attr-defined]  # BufferedReader, not bare IO
        if not k:
            break
        got += k
    if got == 0:
        return None
    if got < n:
        raise EOFError(f"stream ended after {got} of {n} bytes")
    return buf


def iter_frames(path: str | os.PathLike[str] | MediaInfo, fps: int = FPS, start: int = 0) -> Iterator[np.ndarray]:
    """Iterate over the frames of a video resampled to constant ``fps``, or over a still image once.

    Each frame is a fresh, writable ``(H, W, 3) uint8`` BGR array at the display size of ``probe(path)`` (rotation
    applied). Variable-frame-rate and 30/60 fps inputs go through ffmpeg's ``fps`` filter, which drops/duplicates
    frames to the constant rate. ``start`` skips that many output frames; the skip is frame-exact (done with
    ``trim`` after the ``fps`` filter, so frame ``start`` here is frame ``start`` of a full read), at the price
    of decoding the skipped part. For a still image, ``start > 0`` yields nothing.

    The file is probed when this is called (so a bad path raises InputError here), unless ``path`` is the
    ``MediaInfo`` of an earlier probe; ffmpeg starts on the first ``next()``. The count may differ from
    ``probe(path).n_frames`` by a frame or so; consume until exhaustion.
    Closing the generator early kills and reaps ffmpeg. Raises InputError if ffmpeg fails mid-stream (with
    ffmpeg's last error line) or if not a single frame decodes.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    info = path if isinstance(path, MediaInfo) else probe(path)
    if not info.has_video:
        raise InputError(f"{info.path} has no video stream.", "Pass a video or an image of the face.")
    if info.is_image:
        if start > 0:
            return iter(())
        return _stream(info.path, info.width, info.height, ["-frames:v", "1"])
    vf = f"fps={fps}" + (f",trim=start_frame={start}" if start else "")
    return _stream(info.path, info.width, info.height, ["-vf", vf, "-fps_mode", "passthrough"], allow_empty=start > 0)


# swscale's default fast RGB<->YUV rounding shifts flat colours by up to 3 levels and tints grays green;
# untouched pixels must come back as they went in (within codec noise).
EXACT_COLOR = ["-sws_flags", "accurate_rnd+full_chroma_int"]


def _stream(path: Path, width: int, height: int, filters: list[str],
            allow_empty: bool = False) -> Iterator[np.ndarray]:
    """Run ffmpeg decoding ``path`` to bgr24 on stdout and yield ``(height, width, 3)`` frames."""
    cmd = [ffmpeg_exe(), *BASE_ARGS, "-v", "error", "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn",
           *filters, *EXACT_COLOR, "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    frame_bytes = width * height * 3
    logger.debug("ffmpeg read: %s", cmd)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=max(frame_bytes, 1 << 16), **ISOLATE)
    assert proc.stdout is not None and proc.stderr is not None
    widen_pipe(proc.stdout)
    tail = StderrTail(proc.stderr)
    count = 0
    truncated = False
    try:
        while True:
            try:
                buf = _read_exact(proc.stdout, frame_bytes)
            except EOFError:
                truncated = True
                break
            if buf is None:
                break
            count += 1
            yield np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)
        rc = proc.wait()
        tail.join()
        if rc != 0:
            raise InputError(f"ffmpeg failed while decoding {path} after {count} frames: {tail.last_line()}.",
                             "The file may be truncated or corrupt; re-export it.")
        if truncated:
            logger.warning("%s: last frame was incomplete and was dropped", path)
        if count == 0 and not allow_empty:
            raise InputError(f"No video frames could be decoded from {path} ({tail.last_line('no output')}).",
                             "The file may be truncated or corrupt; re-export it.")
        logger.debug("decoded %d frames from %s", count, path)
    finally:  # also runs on generator close() / garbage collection: never leave ffmpeg running
        stop_process(proc)
        tail.join()
