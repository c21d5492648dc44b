"""Whisper-tiny encoder features, windowed per video frame exactly as MuseTalk v1.5 does, plus the PE."""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ..config import AUDIO_SAMPLE_RATE, FPS
from ..errors import InputError, WeightsError

WHISPER_STEPS_PER_SECOND = 50  # the encoder emits one step per 20 ms
SEGMENT_SECONDS = 30  # Whisper's fixed input length
PAD_LEFT = 4  # 2 video frames of context before
PAD_RIGHT = 12
WINDOW_STEPS = 10  # 5 video frames x 2 steps
D_MODEL = 384

Rate = int | Fraction  # frames per second, exact (30000/1001, not 29.97)


def load_whisper(whisper_dir: Path, device: torch.device, dtype: torch.dtype):
    """-> (encoder, feature_extractor). Only the encoder is kept: the decoder is never run."""
    from transformers import WhisperFeatureExtractor, WhisperModel

    try:
        extractor = WhisperFeatureExtractor.from_pretrained(str(whisper_dir))
        model = WhisperModel.from_pretrained(str(whisper_dir), dtype=torch.float32)
    except Exception as exc:  # transformers raises OSError/ValueError/safetensors errors for bad files
        raise WeightsError(
            f"Cannot load Whisper from {whisper_dir}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}.",
            "Delete the folder and run `python -m musetalk weights download` again.",
        ) from exc
    encoder = model.get_encoder()
    del model.decoder
    return encoder.to(device=device, dtype=dtype).eval().requires_grad_(False), extractor


def frame_count(n_samples: int, fps: Rate = FPS, sample_rate: int = AUDIO_SAMPLE_RATE) -> int:
    """Video frames covered by ``n_samples`` of audio: floor(seconds * fps), as MuseTalk v1.5 (exact for
    fractional rates such as 30000/1001)."""
    fps = Fraction(fps)
    return (n_samples * fps.numerator) // (sample_rate * fps.denominator)


def frames_for_seconds(seconds: float, fps: Rate = FPS) -> int:
    """The one frame-count rule: a sound of ``seconds`` drives floor(seconds * fps) video frames."""
    return math.floor(seconds * float(fps))


def window_starts(n_frames: int, fps: Rate = FPS) -> np.ndarray:
    """Start step (in the padded feature sequence) of each frame's 10-step window: floor(i * 50 / fps), in
    integers, so 29.97 fps (30000/1001) gets exactly the steps the rule gives."""
    fps = Fraction(fps)
    return (np.arange(n_frames, dtype=np.int64) * WHISPER_STEPS_PER_SECOND * fps.denominator) // fps.numerator


def hidden_steps(n_samples: int, sample_rate: int = AUDIO_SAMPLE_RATE) -> int:
    """Whisper steps kept for ``n_samples`` of audio: floor(seconds * 50), in floats as MuseTalk (so 9280 samples
    keep 28 steps, not 29): the one rule offline and streaming windows share."""
    return math.floor(n_samples / sample_rate * WHISPER_STEPS_PER_SECOND)


def segment_samples(sample_rate: int = AUDIO_SAMPLE_RATE) -> int:
    """Samples in one Whisper segment (30 s); segments start at sample 0 and at every multiple of this."""
    return SEGMENT_SECONDS * sample_rate


def encode_segment(encoder, extractor, chunk: np.ndarray, sample_rate: int = AUDIO_SAMPLE_RATE) -> torch.Tensor:
    """chunk: (n <= 30 s,) float32 mono -> (1500, 5, 384) hidden states in the encoder's dtype and device.

    The extractor pads the chunk to 30 s and normalises its log-mel over it; call under ``torch.inference_mode``.
    """
    param = next(encoder.parameters())
    feats = extractor(chunk, sampling_rate=sample_rate, return_tensors="pt").input_features
    out = encoder(feats.to(device=param.device, dtype=param.dtype), output_hidden_states=True)
    return torch.stack(out.hidden_states, dim=2)[0]


def encoder_states(encoder, features: torch.Tensor, first_position: int = 0) -> torch.Tensor:
    """features: (1, 80, L) log-mel -> (ceil(L / 2), 5, 384) hidden states in the encoder's dtype.

    The library's ``WhisperEncoder.forward`` with ``output_hidden_states=True``, step for step (conv1, gelu, conv2,
    gelu, + position embeddings, the layers, the final layer_norm replacing the last state), but without its check
    that L is 3000: a short input runs in proportion to its length. Positions run from ``first_position`` (the
    place of the input's first step in its 30 s segment; at most 1500 steps in all). On a 3000-frame mel from 0 it
    equals the library's output exactly (tested). Call under ``torch.inference_mode`` (the encoder is in eval).
    """
    x = torch.nn.functional.gelu(encoder.conv1(features))
    x = torch.nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
    hidden = x + encoder.embed_positions(torch.arange(first_position, first_position + x.shape[1], device=x.device))
    states = [hidden]
    for layer in encoder.layers:
        hidden = layer(hidden, None)
        states.append(hidden)
    states[-1] = encoder.layer_norm(hidden)  # as the library's hidden_states[-1] (its last_hidden_state)
    return torch.stack(states, dim=2)[0]


