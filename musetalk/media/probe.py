"""What a media file holds: streams, display size, frame rate, duration, rotation.

Parsed from the stderr of ``ffmpeg -hide_banner -i PATH`` (there is no ffprobe here) and confirmed by decoding
the first frame (or the first moments of audio) in the same ffmpeg run, so that a truncated or corrupt file fails
here with a clear message instead of deep inside the pipeline. One probe is one ffmpeg process.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from musetalk.config import FPS
from musetalk.errors import InputError
from musetalk.media._ffmpeg import last_error_line, run_ffmpeg
from musetalk.media.color import ColorTags, parse_color

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
_SUPPORTED_HINT = (
    "Use a video (mp4, mov, mkv, ...), an image (png, jpg, webp, bmp) or an audio file (wav, mp3, m4a, ...)."
)

_INPUT_RE = re.compile(r"^Input #0, (?P<fmt>.+?), from ")
_DURATION_RE = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")
_STREAM_RE = re.compile(r"^\s*Stream #0:\d+\S*: (?P<kind>Video|Audio|Subtitle|Data|Attachment): (?P<rest>.*)$")
_SIZE_RE = re.compile(r", (?P<w>\d+)x(?P<h>\d+)\b")
_SAR_RE = re.compile(r"\[SAR (?P<n>\d+):(?P<d>\d+) DAR")
_RATE_RE = r"(?P<v>\d+(?:\.\d+)?)(?P<k>k?) {unit}\b"
_FPS_RE = re.compile(_RATE_RE.format(unit="fps"))
_TBR_RE = re.compile(_RATE_RE.format(unit="tbr"))
_DISPLAYMATRIX_RE = re.compile(r"[Dd]isplay ?[Mm]atrix: rotation of (?P<deg>-?\d+(?:\.\d+)?) degrees")
_ROTATE_TAG_RE = re.compile(r"^\s*rotate\s*: (?P<deg>-?\d+)")


@dataclass
class MediaInfo:
    """Summary of one media file, as ffmpeg will decode it.

    ``width``/``height`` are the *display* size, i.e. after ffmpeg's autorotation on decode (a phone video stored
    1920x1080 with a 90 degree display matrix reports 1080x1920); 0 when there is no video. ``fps`` is the source
    frame rate as ffmpeg reports it (0.0 when unknown or no video). ``duration`` is the container duration in
    seconds (0.0 for a still image or when unknown). ``n_frames`` is the number of frames after resampling to
    25 fps: 1 for a still image, 0 without video, and for a video the *estimate* ``round(duration * 25)``; a
    video's real count can differ by a frame or so (or by much, for a truncated file), so readers stream until
    ffmpeg stops rather than trusting it. ``rotation`` is the display rotation in degrees, in [0, 360).
    """

    path: Path
    has_video: bool
    has_audio: bool
    width: int
    height: int
    fps: float
    duration: float
    n_frames: int
    is_image: bool
    rotation: int
    audio_codec: str = ""  # the first audio stream's codec as ffmpeg names it (pcm_s16le, pcm_f32le, aac, ...)
    audio_rate: int = 0  # its sample rate in Hz (0: no audio, or not stated)
    sar: tuple[int, int] | None = None  # the video's sample aspect ratio when it is not square (720x576 PAL: 16:15)
    color: ColorTags | None = None  # its colour tags (range, matrix, primaries, transfer), when it states them


def check_readable_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path, or raise InputError if it is missing, a directory or not readable."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"File not found: {p}.", "Check the path and try again.")
    if not p.is_file():
        raise InputError(f"{p} is not a file.", "Pass the path of a media file, not a folder.")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p} cannot be read (permission denied).", "Check the file's permissions.")
    if p.stat().st_size == 0:
        raise InputError(f"{p} is empty (0 bytes).", "The file was not saved or copied completely; pick another.")
    return p


def _rate(match: re.Match[str] | None) -> float:
    if match is None:
        return 0.0
    value = float(match.group("v"))
    return value * 1000.0 if match.group("k") else value


def _is_image_format(formats: list[str], path: Path) -> bool:
    """Still images come through the image2 demuxer or one of the ``*_pipe`` image demuxers (png_pipe, ...)."""
    if any(f == "image2" or f.endswith("_pipe") for f in formats):
        return True
    # Animated formats (gif, apng) have their own demuxers and count as video even with an image extension.
    return path.suffix.lower() in IMAGE_EXTENSIONS and not any(f in ("gif", "apng") for f in formats)


def _looks_like_mp4(path: Path) -> bool:
    """An ISO media file starts with a box header: 4 size bytes, then a known box type."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head[4:8] in (b"ftyp", b"mdat", b"moov", b"free", b"skip", b"wide")


