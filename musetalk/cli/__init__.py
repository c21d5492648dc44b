"""``python -m musetalk``: generate | avatar | train | dataset | score | weights | bench, one module per command.

User errors (``MuseTalkError``) print one message and exit with code 2; Ctrl-C exits 130; an unexpected bug
prints a short message and the path of a log file holding the traceback.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MuseTalkError
from ..host_memory import reuse_freed_memory
from ..native_log import filtered_native_stderr
from . import avatar, bench, dataset, generate, score, train, weights

log = logging.getLogger("musetalk")

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = generate.EXIT_INTERRUPTED
COMMANDS = (generate, avatar, train, dataset, score, weights, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m musetalk", description="Lip-sync a face video to any speech "
                                     "(MuseTalk v1.5 compatible).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    reuse_freed_memory()  # before any thread starts (see host_memory.py)
    logging.basicConfig(level=logging.INFO if ns.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # `kill`, docker stop, a closed terminal: unwind like Ctrl-C. Off the main thread (embedded), leave signals be.
    stops = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    try:
        previous = {sig: signal.signal(sig, _terminate) for sig in stops}
    except ValueError:
        previous = {}
    try:
        with filtered_native_stderr():
            return ns.func(ns)
    except MuseTalkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted: the output in progress was not written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: keep the traceback out of the user's face, but not out of reach
        log_path = Path(tempfile.gettempdir()) / "musetalk-error.log"
        log_path.write_text(traceback.format_exc())
        exc_type, exc_value = sys.exc_info()[:2]
        print(f"error: unexpected {exc_type.__name__}: {exc_value}. Details in {log_path}; please report it.",
              file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so atomic writers abort and temporary files are removed."""
    raise KeyboardInterrupt
