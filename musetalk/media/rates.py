"""Frame rates: the output rate of a job (``--fps source|N``), kept exact as fractions (23.976 is 24000/1001).

Rule for a source: its average frame rate as ffmpeg reports it (for a variable-frame-rate file too), snapped to
the nearest standard rate when within 1 % of one (23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60), else rounded
to a whole number of frames per second. A still image, or a video whose rate is unknown, gives 25 (MuseTalk's).
"""
from __future__ import annotations

from fractions import Fraction

from musetalk.config import FPS
from musetalk.errors import InputError

STANDARD_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                  Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60))
MAX_FPS = 120


def standard_rate(fps: float) -> Fraction:
    """A measured rate -> the rate used: the nearest standard one within 1 %, else the nearest whole number."""
    if fps <= 0:
        return Fraction(FPS)
    nearest = min(STANDARD_RATES, key=lambda r: abs(float(r) - fps))
    if abs(float(nearest) - fps) <= 0.01 * fps:
        return nearest
    return Fraction(max(1, round(fps)))


def parse_fps(text: str | float | int | None) -> Fraction | None:
    """``--fps`` / a task's ``fps``: "source" (None) or a rate (30, 23.976, 29.97, 24000/1001). InputError if bad."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "source"):
        return None
    try:
        value = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(f"The frame rate {text!r} is not a number.",
                         "Use source (the video's own rate) or a rate such as 25, 30, 29.97 or 24000/1001.") from None
    if not 1 <= value <= MAX_FPS:
        raise InputError(f"The frame rate {text} is outside 1..{MAX_FPS} fps.",
                         "Use source (the video's own rate) or a rate such as 25, 30 or 29.97.")
    snapped = standard_rate(float(value))
    return snapped if abs(float(snapped) - float(value)) < 0.005 else value.limit_denominator(1001)


def output_rate(source_fps: float, is_image: bool, requested: Fraction | None) -> Fraction:
    """The rate a job writes: the requested one, else the source's (standardised), 25 for a still image."""
    if requested is not None:
        return requested
    if is_image:
        return Fraction(FPS)
    return standard_rate(source_fps)


def rate_text(fps: Fraction) -> str:
    """For ffmpeg and people: 25, 30000/1001."""
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"
