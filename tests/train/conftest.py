"""Fixtures for the trainer tests: a small synthetic prepared clip, and the real clip's crops and AE weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import CLIP, autoencoder_weights, cache_root, face_crops

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
    return synthetic_features(tiny_models, "synthetic", 40, no_face=(7,))


def synthetic_features(models, name: str, n: int, no_face: tuple[int, ...] = (), seed: int = 0) -> ClipFeatures:
    """A synthetic clip of n frames (the ``no_face`` ones left out), encoded by ``models``' VAE, random audio."""
    crops = synthetic_crops(n, seed)
    keep = np.array([i for i in range(n) if i not in no_face])
    latents, masked = encode_crops(models, crops[keep], lambda *a: None)
    windows = torch.randn(len(keep), 50, 384, generator=torch.Generator().manual_seed(seed)).numpy()
    speech = np.random.default_rng(seed).normal(-40, 10, (n, 4)).astype(np.float32)  # not a real sound
    return ClipFeatures(name, keep.astype(np.int64), n, crops[keep], latents, masked, windows, speech)


@pytest.fixture(scope="session")
def clip_path(shared_data: Path) -> Path:
    return CLIP


@pytest.fixture(scope="session")
def clip_crops(clip_path: Path) -> np.ndarray:
    """Face crops of the real clip (cached across sessions like the AE weights)."""
    return face_crops(clip_path, cache_root() / "faces-retalking_face2" / "faces.npz")


@pytest.fixture(scope="session")
def ae_weights(clip_crops: np.ndarray) -> Path:
    """Tiny weights whose VAE was pre-trained as an autoencoder on the clip (built once, cached)."""
    return autoencoder_weights(clip_crops)
