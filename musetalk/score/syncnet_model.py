"""The Oxford SyncNet v2 network, where its weights live, and loading them.

SyncNet (Chung & Zisserman, "Out of time: automated lip sync in the wild", ACCV 2016 workshops) embeds 0.2 s of
speech and the 5 video frames of the same 0.2 s into one 1024-d space, where in-sync pairs lie close. Its
``syncnet_v2.model`` is what LSE-C / LSE-D are measured with (Wav2Lip, LatentSync and MuseTalk papers).

Getting the weights (facts for the README):

- File: ``syncnet_v2.model`` (about 52 MB), a bare PyTorch state dict (``torch.save(model.state_dict())``
  of an old PyTorch, so without BatchNorm ``num_batches_tracked`` counters).
- Download URL: http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model, as given in
  ``download_model.sh`` of https://github.com/joonson/syncnet_python.
- Licence: that repository's ``LICENSE.md`` is the MIT licence, "Copyright (c) 2016-present Joon Son Chung";
  the weights are distributed with it and carry no separate licence statement.
- Place it at ``<weights>/syncnet/syncnet_v2.model`` or pass its path explicitly.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from musetalk.errors import WeightsError

logger = logging.getLogger(__name__)

SYNCNET_URL = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model"
SYNCNET_SOURCE = "https://github.com/joonson/syncnet_python"
SYNCNET_LICENCE = "MIT"
SYNCNET_RELPATH = Path("syncnet") / "syncnet_v2.model"
EMBED_DIM = 1024

# BatchNorm step counters appeared in PyTorch 0.4.1, after the official file was saved; they are unused in eval.
_COUNTER = "num_batches_tracked"


class SyncNetWeightsError(WeightsError):
    """The SyncNet weights file is missing, or is not a SyncNet v2 state dict."""


def _conv_block(conv: nn.Module, channels: int, bn: type[nn.Module]) -> list[nn.Module]:
    """conv, BatchNorm, ReLU: three Sequential slots, as in the published layer numbering."""
    return [conv, bn(channels), nn.ReLU(inplace=True)]


def _fc_head() -> nn.Sequential:
    """512 -> 512 -> 1024 projection (slots 0..3)."""
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, EMBED_DIM))


class SyncNet(nn.Module):
    """SyncNet v2. Attribute names and Sequential slots (ReLU and pooling included) match the official state dict.

    ``forward_aud``: (B, 1, 13, 20) float32 MFCC (13 coefficients x 20 steps of 10 ms) -> (B, 1024).
    ``forward_lip``: (B, 3, 5, 224, 224) float32 BGR in [0, 255] (not normalised; 5 frames at 25 fps) -> (B, 1024).
    """

    def __init__(self) -> None:
        super().__init__()
        c2, b2, c3, b3 = nn.Conv2d, nn.BatchNorm2d, nn.Conv3d, nn.BatchNorm3d
        self.netcnnaud = nn.Sequential(  # 13x20 -> 13x20 -> 11x9 -> 5x4 -> 1x1
            *_conv_block(c2(1, 64, 3, padding=1), 64, b2), nn.MaxPool2d(1, 1),
            *_conv_block(c2(64, 192, 3, padding=1), 192, b2), nn.MaxPool2d(3, (1, 2)),
            *_conv_block(c2(192, 384, 3, padding=1), 384, b2),
            *_conv_block(c2(384, 256, 3, padding=1), 256, b2),
            *_conv_block(c2(256, 256, 3, padding=1), 256, b2), nn.MaxPool2d(3, 2),
            *_conv_block(c2(256, 512, (5, 4)), 512, b2),
        )
        self.netfcaud = _fc_head()
        self.netfclip = _fc_head()
        self.netcnnlip = nn.Sequential(  # 5x224x224 -> 1x109x109 -> 54 -> 26 -> 13 -> 6 -> 1
            *_conv_block(c3(3, 96, (5, 7, 7), stride=(1, 2, 2)), 96, b3), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_conv_block(c3(96, 256, (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)), 256, b3),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), padding=(0, 1, 1)),
            *_conv_block(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3),
            *_conv_block(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3),
            *_conv_block(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_conv_block(c3(256, 512, (1, 6, 6)), 512, b3),
        )

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 20) MFCC -> (B, 1024) audio embedding."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, 5, 224, 224) BGR 0-255 -> (B, 1024) lip embedding."""
        return self.netfclip(self.netcnnlip(frames).flatten(1))


def official_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict as the official file holds it: every parameter and running statistic, no counters."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith(_COUNTER)}


def find_syncnet_weights(explicit: str | os.PathLike[str] | None, weights_dir: Path | None) -> Path:
    """The SyncNet file: ``explicit`` if given, else ``<weights_dir>/syncnet/syncnet_v2.model``.

    Raises SyncNetWeightsError (a MuseTalkError: exit code 2 in the CLI) saying where to download it and under
    which licence when the file is absent, or when neither argument is given.
    """
    if explicit:
        path = Path(explicit).expanduser()
    elif weights_dir is not None:
        path = Path(weights_dir).expanduser() / SYNCNET_RELPATH
    else:
        raise SyncNetWeightsError("No SyncNet weights file was given.", _download_hint())
    if not path.is_file():
        raise SyncNetWeightsError(f"The SyncNet weights file {path} does not exist.", _download_hint())
    return path


def _download_hint() -> str:
    return (f"Download syncnet_v2.model from {SYNCNET_URL} (published with {SYNCNET_SOURCE}, {SYNCNET_LICENCE} "
            f"licence) and put it at <weights>/{SYNCNET_RELPATH.as_posix()} or pass its path.")


def load_syncnet(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> SyncNet:
    """SyncNet in eval mode on ``device`` (fp32), from the official ``syncnet_v2.model`` state dict.

    Loaded with ``weights_only=True``; every key and shape must match (the missing BatchNorm counters of the
    official file are filled with 0). Raises SyncNetWeightsError for a missing or unreadable file, a file that
    is not a state dict, or one of another network.
    """
    path = Path(path)
    if not path.is_file():
        raise SyncNetWeightsError(f"The SyncNet weights file {path} does not exist.", _download_hint())
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike: the file is not a torch weights file
        raise SyncNetWeightsError(f"{path} is not a readable PyTorch weights file ({type(exc).__name__}).",
                                  _download_hint()) from exc
    model = SyncNet()
    model.load_state_dict(_checked_state(state, model.state_dict(), path), strict=True)
    logger.debug("loaded SyncNet from %s", path)
    return model.to(device=device, dtype=torch.float32).eval()


def _checked_state(state: object, expected: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """``state`` completed with zero counters, or SyncNetWeightsError naming the first mismatches."""
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SyncNetWeightsError(f"{path} is not a SyncNet state dict (a mapping of names to tensors).",
                                  _download_hint())
    state = dict(state)
    for key in expected:
        if key.endswith(_COUNTER) and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    problems = [f"{label} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
    if problems:
        raise SyncNetWeightsError(f"{path} is not a SyncNet v2 state dict ({'; '.join(problems)}).",
                                  _download_hint())
    return state


def save_random_syncnet(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write a random-init SyncNet in the official file format (bare state dict, no counters) to ``path``.

    Scores made with it are meaningless; it exercises the real loading and scoring code. The global RNG is
    left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SyncNet()
    torch.save(official_state_dict(model), path)
    return path
