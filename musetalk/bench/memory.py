"""Peak memory of this process, per phase: RSS (Linux VmHWM, reset through clear_refs) and CUDA allocations.

Where the kernel does not let the peak be reset, a sampling thread (every 20 ms) stands in for it. ffmpeg
child processes are not counted (they are separate processes of a few tens of MB each).
"""
from __future__ import annotations

import resource
import sys
import threading
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    def __init__(self) -> None:
        self._process_peak_kb = 0
        self._sampler: threading.Thread | None = None
        self._sampled_kb = 0
        self._stop = threading.Event()

    def current_rss_mb(self) -> float:
        kb = _status_kb("VmRSS")
        if kb is None:
            kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
        return kb / 1024

    def reset_peak(self) -> None:
        """Start a new phase: the peak from here on."""
        self._process_peak_kb = max(self._process_peak_kb, self._hwm_kb())
        self._stop_sampler()
        try:
            _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
            self._resettable = _status_kb("VmHWM") is not None
        except OSError:
            self._resettable = False
        if not self._resettable:
            self._sampled_kb = int(self.current_rss_mb() * 1024)
            self._stop.clear()
            self._sampler = threading.Thread(target=self._sample, daemon=True, name="musetalk-rss-sampler")
            self._sampler.start()
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def peak_rss_mb(self) -> float:
        """Peak RSS since the last ``reset_peak``."""
        if getattr(self, "_resettable", False):
            kb = self._hwm_kb()
        else:
            self._stop_sampler()
            kb = max(self._sampled_kb, int(self.current_rss_mb() * 1024))
        self._process_peak_kb = max(self._process_peak_kb, kb)
        return kb / 1024

    def process_peak_mb(self) -> float:
        return max(self._process_peak_kb, self._hwm_kb() if getattr(self, "_resettable", False) else 0) / 1024

    @staticmethod
    def peak_cuda_mb() -> float | None:
        import torch

        if not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return None
        return torch.cuda.max_memory_allocated() / 2**20

    def _hwm_kb(self) -> int:
        kb = _status_kb("VmHWM")
        return kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._sampled_kb = max(self._sampled_kb, int(self.current_rss_mb() * 1024))

    def _stop_sampler(self) -> None:
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            self._sampler = None
