"""Dataclass configs: per-request inference settings, the choice lists, and the model architectures."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from .errors import InputError

FPS = 25
AUDIO_SAMPLE_RATE = 16000
CROP_SIZE = 256
LATENT_SCALE = 0.18215
CRF = 18  # x264 quality of the outputs: visually lossless, about 2x a camera file's bitrate

ParsingMode = Literal["jaw", "raw", "neck"]

# The choice lists of the CLI, the app and the configs, defined once.
PARSING_MODES: tuple[str, ...] = ("jaw", "raw", "neck")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
DTYPES: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")

Progress = Callable[[str, int, int], None]  # (stage, done, total): how every long call reports progress


def no_progress(stage: str, done: int, total: int) -> None:
    """The default ``Progress``: report nothing."""
    return None


@dataclass
class FaceConfig:
    """How the face box and blend mask are built (MuseTalk v1.5 defaults)."""

    bbox_shift: int = 0
    extra_margin: int = 10
    parsing_mode: ParsingMode = "jaw"
    left_cheek_width: int = 90
    right_cheek_width: int = 90
    smooth: bool = True  # temporal smoothing of the crop box, against jitter
    face: str = "largest"  # which face to sync: "largest", "N" (0 = leftmost) or "X,Y" (the face at that pixel)

    def __post_init__(self) -> None:
        # A bad value fails when the settings are made, before any work; a good one is kept in one spelling
        # (YAML gives 1 for "1"), so that avatar meta and comparisons see the same text.
        self.face = parse_face_choice(self.face).text


FACE_CHOICE_HELP = ("which face to sync: largest (default), N (0 = the leftmost face in the first frame with faces) "
                    "or X,Y (the face at that pixel of that frame)")


@dataclass(frozen=True)
class FaceChoice:
    """A parsed ``FaceConfig.face``: kind "largest", "index" (``index``) or "point" (``point``, x, y pixels)."""

    kind: Literal["largest", "index", "point"] = "largest"
    index: int = 0
    point: tuple[int, int] = (0, 0)

    @property
    def text(self) -> str:
        """The choice as ``FaceConfig.face`` spells it: "largest", "1", "640,360"."""
        return {"largest": "largest", "index": str(self.index), "point": f"{self.point[0]},{self.point[1]}"}[self.kind]


def parse_face_choice(text: object) -> FaceChoice:
    """The one place a face choice is read; anything else is an InputError of one sentence."""
    value = str(text).strip().lower() if isinstance(text, (str, int)) and not isinstance(text, bool) else None
    if value == "largest":
        return FaceChoice()
    if value is not None and re.fullmatch(r"[0-9]+", value):
        return FaceChoice("index", index=int(value))
    point = re.fullmatch(r"([0-9]+)\s*,\s*([0-9]+)", value or "")
    if point:
        return FaceChoice("point", point=(int(point[1]), int(point[2])))
    raise InputError(f"The face choice {text!r} is not valid: use largest, a face number (0 = leftmost) "
                     "or a pixel X,Y inside the face.")


SILENCE_MODES: tuple[str, ...] = ("close", "keep")


@dataclass
class VadConfig:
    """The energy voice-activity detector (silence handling and the score).

    threshold_db: a frame is silent when its level is this far below the loud end of the audio (its 95th
        percentile), or below -60 dBFS whatever the audio.
    min_silence_s: shorter pauses (between words) count as speech.
    """

    threshold_db: float = 30.0
    min_silence_s: float = 0.2


@dataclass
class SilenceConfig:
    """What the mouth does when nobody speaks: "close" (a closed mouth from the source, faded in and out) or
    "keep" (whatever the model makes, as MuseTalk). closed_frame: the source frame to take the closed mouth from
    (default: the one whose mouth is most closed)."""

    mode: str = "close"
    vad: VadConfig = field(default_factory=VadConfig)
    closed_frame: int | None = None


@dataclass
class InferenceConfig:
    """Per-request settings; passed as call arguments, never stored on shared objects."""

    face: FaceConfig = field(default_factory=FaceConfig)
    silence: SilenceConfig = field(default_factory=SilenceConfig)
    fps: Fraction | None = None  # output frame rate; None: the source's own (25 for a still), see media/rates.py
    crf: int = CRF  # x264 quality: lower is better and larger (0-51)
    batch_size: int = 8
    pipelined: bool = True  # prep, models and blending in overlapping threads; False: all in the caller's thread


# Architecture of the official musetalkV15/musetalk.json (diffusers UNet2DConditionModel kwargs).
OFFICIAL_UNET_CONFIG: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}

TINY_UNET_CONFIG: dict[str, Any] = {
    **OFFICIAL_UNET_CONFIG,
    "attention_head_dim": 2,
    "block_out_channels": [32, 64],
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 32,
}

# stabilityai/sd-vae-ft-mse config.json (AutoencoderKL kwargs).
OFFICIAL_VAE_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

# Same 8x downsampling (256 -> 32) as the official VAE, with far fewer channels.
TINY_VAE_CONFIG: dict[str, Any] = {
    **OFFICIAL_VAE_CONFIG,
    "block_out_channels": [16, 32, 32, 32],
    "layers_per_block": 1,
    "norm_num_groups": 8,
}

# openai/whisper-tiny (WhisperConfig kwargs). The encoder width 384 is what the UNet cross-attends to.
OFFICIAL_WHISPER_CONFIG: dict[str, Any] = {
    "d_model": 384,
    "encoder_layers": 4,
    "encoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "decoder_layers": 4,
    "decoder_attention_heads": 6,
    "decoder_ffn_dim": 1536,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "max_target_positions": 448,
    "vocab_size": 51865,
}

# Keeps d_model 384 and 4 encoder layers (the audio window contract is [50, 384] from 5 hidden states);
# shrinks the FFN and the decoder, which inference never runs.
TINY_WHISPER_CONFIG: dict[str, Any] = {
    **OFFICIAL_WHISPER_CONFIG,
    "encoder_ffn_dim": 96,
    "encoder_attention_heads": 2,
    "decoder_layers": 1,
    "decoder_attention_heads": 2,
    "decoder_ffn_dim": 96,
    "max_target_positions": 64,
    "vocab_size": 128,
    # Special token ids must fit the small vocabulary.
    "pad_token_id": 1,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 1,
    "suppress_tokens": [],
    "begin_suppress_tokens": [],
}
