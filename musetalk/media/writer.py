"""Streaming video writes over an ffmpeg pipe: raw BGR frames in, H.264 (yuv420p) + AAC out, written atomically.

``VideoWriter`` encodes frames and muxes an audio track in the same ffmpeg run; the target path only ever appears
complete. ``check_output_path`` is the one check of a destination, run before any work.
"""
from __future__ import annotations

import logging
import os
import secrets
import subprocess
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import numpy as np

from musetalk.config import CRF, FPS
from musetalk.errors import InputError, MuseTalkError
from musetalk.media._ffmpeg import BASE_ARGS, ISOLATE, StderrTail, ffmpeg_exe, stop_process, widen_pipe
from musetalk.media.probe import MediaInfo, probe
from musetalk.media.color import ColorTags
from musetalk.media.video import EXACT_COLOR
from musetalk.priority import lower_process
from musetalk.temp_files import owner_tag, reclaim

logger = logging.getLogger(__name__)

# Containers that can hold H.264 + AAC, mapped to ffmpeg's muxer name.
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def check_output_path(out_path: str | os.PathLike[str],
                      inputs: tuple[str | os.PathLike[str], ...] = ()) -> str:
    """Validate the destination before any work; return the muxer name for its extension. Raises InputError.

    The output must not be one of ``inputs`` (inputs are never overwritten), must have a video extension and a
    writable folder (see ``check_output_file``).
    """
    out_path = Path(out_path).expanduser()
    _check_not_an_input(out_path, inputs)
    muxer = _MUXERS.get(out_path.suffix.lower())
    if muxer is None:
        raise InputError(f"Cannot write video to {out_path}: unsupported extension {out_path.suffix!r}.",
                         "Use .mp4 (recommended), .mov, .m4v or .mkv.")
    _check_folder(out_path)
    return muxer


def check_output_file(out_path: str | os.PathLike[str], suffixes: tuple[str, ...],
                      inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    """The same checks for any other output file (a report, a plot): not an input, one of ``suffixes``
    (lower case, with the dot), a writable folder. Returns the path. Raises InputError."""
    out_path = Path(out_path).expanduser()
    _check_not_an_input(out_path, inputs)
    if out_path.suffix.lower() not in suffixes:
        raise InputError(f"Cannot write {out_path}: expected a {' or '.join(suffixes)} file name.",
                         f"Give a name such as result{suffixes[0]}.")
    _check_folder(out_path)
    return out_path


def _check_not_an_input(out_path: Path, inputs: tuple[str | os.PathLike[str], ...]) -> None:
    for inp in inputs:
        inp = Path(inp).expanduser()
        same = out_path.resolve() == inp.resolve()
        if not same and out_path.exists() and inp.exists():
            same = os.path.samefile(out_path, inp)  # hard links
        if same:
            raise InputError(f"The output path {out_path} is the same as an input ({inp}).",
                             "Choose another output file name; inputs are never overwritten.")


def _check_folder(out_path: Path) -> None:
    """The folder exists and takes a new file. Writability is tested by creating (and removing) a file: permission
    bits say nothing for root, and read-only mounts or immutable folders only show when one tries."""
    parent = out_path.parent
    if not parent.is_dir():
        raise InputError(f"Output folder {parent} does not exist.", "Create it first or choose another path.")
    if out_path.is_dir():
        raise InputError(f"Output path {out_path} is a folder.", "Give a file name such as out.mp4.")
    probe_file = parent / f".{out_path.stem}.{secrets.token_hex(4)}.write-test"
    try:
        probe_file.touch(exist_ok=False)
        probe_file.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"Output folder {parent} is not writable ({reason}).",
                         "Choose a folder you can write to.") from exc


def remove_orphaned_temp_files(out_path: Path) -> list[Path]:
    """Delete the hidden temporary videos for ``out_path`` whose writing process no longer exists."""
    return reclaim(out_path.parent, f".{out_path.stem}.")


