"""User-facing error types.

The library raises these; the CLI turns them into one message and exit code 2, the app into ``gr.Error``.
Anything else that escapes is a bug.
"""
from __future__ import annotations


class MuseTalkError(Exception):
    """A failure the user can act on: ``message`` says what went wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class InputError(MuseTalkError):
    """A user-supplied file or parameter cannot be used."""


class NoFaceError(InputError):
    """No face was found where one is required."""

    HINT = "Use a video where one face is clearly visible, roughly facing the camera."

    def __init__(self, where: str) -> None:
        """``where``: the place looked at, e.g. "any frame of clip.mp4"; the message and hint are the same
        for every caller."""
        super().__init__(f"No face was found in {where}.", self.HINT)


class WeightsError(MuseTalkError):
    """Weights are missing, partial or unreadable."""


class DownloadError(MuseTalkError):
    """Weights could not be fetched (offline, hub unreachable, disk full)."""
