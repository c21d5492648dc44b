"""The composite loss: both terms, weights, and gradients through the frozen decoder into the UNet only."""
from __future__ import annotations

import copy

import pytest
import torch

from musetalk.train.dataset import ClipSet
from musetalk.train.loss import composite_loss
from musetalk.train.runs import add_lora


@pytest.fixture(scope="module")
def batch(synthetic_clip):
    ds = ClipSet([synthetic_clip])
    return ds.batch(ds.step_samples(1, 2), torch.device("cpu"))


def test_total_is_the_weighted_sum(tiny_models, batch):
    with torch.no_grad():
        t = composite_loss(tiny_models.unet, tiny_models.vae, batch, 2.0, 1.0)
        u = composite_loss(tiny_models.unet, tiny_models.vae, batch, 0.0, 3.0)
    assert t.pixel > 0 and t.latent > 0
    assert torch.allclose(t.total, 2 * t.pixel + t.latent)
    assert u.pixel == 0 and torch.allclose(u.total, 3 * t.latent)
    assert t.pred.shape == (2, 4, 32, 32)


def test_gradients_reach_lora_through_the_frozen_decoder(tiny_models, batch):
    unet = copy.deepcopy(tiny_models.unet)
    add_lora(unet, 4)
    for name, p in unet.named_parameters():  # B = 0 at init: give the adapter an effect
        if "lora_B" in name:
            p.data.normal_(0, 0.01)
    composite_loss(unet, tiny_models.vae, batch, pixel_weight=1.0, latent_weight=0.0).total.backward()
    grads = {n: p.grad for n, p in unet.named_parameters() if p.requires_grad}
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())
    assert all(p.grad is None for p in tiny_models.vae.parameters())
    assert all(p.grad is None for n, p in unet.named_parameters() if "lora" not in n)
