"""An identity "model" (each frame's own crop comes back as the generated face), so the source's real mouth
motion shows where silence handling must close it, and a driving audio with known silences."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from musetalk.config import InferenceConfig, SilenceConfig
from musetalk.media import load_audio
from musetalk.pipeline import LipSyncPipeline


class IdentityRenderer:
    def encode(self, crops_bgr: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(crops_bgr))

    def render(self, latents: torch.Tensor, windows: torch.Tensor) -> np.ndarray:
        return latents.numpy().copy()


def speech_with_gaps(src: Path, dst: Path, cuts_s: tuple[float, ...] = (1.6, 3.2), gap_s: float = 1.0) -> Path:
    """``src`` speech cut at ``cuts_s`` with ``gap_s`` of digital silence between the pieces, 16 kHz wav."""
    audio = load_audio(src)
    sr = 16000
    pieces, last = [], 0
    for cut in cuts_s:
        pieces += [audio[last:int(cut * sr)], np.zeros(int(gap_s * sr), np.float32)]
        last = int(cut * sr)
    pieces.append(audio[last:])
    sf.write(dst, np.concatenate(pieces), sr)
    return dst


def identity_generate(models, video: Path, audio: Path, out: Path, mode: str) -> Path:
    pipe = LipSyncPipeline(models)
    pipe.renderer = IdentityRenderer()
    return pipe.generate(video, audio, out, InferenceConfig(silence=SilenceConfig(mode=mode)))
