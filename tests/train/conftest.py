"""Fixtures for the trainer tests: a small synthetic prepared clip, and the real clip's crops and AE weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import CLIP, autoencoder_weights, cache_root

from musetalk.train.clip_features import ClipFeatures, encode_crops


def synthetic_crops(n: int, seed: int = 0) -> np.ndarray:
    """(n, 256, 256, 3) uint8: a smooth face-like blob whose lower half ("mouth") changes with the frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32) / 255.0
    crops = np.empty((n, 256, 256, 3), np.uint8)
    for i in range(n):
        open_ = 0.5 + 0.5 * np.sin(i / 3.0)
        mouth = np.exp(-(((xx - 0.5) / 0.15) ** 2 + ((yy - 0.75) / (0.02 + 0.06 * open_)) ** 2))
        base = np.stack([0.3 + 0.4 * yy, 0.5 - 0.2 * xx, 0.6 * np.ones_like(xx)], -1) - 0.5 * mouth[..., None]
        crops[i] = np.clip(base * 255 + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    return crops


@pytest.fixture(scope="session")
def synthetic_clip(tiny_models) -> ClipFeatures:
    """40 frames (frame 7 has no face), encoded by the tiny VAE, with random audio windows."""
    crops = synthetic_crops(40)
    keep = np.array([i for i in range(40) if i != 7])
    latents, masked = encode_crops(tiny_models, crops[keep], lambda *a: None)
    windows = torch.randn(len(keep), 50, 384, generator=torch.Generator().manual_seed(0))
    return ClipFeatures(keep.astype(np.int64), 40, crops[keep], latents, masked, windows)


@pytest.fixture(scope="session")
def clip_path(shared_data: Path) -> Path:
    return CLIP


@pytest.fixture(scope="session")
def clip_crops(clip_path: Path) -> np.ndarray:
    """Face crops of the real clip (cached across sessions like the AE weights)."""
    from musetalk.config import FaceConfig
    from musetalk.media import probe
    from musetalk.train.clip_features import track_clip_faces

    cache = cache_root() / "faces-retalking_face2"
    cache.mkdir(exist_ok=True)
    return track_clip_faces(probe(clip_path), cache, FaceConfig())[1]


@pytest.fixture(scope="session")
def ae_weights(clip_crops: np.ndarray) -> Path:
    """Tiny weights whose VAE was pre-trained as an autoencoder on the clip (built once, cached)."""
    return autoencoder_weights(clip_crops)
