"""The prepared-dataset cache: one folder of ``.npy`` arrays per clip, read memory-mapped, and a manifest.

::

    CACHE/manifest.json           what is ready (clips, frames) and what was skipped, with the reason
    CACHE/sources/NAME.json       per source video: its key and the clips cut from it (written after them)
    CACHE/clips/NAME/*.npy        frame_index (n,) int64, crops (n, 256, 256, 3) uint8 BGR, latents and masked
                                  (n, 4, 32, 32) float32, windows (n, 50, 384) float32, speech
                                  (n_frames, 4) float32 (the audio's features for the offline sync score)
    CACHE/clips/NAME/clip.json    version, key, n_frames, source; written last, so its presence marks a whole clip

``.npy`` and not safetensors or npz: ``np.load(mmap_mode="r")`` maps them, so RAM does not grow with the dataset
(pages are read when a batch touches them and the kernel may drop them again). A clip is written into a temporary
folder and renamed into place, so an interrupted preparation leaves whole clips or none.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import temp_beside, write_json_atomic
from ..errors import InputError
from .clip_features import ClipFeatures

CACHE_VERSION = 2  # 2: speech features per frame
ARRAYS = ("frame_index", "crops", "latents", "masked", "windows", "speech")
MANIFEST = "manifest.json"
CLIP_JSON = "clip.json"


def clips_dir(cache: Path) -> Path:
    return Path(cache) / "clips"


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_clip(cache: Path, clip: ClipFeatures, meta: dict[str, Any]) -> Path:
    """Write ``clip`` as CACHE/clips/NAME (replacing an older one); ``meta`` goes into its clip.json."""
    final = clips_dir(cache) / clip.name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(final)
    tmp.mkdir()
    try:
        for key in ARRAYS:
            np.save(tmp / f"{key}.npy", np.ascontiguousarray(getattr(clip, key)))
        write_json_atomic(tmp / CLIP_JSON, {"version": CACHE_VERSION, "n_frames": clip.n_frames,
                                            "rows": len(clip), **meta})
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def clip_is_ready(cache: Path, name: str, key: str) -> bool:
    meta = read_json(clips_dir(cache) / name / CLIP_JSON)
    return isinstance(meta, dict) and meta.get("version") == CACHE_VERSION and meta.get("key") == key


def open_clip(cache: Path, name: str) -> ClipFeatures:
    """The clip's arrays, memory-mapped read-only (InputError when the folder is not a whole clip)."""
    folder = clips_dir(cache) / name
    meta = read_json(folder / CLIP_JSON)
    if not isinstance(meta, dict) or meta.get("version") != CACHE_VERSION:
        raise InputError(f"{folder} is not a prepared clip of this version.",
                         "Run `python -m musetalk dataset prepare` again on the data.")
    arrays = {key: np.load(folder / f"{key}.npy", mmap_mode="r") for key in ARRAYS}
    return ClipFeatures(name=name, n_frames=int(meta["n_frames"]), **arrays)


def write_manifest(cache: Path, clips: list[dict[str, Any]], skipped: list[dict[str, str]],
                   settings: dict[str, Any]) -> Path:
    path = Path(cache) / MANIFEST
    write_json_atomic(path, {"version": CACHE_VERSION, "settings": settings,
                             "clips": sorted(clips, key=lambda c: c["name"]),
                             "skipped": sorted(skipped, key=lambda s: s["source"])})
    return path


def read_manifest(cache: Path) -> dict[str, Any]:
    manifest = read_json(Path(cache) / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("version") != CACHE_VERSION:
        raise InputError(f"{cache} holds no prepared dataset of this version (no valid {MANIFEST}).",
                         "Prepare it with `python -m musetalk dataset prepare DATA --out CACHE`.")
    return manifest


def is_prepared(path: Path) -> bool:
    return (Path(path) / MANIFEST).is_file()
