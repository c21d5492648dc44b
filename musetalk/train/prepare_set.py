"""Preparing a whole dataset: every clip of DATA into CACHE, several at once in worker processes, then a manifest.

Each worker process loads the frozen models once and prepares one source at a time; the parent collects what
became of each source, so a bad clip is one line of the report, never the end of the run. Preparing again
reuses every clip whose files and settings did not change (see ``prepare.source_key``).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ..config import Progress, no_progress
from ..models import MuseTalkModels, load_models
from .cache import write_manifest
from .clip_features import weights_id
from .clip_list import ClipSource, list_clips
from .prepare import PrepareConfig, PreparedSource, prepare_source

log = logging.getLogger(__name__)


@dataclass
class DatasetReport:
    cache: Path
    manifest: Path
    results: list[PreparedSource]

    @property
    def clips(self) -> list[dict[str, Any]]:
        return [c for r in self.results for c in r.clips]

    @property
    def skipped(self) -> list[PreparedSource]:
        return [r for r in self.results if r.skipped]

    def lines(self) -> list[str]:
        """The report for people: one line per skipped source, then a summary."""
        out = [f"skipped {r.source}: {r.skipped}" for r in self.skipped]
        cached = sum(len(r.clips) for r in self.results if r.cached)
        frames = sum(c["rows"] for c in self.clips)
        out.append(f"{len(self.clips)} clips ready ({frames} frames with a face; {cached} clips from earlier runs), "
                   f"{len(self.skipped)} of {len(self.results)} sources skipped; manifest: {self.manifest}")
        return out


def prepare_dataset(data: Path | list[ClipSource], cache: Path, cfg: PrepareConfig, weights: Path | None = None,
                    device: str = "cpu", workers: int = 1, models: MuseTalkModels | None = None,
                    progress: Progress = no_progress) -> DatasetReport:
    """Prepare every clip of ``data`` (DATA path, or the sources) into ``cache``; write CACHE/manifest.json.

    workers 1 prepares in this process (with ``models`` when given); more start that many worker processes,
    each with its own fp32 models and an equal share of the CPU threads."""
    cfg.validate()
    sources = list_clips(Path(data)) if not isinstance(data, list) else data
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    if models is None and workers <= 1:
        models = load_models(weights, device, "fp32")
    weights_dir = models.weights_dir if models is not None else _weights_dir(weights)
    results: list[PreparedSource] = []
    stream = (_in_process(models, sources, cache, cfg) if workers <= 1 or len(sources) == 1 and models else
              _in_workers(sources, cache, cfg, weights_dir, device, workers))
    for result in stream:
        results.append(result)
        if result.skipped:
            log.info("skipped %s: %s", result.source, result.skipped)
        progress("clips", len(results), len(sources))
    settings = {"prepare": asdict(cfg), "weights": weights_id(weights_dir)}
    manifest = write_manifest(cache, [c for r in results for c in r.clips],
                              [{"source": r.source, "reason": r.skipped} for r in results if r.skipped], settings)
    return DatasetReport(cache, manifest, results)


def _weights_dir(weights: Path | None) -> Path:
    from ..weights import check_weights, resolve_weights_dir

    return check_weights(resolve_weights_dir(weights))


def _in_process(models: MuseTalkModels, sources: list[ClipSource], cache: Path,
                cfg: PrepareConfig) -> Iterator[PreparedSource]:
    for src in sources:
        yield _guarded(models, src, cache, cfg)


def _guarded(models: MuseTalkModels, src: ClipSource, cache: Path, cfg: PrepareConfig) -> PreparedSource:
    try:
        return prepare_source(models, src, cache, cfg)
    except Exception as exc:  # noqa: BLE001 - one clip's failure (a decoder crash, say) must not end the dataset
        log.exception("preparing %s failed", src.video)
        return PreparedSource(str(src.video), [], skipped=f"failed: {type(exc).__name__}: {exc}")


def _in_workers(sources: list[ClipSource], cache: Path, cfg: PrepareConfig, weights: Path, device: str,
                workers: int) -> Iterator[PreparedSource]:
    # spawn, not fork: a forked child would inherit the parent's torch and mediapipe thread pools half-initialised.
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(str(weights), device, threads)) as pool:
        futures = [pool.submit(_work, src, str(cache), cfg) for src in sources]
        for future in as_completed(futures):
            yield future.result()


_WORKER_MODELS: MuseTalkModels | None = None  # one set per worker process, loaded by its initializer


def _init_worker(weights: str, device: str, threads: int) -> None:
    global _WORKER_MODELS
    import torch

    torch.set_num_threads(threads)
    _WORKER_MODELS = load_models(weights, device, "fp32")


def _work(src: ClipSource, cache: str, cfg: PrepareConfig) -> PreparedSource:
    assert _WORKER_MODELS is not None, "the worker initializer loads the models"
    return _guarded(_WORKER_MODELS, src, Path(cache), cfg)