@dataclass
class _Header:
    """The raw facts of ffmpeg's description of an input."""

    formats: list[str]
    duration: float
    video: str | None  # the description of the first real video stream (not cover art)
    has_audio: bool
    rotation: float
    audio: str = ""  # the description of the first audio stream


def _read_lines(stderr: str) -> _Header:
    h = _Header([], 0.0, None, False, 0.0)
    in_video = False  # are we inside the first video stream's metadata / side-data block?
    for line in stderr.splitlines():
        if m := _INPUT_RE.match(line):
            h.formats = m.group("fmt").split(",")
        elif m := _DURATION_RE.search(line):
            h.duration = int(m.group("h")) * 3600 + int(m.group("m")) * 60 + float(m.group("s"))
        elif m := _STREAM_RE.match(line):
            kind, rest = m.group("kind"), m.group("rest")
            in_video = False
            if kind == "Audio" and not h.has_audio:
                h.has_audio, h.audio = True, rest
            elif kind == "Video" and h.video is None and "(attached pic)" not in rest:
                h.video, in_video = rest, True
        elif in_video and ((m := _DISPLAYMATRIX_RE.search(line)) or (m := _ROTATE_TAG_RE.match(line))):
            h.rotation = float(m.group("deg"))
    return h


def parse_ffmpeg_header(stderr: str, path: Path) -> MediaInfo:
    """Build a MediaInfo from the stderr of ``ffmpeg -hide_banner -i path`` (no decoding is checked here).

    Only the input's description is read: a run that also writes an output lists the output's streams after
    ``Stream mapping:``, and those are not the file's.
    """
    stderr = re.split(r"^(?:Stream mapping:|Output #0)", stderr, maxsplit=1, flags=re.MULTILINE)[0]
    h = _read_lines(stderr)
    audio_codec = h.audio.split(maxsplit=1)[0].rstrip(",") if h.audio else ""
    audio_rate = int(m.group(1)) if (m := re.search(r"(\d+) Hz", h.audio)) else 0
    formats, duration, video, has_audio, rotation = h.formats, h.duration, h.video, h.has_audio, h.rotation
    if not formats:
        if "moov atom not found" in stderr and _looks_like_mp4(path):  # the index (written last) is missing
            raise InputError(f"{path} could not be opened as media: it is truncated (the end of the file, which "
                             "holds its index, is missing).",
                             "The recording, copy or download did not finish; re-export or re-download it.")
        raise InputError(f"{path} could not be opened as media: {last_error_line(stderr)}.", _SUPPORTED_HINT)

    width = height = 0
    fps = 0.0
    sar: tuple[int, int] | None = None
    color = None
    if video is not None:
        color = parse_color(video)
        if size := _SIZE_RE.search(video):
            width, height = int(size.group("w")), int(size.group("h"))
        fps = _rate(_FPS_RE.search(video)) or _rate(_TBR_RE.search(video))
        if (m := _SAR_RE.search(video)) and int(m.group("n")) > 0 and int(m.group("d")) > 0:
            n, d = int(m.group("n")), int(m.group("d"))
            sar = None if n == d else (n, d)
    rot = int(round(rotation)) % 360
    if rot in (90, 270):  # ffmpeg autorotates on decode, so the frames we get are transposed
        width, height = height, width
        sar = sar and (sar[1], sar[0])

    is_image = video is not None and _is_image_format(formats, path)
    if is_image:
        duration, n_frames = 0.0, 1
    elif video is not None:
        n_frames = max(1, round(duration * FPS)) if duration > 0 else 0
    else:
        n_frames = 0
    return MediaInfo(
        path=path,
        has_video=video is not None,
        has_audio=has_audio,
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        n_frames=n_frames,
        is_image=is_image,
        rotation=rot,
        audio_codec=audio_codec,
        audio_rate=audio_rate,
        sar=sar,
        color=None if is_image else color,  # a photo's (JPEG: full range, RGB "gbr") are not a video's
    )


