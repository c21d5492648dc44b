"""What every tab of the app shares: folders, device and dtype, and one lazily loaded pipeline.

``AppContext`` is the only object handed to the tab builders (``build_demo``, ``build_finetune_tab``). It holds
no per-user state (that lives in ``gr.State``); the pipeline is loaded on first use, cached, and reloaded only
when another fine-tuned model is selected.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from .estimate import SpeedLog
from .jobs import DeviceJobs

if TYPE_CHECKING:
    from ..pipeline import LipSyncPipeline

log = logging.getLogger(__name__)

BASE_MODEL = "base"


@dataclass
class AppContext:
    weights_dir: Path
    device: str = "auto"
    dtype: str = "auto"
    avatars_dir: Path = Path("avatars")
    runs_dir: Path = Path("runs")
    outputs_dir: Path = Path("outputs")
    assets_dir: Path | None = None  # the demo inputs offered as examples (app.py passes the project's assets/)
    log_path: Path | None = None  # where unexpected errors are logged, named in the UI's error message
    live_sessions: int = 1  # live avatar sessions (the Live tab and /live/ws) at once; one more is refused
    jobs: DeviceJobs = field(default_factory=DeviceJobs, init=False, repr=False)  # Cancel, per browser session
    speed: SpeedLog = field(default_factory=SpeedLog, init=False, repr=False)  # for the time estimates
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _pipeline: LipSyncPipeline | None = field(default=None, init=False, repr=False)
    _loaded_key: str | None = field(default=None, init=False, repr=False)

    def pipeline(self, finetuned: str | None = None) -> LipSyncPipeline:
        """The pipeline for the base model (``None`` or ``"base"``) or a finished run in ``runs_dir``.

        Loaded once and cached; asking for another fine-tuned model replaces the cached one. Thread-safe.
        Raises :class:`WeightsError` when the weights are missing, :class:`InputError` for an unknown run.
        """
        key = None if finetuned in (None, "", BASE_MODEL) else finetuned
        with self._lock:
            if self._pipeline is not None and self._loaded_key == key:
                return self._pipeline
            from ..pipeline import build_pipeline

            run_dir = None
            if key is not None:
                run_dir = self.runs_dir / key
                if not run_dir.is_dir():
                    raise InputError(f"There is no fine-tuned model named {key!r} in {self.runs_dir}.",
                                     "Pick another model, or choose 'base'.")
            self._pipeline = None  # free the old models before loading new ones
            log.info("loading the %s model", key or BASE_MODEL)
            self._pipeline = build_pipeline(self.weights_dir, self.device, self.dtype, run_dir)
            self._loaded_key = key
            return self._pipeline

    def asset(self, name: str) -> Path | None:
        """A demo input by file name, or None when the app was given no assets folder or it lacks the file."""
        path = self.assets_dir / name if self.assets_dir is not None else None
        return path if path is not None and path.is_file() else None

    def forget_pipeline(self) -> None:
        """Drop the cached pipeline (after the weights changed, e.g. a download finished)."""
        with self._lock:
            self._pipeline = None
            self._loaded_key = None
