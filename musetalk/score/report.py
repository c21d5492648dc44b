"""``score_video``: every number about one result, from one pass over its frames (and its source's).

What it measures:
- the offline sync score and A/V offset (``offset.py``), needing no weights;
- SyncNet's LSE-C / LSE-D when the user has ``syncnet_v2.model`` (``syncnet.py``);
- mouth opening in the silent stretches of the audio against during speech (the "mouth stays open" number);
- jitter: frame-to-frame lip and crop-box motion;
- with ``source``: PSNR/SSIM inside and outside the blend region, and the source's own opening and jitter.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musetalk.config import FPS, FaceConfig, Progress, VadConfig, no_progress
from musetalk.errors import InputError, NoFaceError
from musetalk.face.track import FaceTracker
from musetalk.media.audio import load_audio
from musetalk.media.probe import MediaInfo, probe
from musetalk.media.video import iter_frames
from musetalk.score.mouth import MouthTrack, mouth_track
from musetalk.score.offset import SyncConfig, SyncEstimate, estimate_sync
from musetalk.score.quality import QualityMeter, box_motion, finite_mean, region_mask
from musetalk.score.speech import silent_frames, silent_stretches, speech_track

PathLike = str | os.PathLike[str]


@dataclass
class ScoreConfig:
    """sync, vad: the offset finder's and the silence detector's settings. face: how the blend region is cut
    (use the settings the result was made with). syncnet: a ``syncnet_v2.model`` to also give LSE-C / LSE-D."""

    sync: SyncConfig = field(default_factory=SyncConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    syncnet: Path | None = None
    vshift: int = 15
    device: str = "cpu"


@dataclass
class ClipMotion:
    """Mouth measures of one video, and mean frame-to-frame motion of its lips (eye distances) and box (widths)."""

    mouth: MouthTrack
    boxes: np.ndarray  # (N, 4) float64, NaN where no face

    @property
    def lip_motion(self) -> float | None:
        return finite_mean(self.mouth.speed[1:])

    @property
    def box_motion(self) -> float:
        return round(box_motion(self.boxes), 5)


@dataclass
class ScoreReport:
    video: str
    audio: str
    source: str | None
    frames: int
    face_frames: int
    fps: float
    sync: SyncEstimate
    silence: dict[str, Any]
    jitter: dict[str, Any]
    quality: dict[str, Any] | None = None
    syncnet: dict[str, Any] | None = None
    series: dict[str, list[float | None]] = field(default_factory=dict, repr=False)

    def to_dict(self, series: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not series:
            out.pop("series")
        return out

    def lines(self) -> list[str]:
        """The report as short human-readable lines (the CLI prints them, the app shows them)."""
        out = [f"sync: {self.sync.summary()}"]
        if self.syncnet:
            out.append(f"SyncNet: LSE-C {self.syncnet['lse_c']:.3f}, LSE-D {self.syncnet['lse_d']:.3f}, "
                       f"offset {self.syncnet['offset_frames']:+d} frames")
        s = self.silence
        if s["silent_s"] > 0:
            src = "" if s.get("source_opening_silent") is None else f" (source {s['source_opening_silent']:.4f})"
            out.append(f"mouth opening: {_num(s['opening_silent'])} in {s['silent_s']:.1f} s of silence{src}, "
                       f"{_num(s['opening_speech'])} in speech")
        else:
            out.append(f"mouth opening: {_num(s['opening_speech'])} (no silent stretch in the audio)")
        j = self.jitter
        src = "" if j.get("source_lip_motion") is None else \
            f" (source {_num(j['source_lip_motion'])} / {_num(j['source_box_motion'])})"
        out.append(f"jitter: lips {_num(j['lip_motion'])}, box {_num(j['box_motion'])} per frame{src}")
        if self.quality:
            q = self.quality
            out.append(f"vs source ({q['frames']} frames): outside the blend PSNR {_num(q['outside']['psnr'], 2)} dB "
                       f"SSIM {_num(q['outside']['ssim'])}; inside PSNR {_num(q['inside']['psnr'], 2)} dB "
                       f"SSIM {_num(q['inside']['ssim'])}")
        return out


def _num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _video_info(path: PathLike, role: str) -> MediaInfo:
    info = probe(path)
    if not info.has_video:
        raise InputError(f"The {role} {info.path.name} has no video stream.", "Pass the video file itself.")
    return info


def _frames(info: MediaInfo) -> Iterator[np.ndarray]:
    if info.is_image:  # a result made from a photo is compared with that photo in every frame
        still = next(iter_frames(info))
        return (still.copy() for _ in itertools.count())
    return iter_frames(info)


class _Scan:
    """Landmarks and boxes of one video, frame by frame."""

    def __init__(self, face: FaceConfig, static: bool) -> None:
        self.tracker = FaceTracker(face, static_image_mode=static)
        self.points: list[np.ndarray] = []
        self.boxes: list[tuple[float, ...]] = []

    def add(self, frame: np.ndarray):  # -> TrackedFace | None
        tracked = self.tracker(frame)
        self.points.append(np.full((468, 2), np.nan, np.float32) if tracked is None
                           else tracked.landmarks.points.astype(np.float32))
        self.boxes.append((np.nan,) * 4 if tracked is None else tuple(float(v) for v in tracked.box))
        return tracked

    def motion(self) -> ClipMotion:
        self.tracker.close()
        points = np.stack(self.points) if self.points else np.zeros((0, 468, 2), np.float32)
        return ClipMotion(mouth_track(points), np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4))


def scan(info: MediaInfo, src: MediaInfo | None, face: FaceConfig,
         progress: Progress) -> tuple[ClipMotion, ClipMotion | None, QualityMeter | None]:
    """One pass over the result (and the source beside it): their motion, and the quality meter."""
    result = _Scan(face, static=info.is_image)
    if src is None:
        for i, frame in enumerate(iter_frames(info)):
            result.add(frame)
            progress("score", i + 1, max(info.n_frames, 1))
        return result.motion(), None, None
    source, meter = _Scan(face, static=src.is_image), QualityMeter()
    src_frames = _frames(src)
    try:
        for i, frame in enumerate(iter_frames(info)):
            result.add(frame)
            # a result longer than its source (looped) is compared where the two line up, and scored throughout
            src_frame = next(src_frames, None)
            if src_frame is not None:
                tracked = source.add(src_frame)
                inside = region_mask(frame.shape, None if tracked is None else tracked.box,
                                     None if tracked is None else tracked.mask(face))
                meter.add(frame, src_frame, inside)
            progress("score", i + 1, max(info.n_frames, 1))
    finally:
        src_frames.close()
    return result.motion(), source.motion(), meter


def score_video(video: PathLike, audio: PathLike | None = None, source: PathLike | None = None,
                cfg: ScoreConfig | None = None, progress: Progress = no_progress) -> ScoreReport:
    """Score a lip-synced ``video`` against ``audio`` (default: its own sound track) and, optionally, ``source``.

    Raises InputError for unreadable files, a video without frames, no sound to score against, or a source of
    another size; NoFaceError when no frame has a face.
    """
    cfg = cfg or ScoreConfig()
    info = _video_info(video, "video")
    audio_info = probe(audio) if audio is not None else info
    if not audio_info.has_audio:
        raise InputError(f"{info.path.name} has no sound track to score the lips against.",
                         "Pass the speech it was made with as the audio.")
    src = _video_info(source, "source") if source is not None else None
    if src is not None and (src.width, src.height) != (info.width, info.height):
        raise InputError(f"The source {src.path.name} is {src.width}x{src.height} but {info.path.name} is "
                         f"{info.width}x{info.height}.", "Pass the video the result was made from.")
    speech_audio = load_audio(audio_info)
    motion, src_motion, meter = scan(info, src, cfg.face, progress)
    n = len(motion.mouth)
    if n == 0 or not motion.mouth.found.any():
        raise NoFaceError(f"any frame of {info.path.name}")
    speech = speech_track(speech_audio, n, FPS)
    silent = silent_frames(speech, cfg.vad)
    sync = estimate_sync(motion.mouth, speech, cfg.sync)
    report = ScoreReport(
        video=str(info.path), audio=str(audio_info.path), source=None if src is None else str(src.path),
        frames=n, face_frames=int(motion.mouth.found.sum()), fps=float(FPS), sync=sync,
        silence=_silence(motion, src_motion, silent),
        jitter={"lip_motion": motion.lip_motion, "box_motion": motion.box_motion,
                "source_lip_motion": None if src_motion is None else src_motion.lip_motion,
                "source_box_motion": None if src_motion is None else src_motion.box_motion},
        series={"opening": [_f(v) for v in motion.mouth.opening], "speech_db": [_f(v) for v in speech.mid_db],
                "silent": [float(v) for v in silent]})
    if meter is not None and meter.frames:
        report.quality = {"frames": meter.frames, "inside": asdict(meter.region("inside")),
                          "outside": asdict(meter.region("outside"))}
    if cfg.syncnet is not None:
        report.syncnet = _syncnet(info, audio_info, cfg)
    return report


def _f(v: float) -> float | None:
    """JSON has no NaN: a frame without a face is None."""
    return round(float(v), 5) if np.isfinite(v) else None


def _silence(motion: ClipMotion, src_motion: ClipMotion | None, silent: np.ndarray) -> dict[str, Any]:
    n = len(motion.mouth)
    silent = silent[:n]
    out: dict[str, Any] = {
        "silent_s": round(float(silent.sum()) / FPS, 2), "speech_s": round(float((~silent).sum()) / FPS, 2),
        "stretches": [(round(a, 2), round(b, 2)) for a, b in silent_stretches(silent, FPS)],
        "opening_silent": finite_mean(motion.mouth.opening, silent),
        "opening_speech": finite_mean(motion.mouth.opening, ~silent),
        "source_opening_silent": None, "source_opening_speech": None}
    if src_motion is not None:
        m = min(len(src_motion.mouth), n)
        out["source_opening_silent"] = finite_mean(src_motion.mouth.opening[:m], silent[:m])
        out["source_opening_speech"] = finite_mean(src_motion.mouth.opening[:m], ~silent[:m])
    return out


def _syncnet(info: MediaInfo, audio_info: MediaInfo, cfg: ScoreConfig) -> dict[str, Any]:
    from musetalk.score.syncnet import syncnet_score

    result = syncnet_score(info.path, audio_info.path if audio_info is not info else None, cfg.syncnet,
                           vshift=cfg.vshift, device=cfg.device)
    return asdict(result)


