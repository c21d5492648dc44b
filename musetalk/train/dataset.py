"""Sampling from one clip's features: target frames with their audio windows, and a reference frame far enough away.

The last ``val_fraction`` of the clip (by time) is held out. Each training sample is ``syncnet_t`` consecutive
frames (1 = single-frame sampling, as the MuseTalk v1.5 seeds); each frame gets its own reference, drawn from
the training frames at least ``min_ref_distance`` frames away.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from .clip_features import ClipFeatures


@dataclass
class Batch:
    """Model inputs and targets for N frames (N = samples x syncnet_t), on one device, float32."""

    inputs: torch.Tensor  # (N, 8, 32, 32): cat[masked latent of target, latent of reference]
    audio: torch.Tensor  # (N, 50, 384) Whisper windows without PE
    target_latents: torch.Tensor  # (N, 4, 32, 32)
    target_images: torch.Tensor  # (N, 3, 256, 256) RGB in [-1, 1]
    targets: torch.Tensor  # (N,) rows of the prepared clip
    refs: torch.Tensor  # (N,) rows of the prepared clip


class ClipDataset:
    def __init__(self, clip: ClipFeatures, val_fraction: float = 0.1, min_ref_distance: int = 5,
                 syncnet_t: int = 1, val_seed: int = 1234) -> None:
        self.clip = clip
        self.syncnet_t = syncnet_t
        cutoff = int(np.floor(clip.n_frames * (1.0 - val_fraction)))
        fi = clip.frame_index
        self.train_rows = np.flatnonzero(fi < cutoff)
        self.val_rows = np.flatnonzero(fi >= cutoff)
        if len(self.val_rows) == 0 or len(self.train_rows) == 0:
            raise InputError(
                f"The clip is too short to hold out {val_fraction:.0%} for validation "
                f"({len(clip.frame_index)} frames with a face).", "Use a longer clip (a few seconds at least).")
        # A sample starts at a training row followed by syncnet_t - 1 consecutive training frames.
        starts = [r for r in self.train_rows
                  if r + syncnet_t - 1 < len(fi) and fi[r + syncnet_t - 1] - fi[r] == syncnet_t - 1
                  and fi[r + syncnet_t - 1] < cutoff]
        if not starts:
            raise InputError(f"No run of {syncnet_t} consecutive frames with a face in the training part.",
                             "Lower --syncnet-t or use a longer clip.")
        self.starts = np.asarray(starts, dtype=np.int64)
        self._ref_candidates = self._candidates(min_ref_distance)
        # Validation is fixed: the same targets and references at every evaluation.
        g = torch.Generator().manual_seed(val_seed)
        self.val_refs = torch.as_tensor([self._pick_ref(int(r), g) for r in self.val_rows])

    def _candidates(self, min_distance: int) -> dict[int, np.ndarray]:
        """row -> training rows at least min_distance frames away (the farthest ones when none is far enough)."""
        fi = self.clip.frame_index
        train_fi = fi[self.train_rows]
        out = {}
        for row in range(len(fi)):
            dist = np.abs(train_fi - fi[row])
            ok = self.train_rows[dist >= min_distance]
            out[row] = ok if len(ok) else self.train_rows[dist == dist.max()]
        return out

    def _pick_ref(self, row: int, generator: torch.Generator) -> int:
        cands = self._ref_candidates[row]
        return int(cands[int(torch.randint(len(cands), (1,), generator=generator))])

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random (targets, refs) rows, each (batch_size * syncnet_t,); consecutive frames stay together."""
        picks = torch.randint(len(self.starts), (batch_size,), generator=generator)
        targets = [int(self.starts[p]) + k for p in picks.tolist() for k in range(self.syncnet_t)]
        refs = [self._pick_ref(t, generator) for t in targets]
        return torch.as_tensor(targets), torch.as_tensor(refs)

    def val_pairs(self, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Up to ``limit`` held-out rows, evenly spread, with their fixed references."""
        n = len(self.val_rows)
        pick = np.unique(np.linspace(0, n - 1, min(limit, n)).round().astype(np.int64))
        return torch.as_tensor(self.val_rows[pick]), self.val_refs[pick]

    def batch(self, targets: torch.Tensor, refs: torch.Tensor, device: torch.device) -> Batch:
        c = self.clip
        inputs = torch.cat([c.masked[targets], c.latents[refs]], dim=1)
        crops = torch.from_numpy(np.ascontiguousarray(c.crops[targets.numpy()][..., ::-1]))  # BGR -> RGB
        images = crops.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        return Batch(inputs.to(device), c.windows[targets].to(device), c.latents[targets].to(device),
                     images.to(device), targets, refs)
