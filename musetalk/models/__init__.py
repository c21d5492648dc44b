"""Model loading: the one place that builds the UNet, VAE and Whisper from a weights folder."""
from __future__ import annotations

from .loader import MuseTalkModels, load_models

__all__ = ["MuseTalkModels", "load_models"]
