"""Sampling across clips: held-out clips or clip ends, reference distance, consecutive frames, a global order
that depends only on (seed, step), batches from different clips, and memory-mapped clips."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import synthetic_features

from musetalk.errors import InputError
from musetalk.train.cache import open_clip, write_clip
from musetalk.train.dataset import ClipSet
from musetalk.train.distributed import shard


@pytest.fixture(scope="module")
def five_clips(tiny_models):
    return [synthetic_features(tiny_models, f"c{i}", 24 + 2 * i, seed=i) for i in range(5)]


def test_one_clip_holds_out_its_end(synthetic_clip):
    ds = ClipSet([synthetic_clip], val_fraction=0.25)
    fi = synthetic_clip.frame_index
    assert ds.limit[0] == int(np.searchsorted(fi, 30))
    (val,) = ds.val
    assert all(fi[s.targets[0]] >= 30 for s in val.samples)
    for step in range(1, 20):
        for s in ds.step_samples(step, 4):
            assert max(s.targets) < ds.limit[0] and max(s.refs) < ds.limit[0]


def test_references_are_far_enough(synthetic_clip, five_clips):
    for clips in ([synthetic_clip], five_clips):
        ds = ClipSet(clips, val_clips=0 if len(clips) == 1 else 2, min_ref_distance=5)
        for step in range(1, 30):
            for s in ds.step_samples(step, 4):
                fi = clips[s.clip].frame_index
                assert np.all(np.abs(fi[list(s.targets)] - fi[list(s.refs)]) >= 5)
        for vc in ds.val:
            for s in vc.samples:
                fi = clips[s.clip].frame_index
                assert abs(fi[s.targets[0]] - fi[s.refs[0]]) >= 5


def test_held_out_clips_are_never_trained_on(five_clips):
    ds = ClipSet(five_clips, val_clips=2, val_frames=4)
    held = {vc.name for vc in ds.val}
    assert len(held) == 2 and {vc.samples[0].clip for vc in ds.val} == {c for c in range(5)
                                                                        if five_clips[c].name in held}
    seen = {five_clips[s.clip].name for step in range(1, 50) for s in ds.step_samples(step, 3)}
    assert seen == {c.name for c in five_clips} - held
    assert [vc.samples for vc in ClipSet(five_clips, val_clips=2, val_frames=4).val] == [
        vc.samples for vc in ds.val]  # the same held-out clips, targets and references at every build
    named = ClipSet(five_clips, val_clips=["c1", "c4"])
    assert [vc.name for vc in named.val] == ["c1", "c4"]
    with pytest.raises(InputError, match="not in the dataset"):
        ClipSet(five_clips, val_clips=["nope"])
    with pytest.raises(InputError, match="leaves no clip"):
        ClipSet(five_clips, val_clips=5)


def test_a_batch_draws_from_as_many_clips_as_it_can(five_clips):
    ds = ClipSet(five_clips, val_clips=1)
    for step in range(1, 20):
        assert len({s.clip for s in ds.step_samples(step, 4)}) == 4  # 4 training clips, 4 samples
        counts = np.bincount([s.clip for s in ds.step_samples(step, 10)], minlength=5)
        assert sorted(counts[counts > 0].tolist()) == [2, 2, 3, 3]


def test_global_order_depends_on_seed_and_step_only(five_clips):
    a, b = ClipSet(five_clips, seed=3), ClipSet(five_clips, seed=3)
    assert a.step_samples(7, 4) == b.step_samples(7, 4)  # no hidden state: step 7 first, or after others
    b.step_samples(1, 4)
    assert a.step_samples(7, 4) == b.step_samples(7, 4)
    assert a.step_samples(7, 4) != a.step_samples(8, 4)
    assert ClipSet(five_clips, seed=4).step_samples(7, 4) != a.step_samples(7, 4)
    # Two processes of batch 2 see together what one process of batch 4 sees.
    samples = a.step_samples(7, 4)
    assert shard(samples, 0, 0, 2, 2) + shard(samples, 0, 1, 2, 2) == shard(samples, 0, 0, 1, 4)


def test_syncnet_t_samples_consecutive_frames(synthetic_clip):
    ds = ClipSet([synthetic_clip], syncnet_t=3)
    samples = ds.step_samples(1, 5)
    assert all(len(s.targets) == len(s.refs) == 3 for s in samples)
    fi = synthetic_clip.frame_index
    for s in samples:
        assert np.all(np.diff(fi[list(s.targets)]) == 1)  # never across frame 7, which has no face
    assert ds.batch(samples, torch.device("cpu")).inputs.shape == (15, 8, 32, 32)


def test_batch_shapes_and_ranges(synthetic_clip):
    ds = ClipSet([synthetic_clip])
    samples = ds.step_samples(1, 3)
    b = ds.batch(samples, torch.device("cpu"))
    assert b.inputs.shape == (3, 8, 32, 32) and b.audio.shape == (3, 50, 384)
    assert b.target_latents.shape == (3, 4, 32, 32) and b.target_images.shape == (3, 3, 256, 256)
    refs = [s.refs[0] for s in samples]
    assert torch.equal(b.inputs[:, 4:], torch.from_numpy(synthetic_clip.latents[refs]))
    assert b.target_images.min() >= -1 and b.target_images.max() <= 1
    # BGR crop -> RGB image: channel 0 of the image is the crop's red (last) channel.
    red = synthetic_clip.crops[samples[0].targets[0]][..., 2].astype(np.float32) / 127.5 - 1
    assert np.allclose(b.target_images[0, 0].numpy(), red, atol=1e-6)


def test_too_short_clip_is_an_input_error(synthetic_clip):
    with pytest.raises(InputError, match="consecutive"):
        ClipSet([synthetic_clip], syncnet_t=40)


def test_cached_clip_is_memory_mapped_and_equal(synthetic_clip, tmp_path):
    write_clip(tmp_path, synthetic_clip, {"key": "k"})
    back = open_clip(tmp_path, synthetic_clip.name)
    assert isinstance(back.crops, np.memmap) and isinstance(back.windows, np.memmap)
    assert back.n_frames == synthetic_clip.n_frames
    for key in ("frame_index", "crops", "latents", "masked", "windows"):
        assert np.array_equal(getattr(back, key), getattr(synthetic_clip, key))
    a, b = ClipSet([synthetic_clip]), ClipSet([back])
    samples = a.step_samples(2, 3)
    assert torch.equal(a.batch(samples, torch.device("cpu")).inputs, b.batch(samples, torch.device("cpu")).inputs)
