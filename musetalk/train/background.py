"""A training run in a background thread, with a stop event and a status the UI can poll. No UI code here."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MuseTalkError
from ..models import MuseTalkModels
from .config import TrainConfig
from .trainer import TrainJob, TrainResult, train

log = logging.getLogger(__name__)


@dataclass
class BackgroundRun:
    """``start()`` trains in a daemon thread; ``stop()`` asks it to end after the current step (with a save).

    models: returns built models to train with (called in the training thread; see ``train``), or None to load.
    """

    job: TrainJob
    cfg: TrainConfig
    models: Callable[[], MuseTalkModels] | None = None
    stage: str = "waiting"
    done: int = 0
    total: int = 0
    result: TrainResult | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def run_dir(self) -> Path:
        return Path(self.job.out)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> BackgroundRun:
        self._thread = threading.Thread(target=self._main, name=f"train-{self.run_dir.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total

    def _main(self) -> None:
        try:
            models = self.models() if self.models is not None else None
            self.result = train(self.job, self.cfg, stop=self._stop, progress=self._progress, models=models)
            self.stage = self.result.status
        except MuseTalkError as exc:
            self.error, self.stage = str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - a thread must report, not die silently
            log.exception("training run %s failed", self.run_dir)
            self.error, self.stage = f"unexpected {type(exc).__name__}: {exc}", "failed"