class VideoWriter:
    """Encode BGR frames to an H.264 video, optionally muxing an audio file's track, written atomically.

    Frames go raw over ffmpeg's stdin; ffmpeg encodes libx264 yuv420p (``crf``, ``preset``) with
    ``-movflags +faststart`` and, if ``audio_path`` is given, re-encodes its first audio stream to AAC in the same
    run (``-map 0:v -map 1:a``). Audio is not cut (no ``-shortest``): write ``round(audio_seconds * fps)``
    frames for the two to line up; otherwise the file lasts as long as the longer of the two tracks.

    The file has exactly the frames' size. 4:2:0 (yuv420p, what every player takes) needs even dimensions, so an
    odd width or height is encoded 4:4:4 (yuv444p) instead of being padded: the user gets the source's size.
    ``sar``: the source's sample aspect ratio (num, den), written into the stream so that an anamorphic source
    (720x576 at 16:15) still displays at its aspect (4:3). ``color``: the source's colour tags; the frames are
    converted with its matrix and range and the stream is tagged with them (``media/color.py``).

    ffmpeg writes to a hidden temporary file beside ``out_path`` (same folder and extension), renamed onto
    ``out_path`` only when ``close()`` succeeds. On ``abort()``, an exception inside the ``with`` block, or an
    ffmpeg failure, the temporary file is removed and ``out_path`` (if it already existed) is left untouched.
    """

    def __init__(self, out_path: str | os.PathLike[str], width: int, height: int, fps: int = FPS,
                 audio_path: str | os.PathLike[str] | MediaInfo | None = None, crf: int = CRF,
                 preset: str = "veryfast", sar: tuple[int, int] | None = None,
                 color: ColorTags | None = None) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self.out_path = Path(out_path).expanduser()
        self.width, self.height, self.fps = int(width), int(height), fps
        self.frames_written = 0
        self._state = "open"  # -> "closed" (out_path written) or "aborted" (nothing written)
        muxer = check_output_path(self.out_path)
        audio = None
        if audio_path is not None:  # a MediaInfo is an earlier probe of it: not probed again
            audio_info = audio_path if isinstance(audio_path, MediaInfo) else probe(audio_path)
            if not audio_info.has_audio:
                raise InputError(f"{audio_info.path} has no audio track to put in the video.",
                                 "Pass an audio file (wav, mp3, ...) or a video with sound.")
            audio = audio_info.path

        # Not mkstemp: its 0600 mode would survive ffmpeg's O_TRUNC and the rename. ffmpeg creates the file itself
        # (mode from the umask, like any other output); the pid-token name keeps concurrent writers apart and
        # lets a later writer remove what a killed one (SIGKILL, power loss) left behind.
        remove_orphaned_temp_files(self.out_path)
        stem, suffix = self.out_path.stem, self.out_path.suffix
        self._tmp_path = self.out_path.with_name(f".{stem}.{owner_tag()}.tmp{suffix}")
        cmd = [ffmpeg_exe(), *BASE_ARGS, "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{self.width}x{self.height}", "-framerate", str(fps),
               "-i", "pipe:0"]
        if audio is not None:
            cmd += ["-i", str(audio)]
        cmd += ["-map", "0:v:0"] + (["-map", "1:a:0"] if audio is not None else [])
        cmd += self._video_args(crf, preset, sar, color)
        if audio is not None:
            cmd += ["-c:a", "aac", "-b:a", "192k"]
        if muxer in ("mp4", "mov"):
            cmd += ["-movflags", "+faststart"]
        cmd += ["-f", muxer, str(self._tmp_path)]
        logger.debug("ffmpeg write: %s", cmd)
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **ISOLATE)
        except OSError:
            self._tmp_path.unlink(missing_ok=True)
            raise
        lower_process(self._proc)  # it encodes beside the models: see priority.py
        assert self._proc.stderr is not None
        widen_pipe(self._proc.stdin)
        self._tail = StderrTail(self._proc.stderr)

    def _video_args(self, crf: int, preset: str, sar: tuple[int, int] | None,
                    color: ColorTags | None) -> list[str]:
        odd = self.width % 2 or self.height % 2
        filters = [f"setsar={sar[0]}/{sar[1]}"] if sar and sar[0] > 0 and sar[1] > 0 else []
        filters += color.writer_filters() if color is not None else []
        args = ["-vf", ",".join(filters)] if filters else []
        return args + [*EXACT_COLOR, "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
                       "-pix_fmt", "yuv444p" if odd else "yuv420p"]

    def write(self, frame_bgr: np.ndarray) -> None:
        """Append one ``(height, width, 3) uint8`` BGR frame. ValueError on a wrong shape or dtype."""
        if self._state != "open" or self._proc is None:
            raise RuntimeError(f"VideoWriter for {self.out_path} is {self._state}")
        if frame_bgr.shape != (self.height, self.width, 3) or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected a ({self.height}, {self.width}, 3) uint8 frame, "
                             f"got {frame_bgr.shape} {frame_bgr.dtype}")
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frame_bgr)).cast("B"))
        except (BrokenPipeError, ValueError, OSError):
            self._fail("ffmpeg stopped accepting frames")
        self.frames_written += 1

    def close(self) -> Path:
        """Finish encoding and move the result onto ``out_path``; returns it. MuseTalkError if ffmpeg fails."""
        if self._state == "closed":
            return self.out_path
        if self._state == "aborted" or self._proc is None:
            raise RuntimeError(f"VideoWriter for {self.out_path} was aborted")
        if self.frames_written == 0:
            self.abort()
            raise MuseTalkError(f"No frames were written to {self.out_path}; nothing to encode.",
                                "The audio may be too short to produce a single frame.")
        proc = self._proc
        assert proc.stdin is not None
        try:
            proc.stdin.close()
        except OSError:  # BrokenPipe when ffmpeg already died; reported through its exit code below
            pass
        rc = proc.wait()
        self._tail.join()
        if rc != 0:
            self._fail(f"ffmpeg exited with code {rc}")
        self._proc = None
        try:
            os.replace(self._tmp_path, self.out_path)
        except OSError as exc:
            self.abort()
            raise MuseTalkError(f"Could not move the finished video onto {self.out_path}: {exc}.") from exc
        self._state = "closed"
        logger.info("wrote %s (%d frames)", self.out_path, self.frames_written)
        return self.out_path

    def abort(self) -> None:
        """Stop ffmpeg and delete the temporary file; ``out_path`` is not created or changed. Idempotent.

        After a successful ``close()`` this does nothing (the finished file stays).
        """
        if self._state == "closed":
            return
        self._state = "aborted"
        if self._proc is not None:
            stop_process(self._proc)
            self._tail.join()
            self._proc = None
        self._tmp_path.unlink(missing_ok=True)

    def _fail(self, what: str) -> None:
        message = self._tail.text() and self._tail.last_line()
        self.abort()
        raise MuseTalkError(f"Could not write {self.out_path}: {what}" + (f" ({message})." if message else "."))

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:  # a writer dropped without close() must not leave ffmpeg or a temp file behind
        if getattr(self, "_proc", None) is not None:
            self.abort()


def write_video(out_path: str | os.PathLike[str], frames: Iterable[np.ndarray],
                audio_path: str | os.PathLike[str] | None = None, fps: int = FPS) -> Path:
    """Encode ``frames`` (each ``(H, W, 3) uint8`` BGR, size taken from the first) to ``out_path``; returns it.

    Streams: frames are consumed one at a time. See ``VideoWriter`` for the format, audio and atomicity.
    """
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise MuseTalkError(f"No frames were given for {out_path}; nothing to encode.")
    height, width = first.shape[:2]
    with VideoWriter(out_path, width, height, fps=fps, audio_path=audio_path) as writer:
        writer.write(first)
        for frame in iterator:
            writer.write(frame)
    return writer.out_path
