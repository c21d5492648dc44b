"""Sampling: time-based hold-out, reference distance, consecutive frames, fixed validation pairs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from musetalk.errors import InputError
from musetalk.train.dataset import ClipDataset


def test_last_fraction_is_held_out(synthetic_clip):
    ds = ClipDataset(synthetic_clip, val_fraction=0.25)
    fi = synthetic_clip.frame_index
    assert fi[ds.val_rows].min() >= 30 and fi[ds.train_rows].max() < 30
    assert set(ds.train_rows) | set(ds.val_rows) == set(range(len(fi)))


def test_references_are_far_enough_and_from_training_frames(synthetic_clip):
    ds = ClipDataset(synthetic_clip, val_fraction=0.25, min_ref_distance=5)
    g = torch.Generator().manual_seed(0)
    fi = synthetic_clip.frame_index
    for _ in range(20):
        targets, refs = ds.sample(4, g)
        assert np.all(np.abs(fi[targets.numpy()] - fi[refs.numpy()]) >= 5)
        assert set(refs.tolist()) <= set(ds.train_rows.tolist())
        assert set(targets.tolist()) <= set(ds.train_rows.tolist())
    vt, vr = ds.val_pairs(4)
    assert len(vt) == 4 and set(vt.tolist()) <= set(ds.val_rows.tolist())
    assert np.all(np.abs(fi[vt.numpy()] - fi[vr.numpy()]) >= 5)
    assert torch.equal(torch.stack(ds.val_pairs(4)), torch.stack((vt, vr)))  # fixed across evaluations


def test_syncnet_t_samples_consecutive_frames(synthetic_clip):
    ds = ClipDataset(synthetic_clip, syncnet_t=3)
    targets, refs = ds.sample(5, torch.Generator().manual_seed(1))
    assert targets.shape == refs.shape == (15,)
    fi = synthetic_clip.frame_index[targets.numpy()].reshape(5, 3)
    assert np.all(np.diff(fi, axis=1) == 1)  # never across frame 7, which has no face


def test_batch_shapes_and_ranges(synthetic_clip):
    ds = ClipDataset(synthetic_clip)
    t, r = ds.sample(3, torch.Generator().manual_seed(0))
    b = ds.batch(t, r, torch.device("cpu"))
    assert b.inputs.shape == (3, 8, 32, 32) and b.audio.shape == (3, 50, 384)
    assert b.target_latents.shape == (3, 4, 32, 32) and b.target_images.shape == (3, 3, 256, 256)
    assert torch.equal(b.inputs[:, 4:], synthetic_clip.latents[r])
    assert b.target_images.min() >= -1 and b.target_images.max() <= 1
    # BGR crop -> RGB image: channel 0 of the image is the crop's red (last) channel.
    red = synthetic_clip.crops[int(t[0])][..., 2].astype(np.float32) / 127.5 - 1
    assert np.allclose(b.target_images[0, 0].numpy(), red, atol=1e-6)


def test_too_short_clip_is_an_input_error(synthetic_clip):
    with pytest.raises(InputError, match="consecutive"):
        ClipDataset(synthetic_clip, syncnet_t=40)