def encode_short(encoder, extractor, chunk: np.ndarray, sample_rate: int = AUDIO_SAMPLE_RATE,
                 first_position: int = 0) -> torch.Tensor:
    """chunk: (n <= 30 s,) float32 mono, n >= 201 -> (ceil((n // 160) / 2), 5, 384) states of just that audio.

    Not padded to 30 s: the log-mel has n // 160 frames (the STFT reflects at both ends instead of reading zeros
    past the end) and is clamped against the max of this chunk alone; step k covers samples 320k..320k+319 and
    gets position embedding ``first_position + k``.
    """
    param = next(encoder.parameters())
    feats = extractor(chunk, sampling_rate=sample_rate, padding="longest", return_tensors="pt").input_features
    return encoder_states(encoder, feats.to(device=param.device, dtype=param.dtype), first_position)


@torch.inference_mode()
def encode_audio(encoder, extractor, audio: np.ndarray, sample_rate: int = AUDIO_SAMPLE_RATE,
                 pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """audio: (n,) float32 mono at 16 kHz -> hidden states (T, 5, 384) float32 on the encoder's device,
    T = floor(seconds * 50): embedding output + 4 layers, 30 s segments concatenated.

    pad: (left, right) zero steps around them, written into one buffer (no concatenated copies: long audio).
    """
    device = next(encoder.parameters()).device
    seg = segment_samples(sample_rate)
    steps = hidden_steps(len(audio), sample_rate)
    hidden: torch.Tensor | None = None
    at = pad[0]
    for start in range(0, max(len(audio), 1), seg):
        part = encode_segment(encoder, extractor, audio[start : start + seg], sample_rate)
        if hidden is None:
            hidden = torch.zeros(pad[0] + steps + pad[1], *part.shape[1:], device=device)
        take = min(part.shape[0], pad[0] + steps - at)
        if take > 0:
            hidden[at : at + take] = part[:take].float()
            at += take
    assert hidden is not None
    return hidden


def frame_windows(hidden: torch.Tensor, n_frames: int, fps: Rate = FPS) -> torch.Tensor:
    """hidden: (T, 5, 384) -> per-frame windows (n_frames, 50, 384), zero-padded 4 steps left, 12 right."""
    return FrameWindows(hidden, n_frames, fps).materialize()


def positional_encoding(length: int = 50, d_model: int = D_MODEL) -> torch.Tensor:
    """Standard sinusoidal PE (length, d_model): sin on even channels, cos on odd."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


def add_positional_encoding(windows: torch.Tensor, pe: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 50, 384) windows -> windows + PE, float32: the one place inference and training add the PE.

    MuseTalk's trainer forgot the PE while its inference added it; here both call this. ``pe``: the
    (50, 384) ``positional_encoding`` already on the windows' device, which the renderer builds once (a per-batch
    host->device copy would sync a GPU); built here when None.
    """
    if pe is None:
        pe = positional_encoding(windows.shape[1], windows.shape[2]).to(windows.device)
    return windows.float() + pe


def audio_features(encoder, extractor, audio: np.ndarray, fps: Rate = FPS) -> torch.Tensor:
    """audio (n,) float32 16 kHz -> (n_frames, 50, 384) float32 windows without PE (added per batch)."""
    return lazy_audio_features(encoder, extractor, audio, fps).materialize()


class FrameWindows:
    """The per-frame windows of the v1.5 rule, made on demand: ``fw[a:b]`` -> (b - a, 50, 384) float32.

    Holds the padded hidden states ((T + 16, 5, 384), 23 MB per minute), not the windows themselves, which repeat
    each step five times (115 MB per minute): long audio then costs little memory. Supports what the render loop
    needs: ``shape``, ``len``, and indexing the frame axis with a slice, a list or an index tensor.
    """

    def __init__(self, hidden: torch.Tensor, n_frames: int, fps: Rate = FPS, padded: bool = False) -> None:
        """hidden: (T, 5, 384), or already zero-padded (PAD_LEFT + T + PAD_RIGHT, 5, 384) when ``padded``."""
        if not padded:
            hidden = torch.cat([hidden.new_zeros(PAD_LEFT, *hidden.shape[1:]), hidden,
                                hidden.new_zeros(PAD_RIGHT, *hidden.shape[1:])])
        self.padded = hidden
        self.starts = torch.as_tensor(window_starts(n_frames, fps), device=hidden.device)
        self.offsets = torch.arange(WINDOW_STEPS, device=hidden.device)
        self.shape = torch.Size((n_frames, WINDOW_STEPS * hidden.shape[1], hidden.shape[2]))
        self.device = hidden.device

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> torch.Tensor:
        starts = self.starts[key]
        # Very short audio can ask for steps past the right pad: those read as silence (zeros).
        idx = (starts[..., None] + self.offsets).clamp(max=self.padded.shape[0] - 1)
        return self.padded[idx].reshape(*starts.shape, *self.shape[1:])

    def materialize(self) -> torch.Tensor:
        """All windows as one (n_frames, 50, 384) tensor."""
        return self[:]


def lazy_audio_features(encoder, extractor, audio: np.ndarray, fps: Rate = FPS) -> FrameWindows:
    """audio (n,) float32 16 kHz -> the per-frame windows without PE, made per batch (for long audio)."""
    n_frames = frame_count(len(audio), fps)
    if n_frames < 1:
        raise InputError(
            f"The audio is too short ({len(audio) / AUDIO_SAMPLE_RATE:.3f} s): at least one video frame "
            f"({1 / float(fps):.2f} s) of speech is needed."
        )
    return FrameWindows(encode_audio(encoder, extractor, audio, pad=(PAD_LEFT, PAD_RIGHT)), n_frames, fps, True)
