"""Disk-backed frame store: the source frames at 25 fps, their faces and their 8-channel latents.

Avatars persist one; one-shot generation spools one in a temp folder when the video must loop. Frames are
raw uint8 read with positional reads (not mmap), so they live in the page cache, not in the process's RSS.
Caches describe themselves: ``meta.json`` holds the format version and the parameters they were built with.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .atomic import write_json_atomic

if TYPE_CHECKING:  # the face package imports cv2: reading an avatar's meta (``avatar list``) needs none of it
    from .face import TrackedFace

STORE_VERSION = 2  # 2: meta.json records the VAE weights the latents were encoded with
N_LANDMARKS = 468


@dataclass
class FrameStore:
    """Append frames in order, then read any of them by index."""

    root: Path
    width: int
    height: int
    faces: list[TrackedFace | None] = field(default_factory=list)
    _fh: Any = None

    @property
    def frames_path(self) -> Path:
        return self.root / "frames.u8"

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3

    def __len__(self) -> int:
        return len(self.faces)

    def append(self, frame_bgr: np.ndarray, face: TrackedFace | None) -> None:
        if self._fh is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.frames_path, "wb")
        self._fh.write(np.ascontiguousarray(frame_bgr).tobytes())
        self.faces.append(face)

    def finish(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def frame(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 BGR, a fresh writable array."""
        if self._fh is not None:
            self._fh.flush()
        with open(self.frames_path, "rb") as fh:
            buf = os.pread(fh.fileno(), self.frame_bytes, index * self.frame_bytes)
        if len(buf) != self.frame_bytes:
            raise IndexError(f"frame {index} is not in the store")
        return np.frombuffer(bytearray(buf), np.uint8).reshape(self.height, self.width, 3)

    # ------------------------------------------------------------------ persistence (faces + meta)

    def save_faces(self) -> None:
        n = len(self.faces)
        has = np.array([f is not None for f in self.faces], bool)
        boxes = np.zeros((n, 4), np.int32)
        points = np.zeros((n, N_LANDMARKS, 2), np.float32)
        det = np.zeros((n, 4), np.int32)
        for i, f in enumerate(self.faces):
            if f is not None:
                boxes[i], points[i], det[i] = f.box, f.landmarks.points, f.landmarks.det_box
        np.savez(self.root / "faces.npz", has_face=has, boxes=boxes, points=points, det_boxes=det)

    @classmethod
    def open(cls, root: Path, width: int, height: int) -> FrameStore:
        from .face import FaceLandmarks, TrackedFace

        data = np.load(root / "faces.npz")
        faces: list[TrackedFace | None] = []
        for has, box, pts, det in zip(data["has_face"], data["boxes"], data["points"], data["det_boxes"]):
            faces.append(TrackedFace(FaceLandmarks(pts, tuple(int(v) for v in det)), tuple(int(v) for v in box))
                         if has else None)
        store = cls(root, width, height, faces)
        expected = len(faces) * store.frame_bytes
        if not store.frames_path.is_file() or store.frames_path.stat().st_size != expected:
            raise ValueError(f"{store.frames_path} does not hold {len(faces)} frames")
        return store


def write_meta(root: Path, meta: dict[str, Any]) -> None:
    """Write meta.json last and atomically: its presence marks a complete cache."""
    write_json_atomic(root / "meta.json", {"version": STORE_VERSION, **meta})


def load_meta(root: Path) -> dict[str, Any]:
    """meta.json of a complete cache in this format version; ValueError saying what is wrong otherwise."""
    path = root / "meta.json"
    if not path.is_file():
        raise ValueError("it was not fully prepared (no meta.json)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"its meta.json is unreadable ({exc})") from exc
    if not isinstance(meta, dict):
        raise ValueError("its meta.json does not hold an object")
    if meta.get("version") != STORE_VERSION:
        raise ValueError(f"it was made by another version of this tool (cache format {meta.get('version')!r}, "
                         f"this version reads format {STORE_VERSION})")
    return meta


def read_meta(root: Path) -> dict[str, Any] | None:
    """Like ``load_meta``, but None for a missing, unfinished, damaged or other-version cache."""
    try:
        return load_meta(root)
    except ValueError:
        return None
