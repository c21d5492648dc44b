"""The official weights layout: check it, download it from the Hugging Face Hub, or fill it with random init.

Layout (identical to MuseTalk's ``models/`` folder)::

    musetalkV15/musetalk.json, musetalkV15/unet.pth     TMElyralab/MuseTalk
    sd-vae/config.json, sd-vae/diffusion_pytorch_model.(safetensors|bin)    stabilityai/sd-vae-ft-mse
    whisper/config.json, whisper/(model.safetensors|pytorch_model.bin), whisper/preprocessor_config.json
                                                        openai/whisper-tiny
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import (
    OFFICIAL_UNET_CONFIG,
    OFFICIAL_VAE_CONFIG,
    OFFICIAL_WHISPER_CONFIG,
    TINY_UNET_CONFIG,
    TINY_VAE_CONFIG,
    TINY_WHISPER_CONFIG,
)
from .errors import DownloadError, WeightsError
from .temp_files import make_temp_dir

log = logging.getLogger(__name__)

Size = Literal["tiny", "full"]
SIZES: tuple[str, ...] = ("tiny", "full")

UNET_DIR = "musetalkV15"
VAE_DIR = "sd-vae"
WHISPER_DIR = "whisper"


@dataclass(frozen=True)
class WeightFile:
    """One required file: its local path(s) (any one of the alternatives will do) and where it comes from."""

    alternatives: tuple[str, ...]
    repo_id: str
    repo_paths: tuple[str, ...]  # same order as alternatives


REQUIRED: tuple[WeightFile, ...] = (
    WeightFile((f"{UNET_DIR}/musetalk.json",), "TMElyralab/MuseTalk", ("musetalkV15/musetalk.json",)),
    WeightFile((f"{UNET_DIR}/unet.pth",), "TMElyralab/MuseTalk", ("musetalkV15/unet.pth",)),
    WeightFile((f"{VAE_DIR}/config.json",), "stabilityai/sd-vae-ft-mse", ("config.json",)),
    WeightFile(
        (f"{VAE_DIR}/diffusion_pytorch_model.safetensors", f"{VAE_DIR}/diffusion_pytorch_model.bin"),
        "stabilityai/sd-vae-ft-mse",
        ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"),
    ),
    WeightFile((f"{WHISPER_DIR}/config.json",), "openai/whisper-tiny", ("config.json",)),
    WeightFile(
        (f"{WHISPER_DIR}/model.safetensors", f"{WHISPER_DIR}/pytorch_model.bin"),
        "openai/whisper-tiny",
        ("model.safetensors", "pytorch_model.bin"),
    ),
    WeightFile((f"{WHISPER_DIR}/preprocessor_config.json",), "openai/whisper-tiny", ("preprocessor_config.json",)),
)

STAGING_DIR = ".download"  # inside the weights folder: partial downloads, resumed by the next download
DOWNLOAD_HINT = "Run `python -m musetalk weights download --dir {dir}` (about 3.5 GB) to fetch the official weights."


def resolve_weights_dir(weights: str | os.PathLike[str] | None = None) -> Path:
    """``--weights``, else ``$MUSETALK_WEIGHTS``, else ``./weights``."""
    if weights:
        return Path(weights).expanduser()
    env = os.environ.get("MUSETALK_WEIGHTS")
    return Path(env).expanduser() if env else Path("weights")


def missing_files(weights_dir: str | os.PathLike[str]) -> list[str]:
    """Relative paths of required files that are absent or empty (first alternative named)."""
    root = Path(weights_dir)
    missing = []
    for wf in REQUIRED:
        if not any(_nonempty(root / alt) for alt in wf.alternatives):
            missing.append(wf.alternatives[0])
    return missing


def check_weights(weights_dir: str | os.PathLike[str]) -> Path:
    """Raise :class:`WeightsError` naming every missing file and the command that gets it."""
    root = Path(weights_dir)
    missing = missing_files(root)
    if missing:
        raise WeightsError(
            f"Weights are missing in {root}: {', '.join(missing)}.", DOWNLOAD_HINT.format(dir=root)
        )
    return root


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def vae_fingerprint(weights_dir: str | os.PathLike[str] | None) -> str | None:
    """A short id of the VAE weights (config, file size, first and last MiB), or None when they cannot be read.

    Cached latents are only valid for the VAE that encoded them; hashing the whole 335 MB file on every load
    would be slow, and a changed file almost surely changes its size or its ends.
    """
    if weights_dir is None:
        return None
    import hashlib

    root = Path(weights_dir) / VAE_DIR
    h = hashlib.sha256()
    try:
        h.update((root / "config.json").read_bytes())
        weights = next((root / f"diffusion_pytorch_model.{ext}" for ext in ("safetensors", "bin")
                        if _nonempty(root / f"diffusion_pytorch_model.{ext}")), None)
        if weights is None:
            return None
        size = weights.stat().st_size
        h.update(str(size).encode())
        with open(weights, "rb") as fh:
            h.update(fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            h.update(fh.read(1 << 20))
    except OSError:
        return None
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------- download


def download(weights_dir: str | os.PathLike[str], progress: bool = True) -> Path:
    """Fetch the official files into ``weights_dir`` in the official layout.

    huggingface-hub moves a file into place only once it is complete, so an interrupted download leaves no
    truncated weights; its partial file stays in ``weights_dir/.download/`` and the next call resumes it.
    Offline or unreachable hub -> :class:`DownloadError`, within seconds (one probe before any file).
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    root = Path(weights_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the weights folder {root}: {exc.strerror}.") from exc
    todo = [wf for wf in REQUIRED if not any(_nonempty(root / alt) for alt in wf.alternatives)]
    if todo:
        _check_hub_reachable()
    (enable_progress_bars if progress else disable_progress_bars)()
    for wf in todo:
        target = root / wf.alternatives[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s/%s -> %s", wf.repo_id, wf.repo_paths[0], target)
        # A staging folder per repo, kept on failure (huggingface-hub resumes its .incomplete file there); the
        # official layout (sd-vae/, whisper/) differs from the repos' own, and the final rename is atomic.
        stage = root / STAGING_DIR / wf.repo_id.replace("/", "--")
        try:
            got = Path(hf_hub_download(wf.repo_id, wf.repo_paths[0], local_dir=stage))
            os.replace(got, target)
        except Exception as exc:  # the hub raises many types (HTTP, connection, offline mode, disk)
            raise DownloadError(
                f"Could not download {wf.repo_id}/{wf.repo_paths[0]}: {_short(exc)}.",
                "Check your internet connection (or HF_ENDPOINT / HF_HUB_OFFLINE), then run it again; "
                "finished and partial files are kept.",
            ) from exc
    shutil.rmtree(root / STAGING_DIR, ignore_errors=True)  # everything is in place: nothing left to resume
    return root


def _check_hub_reachable(timeout_s: float = 5.0) -> None:
    """One quick request to the hub, so that offline reads as one sentence within seconds instead of after
    huggingface-hub's retries (30 s and a dozen warnings). Any HTTP answer counts as reachable."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    hint = "Check your internet connection, then try again; files already downloaded are kept."
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}:
        raise DownloadError("Could not download the weights: offline mode is on (HF_HUB_OFFLINE is set).",
                            "Unset HF_HUB_OFFLINE. " + hint)
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - DNS, refused, timeout, proxy: all mean the same to the user
        raise DownloadError(f"Could not download the weights: {constants.ENDPOINT} cannot be reached "
                            f"({type(exc).__name__}).", hint) from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": .")


# ------------------------------------------------------------------------------------------ make-random


def make_random(weights_dir: str | os.PathLike[str], size: Size = "tiny", seed: int = 0) -> Path:
    """Write random-init models in exactly the official layout and formats.

    ``unet.pth`` is a bare state_dict beside ``musetalk.json``; the VAE and Whisper use ``save_pretrained``.
    ``full`` uses the official architectures; ``tiny`` is small enough for CPU unit tests.
    """
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    if size not in SIZES:
        raise WeightsError(f"Unknown size {size!r}: use 'tiny' or 'full'.")
    root = Path(weights_dir)
    root.mkdir(parents=True, exist_ok=True)
    unet_cfg = OFFICIAL_UNET_CONFIG if size == "full" else TINY_UNET_CONFIG
    vae_cfg = OFFICIAL_VAE_CONFIG if size == "full" else TINY_VAE_CONFIG
    whisper_cfg = OFFICIAL_WHISPER_CONFIG if size == "full" else TINY_WHISPER_CONFIG

    torch.manual_seed(seed)
    stage = make_temp_dir("make-random", root)
    try:
        (stage / UNET_DIR).mkdir()
        (stage / UNET_DIR / "musetalk.json").write_text(json.dumps(unet_cfg, indent=2))
        unet = UNet2DConditionModel.from_config({k: v for k, v in unet_cfg.items() if not k.startswith("_")})
        torch.save(unet.state_dict(), stage / UNET_DIR / "unet.pth")
        del unet

        AutoencoderKL(**vae_cfg).save_pretrained(stage / VAE_DIR)

        whisper = WhisperModel(WhisperConfig(**whisper_cfg))
        whisper.save_pretrained(stage / WHISPER_DIR)
        WhisperFeatureExtractor(feature_size=whisper_cfg["num_mel_bins"]).save_pretrained(stage / WHISPER_DIR)
        del whisper

        for sub in (UNET_DIR, VAE_DIR, WHISPER_DIR):
            dest = root / sub
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(stage / sub, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log.info("wrote %s random weights to %s", size, root)
    return root