def read_header(path: str | os.PathLike[str]) -> MediaInfo:
    """Check the file and parse what ffmpeg says about it, without decoding anything. Raises InputError."""
    p = check_readable_file(path)
    result = run_ffmpeg(["-i", str(p)], timeout=60)
    stderr = result.stderr.decode("utf-8", errors="replace")
    info = parse_ffmpeg_header(stderr, p)
    if not info.has_video and not info.has_audio:
        raise InputError(f"{p} contains no video or audio stream.", _SUPPORTED_HINT)
    return info


# Decode the first video frame (grey, cheap) and up to 0.5 s of audio into framecrc's text: one line per decoded
# packet, and a "#media_type N: video|audio" line per output stream, so the one run shows what decoded.
_DECODE_ARGS = ["-map", "0:v:0?", "-map", "0:a:0?", "-frames:v", "1", "-t", "0.5", "-pix_fmt", "gray",
                "-f", "framecrc", "pipe:1"]
_MEDIA_TYPE_RE = re.compile(r"^#media_type (?P<i>\d+): (?P<kind>\w+)", re.MULTILINE)
_PACKET_RE = re.compile(r"^(?P<i>\d+),", re.MULTILINE)


def _check_decodes(info: MediaInfo, framecrc: str, returncode: int, stderr: str) -> None:
    """Raise InputError unless the first video frame (or, without video, the audio) decoded in the probe run."""
    kinds = {int(m.group("i")): m.group("kind") for m in _MEDIA_TYPE_RE.finditer(framecrc)}
    decoded = {kinds.get(int(m.group("i"))) for m in _PACKET_RE.finditer(framecrc)}
    if info.has_video and "video" in decoded:
        return
    if not info.has_video and ("audio" in decoded or returncode == 0):
        return  # a well-formed audio file with no samples: load_audio reports "audio is empty"
    what = "video frame" if info.has_video else "audio"
    raise InputError(
        f"{info.path} is truncated or corrupt: no {what} could be decoded ({last_error_line(stderr)}).",
        "Re-export or re-download the file.",
    )


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe a video, image or audio file; raises InputError if it is missing, unreadable, not media or corrupt.

    One ffmpeg run reads the header and decodes the first frame (or the first 0.5 s of audio).
    """
    p = check_readable_file(path)
    result = run_ffmpeg(["-i", str(p), *_DECODE_ARGS], timeout=60)
    stderr = result.stderr.decode("utf-8", errors="replace")
    info = parse_ffmpeg_header(stderr, p)
    if not info.has_video and not info.has_audio:
        raise InputError(f"{p} contains no video or audio stream.", _SUPPORTED_HINT)
    if info.has_video and (info.width <= 0 or info.height <= 0):
        raise InputError(f"{info.path} has a video stream of unknown size; it looks corrupt.", _SUPPORTED_HINT)
    _check_decodes(info, result.stdout.decode("utf-8", errors="replace"), result.returncode, stderr)
    logger.debug("probed %s: %s", info.path, info)
    return info
