"""TrainConfig: every setting of a fine-tuning run. It is saved in the run folder, so a run describes itself."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ..config import DTYPES, FaceConfig
from ..errors import InputError

Init = Literal["official", "random"]


@dataclass
class TrainConfig:
    """Defaults follow the MuseTalk v1.5 training seeds (loss 2 * pixel + 1 * latent, reference >= 5 frames away)."""

    init: Init = "official"  # start from the weights folder's UNet, or from a fresh random init (seeded)
    lora_rank: int | None = 16  # None = train every UNet weight (--full)
    steps: int = 300
    batch_size: int = 4  # samples per micro-batch and process (each holds syncnet_t frames)
    processes: int = 1  # processes the batch size is for (set by the trainer; a resume keeps the global batch)
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 1e-4
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    pixel_weight: float = 2.0
    latent_weight: float = 1.0
    min_ref_distance: int = 5
    syncnet_t: int = 1  # consecutive frames per sample (1 = single-frame sampling)
    val_clips: int | list[str] = 0  # clips held out whole for validation (a count, or names); 0 = clip ends
    val_fraction: float = 0.1  # with no clip held out: the last part of every clip, by time, held out
    val_every: int = 50  # validation loss and a validation frame every this many steps (0 = only at start and end)
    val_frames: int = 16  # at most this many held-out frames in the validation loss
    val_sync: bool = True  # the offline sync score of each held-out clip (sync_check.py; needs its frames whole)
    save_every: int = 100  # checkpoint every this many steps (0 = only at the end)
    seed: int = 0
    grad_checkpointing: bool = False
    mixed_precision: str = "auto"  # auto | fp32 | bf16 | fp16: the autocast dtype; trained weights stay fp32
    face: FaceConfig = field(default_factory=FaceConfig)

    @property
    def mode(self) -> str:
        return "full" if self.lora_rank is None else "lora"

    def validate(self) -> TrainConfig:
        checks = [
            (self.steps >= 1, "--steps must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.grad_accum >= 1, "--grad-accum must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
            (self.lora_rank is None or self.lora_rank >= 1, "--lora-rank must be at least 1"),
            (isinstance(self.val_clips, list) or self.val_clips >= 0, "--val-clips must be >= 0"),
            (self.syncnet_t >= 1, "--syncnet-t must be at least 1"),
            (self.min_ref_distance >= 0, "--min-ref-distance must be >= 0"),
            (0.0 < self.val_fraction < 1.0, "--val-fraction must be between 0 and 1"),
            (self.pixel_weight >= 0 and self.latent_weight >= 0, "loss weights must be >= 0"),
            (self.init in ("official", "random"), "--init must be official or random"),
            (self.mixed_precision in DTYPES, f"--dtype must be one of {', '.join(DTYPES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message + ".")
        if self.init == "random" and self.lora_rank is not None:
            raise InputError("LoRA adapts a trained UNet; --init random trains from scratch.",
                             "Use --full with --init random.")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("face"), dict):
            values["face"] = FaceConfig(**values["face"])
        return cls(**values)
