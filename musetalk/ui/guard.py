"""Wrap event handlers: library errors become readable messages, GPU work is scheduled on ZeroGPU if present.

``user_errors`` turns :class:`MuseTalkError` into ``gr.Error(message + hint)``, logged as one line (an expected
user error is no bug: no traceback on the console); anything else is logged with its traceback and shown as one
short sentence that names the log file, never as a stack trace. A cancelled job shows a note and changes nothing.
``on_gpu`` is ``spaces.GPU`` when the ``spaces`` package is importable (Hugging Face ZeroGPU), else a no-op.
"""
from __future__ import annotations

import functools
import importlib.util
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from ..errors import MuseTalkError
from .jobs import JobCancelled
from .messages import for_page

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def _to_gr_error(exc: BaseException, log_path: Path | None, action: str) -> gr.Error:
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, MuseTalkError):
        log.info("%s: refused: %s", action, exc)  # the server log keeps the full paths
        return gr.Error(for_page(str(exc)), title="Cannot do that", print_exception=False)
    log.exception("unexpected error in the app (%s)", action)  # the traceback, once, in the console and the log
    where = f" The details were written to {log_path}." if log_path else " The details are in the app's log."
    return gr.Error(f"Something went wrong ({type(exc).__name__}).{where}", title="Unexpected error",
                    print_exception=False)


def _cancelled(action: str) -> None:
    log.info("%s: cancelled", action)
    gr.Info(str(JobCancelled()))


def user_errors(log_path: Path | None = None) -> Callable[[F], F]:
    """Decorator for plain and generator handlers; keeps the signature (gradio reads it for gr.Progress)."""

    def wrap(fn: F) -> F:
        action = fn.__name__
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                try:
                    yield from fn(*args, **kwargs)
                except JobCancelled:
                    _cancelled(action)
                    yield gr.skip()  # the outputs keep what they showed
                except Exception as exc:  # noqa: BLE001 - the UI boundary: everything becomes a message
                    raise _to_gr_error(exc, log_path, action) from None
            return gen_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except JobCancelled:
                _cancelled(action)
                return gr.skip()
            except Exception as exc:  # noqa: BLE001
                raise _to_gr_error(exc, log_path, action) from None
        return wrapper  # type: ignore[return-value]

    return wrap


def on_gpu(duration: int = 120) -> Callable[[F], F]:
    """``spaces.GPU(duration=...)`` on Hugging Face ZeroGPU Spaces; identity elsewhere."""
    if importlib.util.find_spec("spaces") is None:
        return lambda fn: fn
    import spaces  # type: ignore[import-not-found]

    return spaces.GPU(duration=duration)
