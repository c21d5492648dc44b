"""Cancel for the device jobs (Check, Generate, Prepare, Speak): one flag per browser session.

The flag is checked at every progress report, which the library makes once per batch, so a cancelled job stops
within one batch. It stops by raising :class:`JobCancelled` from inside the library call: the writers are atomic
(``VideoWriter``, the avatar's work folder), so nothing half-written is left, and the handler returns, which frees
the device slot for the next job in the queue. Gradio's own ``cancels=`` is not used: it drops the asyncio task
but leaves the worker thread running, so the next job would start on the device beside the old one.

No gradio here: the handlers pass ``request.session_hash``.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..config import Progress
from ..errors import MuseTalkError


class JobCancelled(MuseTalkError):
    """The user pressed Cancel; nothing was written."""

    def __init__(self) -> None:
        super().__init__("Cancelled. Nothing was written.")


class DeviceJobs:
    """The running job of each session, and the sessions whose queued job was cancelled before it started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}
        self._pending: set[str] = set()

    @contextmanager
    def run(self, session: str | None) -> Iterator[threading.Event]:
        """Register a job of ``session`` for its duration; raises JobCancelled at once if it was cancelled while
        it waited in the queue. Yields the event that ``cancel`` sets."""
        key = session or ""
        event = threading.Event()
        with self._lock:
            if key in self._pending:
                self._pending.discard(key)
                event.set()
            self._running[key] = event
        try:
            if event.is_set():
                raise JobCancelled()
            yield event
        finally:
            with self._lock:
                if self._running.get(key) is event:
                    del self._running[key]

    def cancel(self, session: str | None) -> bool:
        """Stop the session's running job at its next batch (True), or its queued job when it starts (False)."""
        key = session or ""
        with self._lock:
            event = self._running.get(key)
            if event is not None:
                event.set()
                return True
            self._pending.add(key)
            return False

    def finished(self, session: str | None) -> None:
        """The page's job chain ended: a Cancel pressed after the job ended must not stop the next one."""
        with self._lock:
            self._pending.discard(session or "")


def checked(progress: Progress, cancel: threading.Event) -> Progress:
    """``progress`` that raises JobCancelled first once ``cancel`` is set."""

    def report(stage: str, done: int, total: int) -> None:
        if cancel.is_set():
            raise JobCancelled()
        progress(stage, done, total)

    return report
