"""Sampling across clips, as the MuseTalk v1.5 seeds do: single frames from as many different clips as a batch
can hold, each with its own audio window and a reference frame of the same clip ``min_ref_distance`` frames away.

The samples of step ``s`` are a pure function of ``(seed, s)`` (``step_samples``): the global order does not
depend on how many processes share it, and a resumed run needs no sampler state, only its step. Each process
takes its shard of that global list (``trainer`` slices it by rank).

Validation is on held-out clips (``val_clips``: a count or names), never trained on and used whole; with none
held out, the last ``val_fraction`` of every clip (by time) is held out instead (the one-clip case).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from .clip_features import ClipFeatures

VAL_SEED = 1234


@dataclass(frozen=True)
class Sample:
    """syncnet_t consecutive target rows of one clip, each with its reference row (rows of ``clips[clip]``)."""

    clip: int
    targets: tuple[int, ...]
    refs: tuple[int, ...]


@dataclass
class Batch:
    """Model inputs and targets for N frames (N = samples x syncnet_t), on one device, float32."""

    inputs: torch.Tensor  # (N, 8, 32, 32): cat[masked latent of target, latent of reference]
    audio: torch.Tensor  # (N, 50, 384) Whisper windows without PE
    target_latents: torch.Tensor  # (N, 4, 32, 32)
    target_images: torch.Tensor  # (N, 3, 256, 256) RGB in [-1, 1]


@dataclass
class ValClip:
    """A held-out clip (or a clip's held-out end): fixed target rows and references, the same at every check."""

    name: str
    samples: list[Sample]


class ClipSet:
    def __init__(self, clips: list[ClipFeatures], val_clips: int | list[str] = 0, val_fraction: float = 0.1,
                 min_ref_distance: int = 5, syncnet_t: int = 1, seed: int = 0, val_frames: int = 16) -> None:
        if not clips:
            raise InputError("The dataset holds no prepared clip.")
        self.clips, self.syncnet_t, self.seed, self.d = clips, syncnet_t, seed, min_ref_distance
        held = self._held_out(val_clips)
        self.train_ids = [i for i in range(len(clips)) if i not in held]
        # Rows [0, limit) of a clip may be targets and references in training; a held-out clip gives none.
        self.limit = {i: self._limit(c, val_fraction, bool(held)) for i, c in enumerate(clips)}
        self.starts = {i: self._starts(i) for i in self.train_ids}
        self.train_ids = [i for i in self.train_ids if len(self.starts[i])]
        if not self.train_ids:
            raise InputError(f"No training clip holds a run of {syncnet_t} consecutive frames with a face.",
                             "Lower --syncnet-t, hold out fewer clips, or use longer clips.")
        self.val = [self._val_clip(i, held, val_frames) for i in (sorted(held) or range(len(clips)))]

    @property
    def n_train_frames(self) -> int:
        return sum(self.limit[i] for i in self.train_ids)

    def _held_out(self, val_clips: int | list[str]) -> set[int]:
        names = [c.name for c in self.clips]
        if isinstance(val_clips, int):
            if not 0 <= val_clips < len(names):
                raise InputError(f"--val-clips {val_clips} leaves no clip to train on ({len(names)} clips).",
                                 f"Hold out at most {len(names) - 1}.")
            order = np.random.default_rng(VAL_SEED).permutation(sorted(names))[:val_clips]
            return {names.index(n) for n in order}
        unknown = [n for n in val_clips if n not in names]
        if unknown:
            raise InputError(f"Held-out clips not in the dataset: {', '.join(unknown)}.",
                             "Name clips as the manifest does.")
        if len(set(val_clips)) >= len(names):
            raise InputError("Every clip is held out; none is left to train on.")
        return {names.index(n) for n in val_clips}

    @staticmethod
    def _limit(clip: ClipFeatures, val_fraction: float, whole_clips_held: bool) -> int:
        if whole_clips_held:
            return len(clip)
        cutoff = int(np.floor(clip.n_frames * (1.0 - val_fraction)))
        limit = int(np.searchsorted(clip.frame_index, cutoff))
        if limit == 0 or limit == len(clip):
            raise InputError(f"The clip {clip.name} is too short to hold out {val_fraction:.0%} for validation "
                             f"({len(clip)} frames with a face).", "Use a longer clip (a few seconds at least).")
        return limit

    def _starts(self, i: int) -> np.ndarray:
        """Rows that begin syncnet_t consecutive frames, all inside the clip's training rows."""
        fi, t, m = self.clips[i].frame_index, self.syncnet_t, self.limit[i]
        rows = np.arange(max(m - t + 1, 0))
        return rows[fi[rows + t - 1] - fi[rows] == t - 1]

    def _pick_ref(self, i: int, row: int, rng: np.random.Generator, pool: int) -> int:
        """A row of clip i among rows [0, pool) at least d frames from ``row`` (the farthest when none is)."""
        here = int(self.clips[i].frame_index[row])
        fi = self.clips[i].frame_index[:pool]
        lo = int(np.searchsorted(fi, here - self.d, "right"))  # rows [0, lo) lie >= d frames before
        hi = int(np.searchsorted(fi, here + self.d, "left"))  # rows [hi, pool) lie >= d frames after
        count = lo + pool - hi
        if count <= 0:
            return 0 if abs(here - fi[0]) >= abs(fi[pool - 1] - here) else pool - 1
        u = int(rng.integers(count))
        return u if u < lo else hi + (u - lo)

    def step_samples(self, step: int, n: int) -> list[Sample]:
        """The global batch of ``step``: n samples, from n different training clips when there are that many."""
        rng = np.random.default_rng([self.seed, step])
        ids = np.asarray(self.train_ids)
        order = np.concatenate([rng.permutation(ids) for _ in range(-(-n // len(ids)))])[:n]
        samples = []
        for i in order.tolist():
            first = int(self.starts[i][rng.integers(len(self.starts[i]))])
            targets = tuple(range(first, first + self.syncnet_t))
            samples.append(Sample(i, targets, tuple(self._pick_ref(i, t, rng, self.limit[i]) for t in targets)))
        return samples

    def _val_clip(self, i: int, held: set[int], limit: int) -> ValClip:
        clip = self.clips[i]
        # Held-out clips are used whole (references from anywhere in them, as inference does); otherwise the
        # clip's end is validated with references from its training rows.
        first, pool = (0, len(clip)) if i in held else (self.limit[i], self.limit[i])
        n = len(clip) - first
        rows = first + np.unique(np.linspace(0, n - 1, min(limit, n)).round().astype(np.int64))
        rng = np.random.default_rng([VAL_SEED, i])
        return ValClip(clip.name, [Sample(i, (int(r),), (self._pick_ref(i, int(r), rng, pool),)) for r in rows])

    def batch(self, samples: list[Sample], device: torch.device) -> Batch:
        masked, refs, audio, latents, crops = [], [], [], [], []
        for s in samples:
            c, t, r = self.clips[s.clip], list(s.targets), list(s.refs)
            masked.append(c.masked[t])
            refs.append(c.latents[r])
            latents.append(c.latents[t])
            audio.append(c.windows[t])
            crops.append(c.crops[t][..., ::-1])  # BGR -> RGB
        inputs = torch.from_numpy(np.concatenate([np.concatenate(masked), np.concatenate(refs)], axis=1))
        images = torch.from_numpy(np.ascontiguousarray(np.concatenate(crops))).permute(0, 3, 1, 2)
        return Batch(inputs.to(device), torch.from_numpy(np.concatenate(audio)).to(device),
                     torch.from_numpy(np.concatenate(latents)).to(device),
                     images.float().div(127.5).sub(1.0).to(device))
