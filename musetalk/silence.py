"""The mouth closes when nobody speaks (``--silence close``).

In the silent stretches of the driving audio (``score.speech``'s detector), the lower face shows a closed mouth
taken from the source itself: the source frame whose mouth is most closed (``score.mouth``'s measure), or one the
user names. It is aligned to each frame by a similarity transform fitted on landmarks that do not move with the jaw
(eye corners, nose, cheek edges) and pasted inside the same blend mask as the generated face. The weight of the
closed mouth ramps over ``FADE_FRAMES`` frames into and out of each stretch, so nothing pops. Where the generated
mouth is already as closed as the chosen frame (within ``CLOSED_MARGIN``), it is left alone.

``keep`` is MuseTalk's behaviour: frames are exactly what the model made.
"""
from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from .config import AUDIO_SAMPLE_RATE, FPS, InferenceConfig, SilenceConfig
from .errors import InputError
from .face import TrackedFace
from .face.crop import Box
from .face.landmarks import FaceAnalyzer, FaceLandmarks
from .media import MediaInfo, iter_frames
from .priority import lower_this_thread
from .profiling import stage
from .score.mouth import mouth_opening
from .score.speech import silent_frames, speech_track

log = logging.getLogger(__name__)

FADE_FRAMES = 3  # 120 ms ramps at 25 fps: quick enough to follow speech, slow enough not to pop
CLOSED_MARGIN = 0.01  # opening units (inner-lip area / eye distance^2): "as closed as the chosen frame"
SCAN_FRAMES = 750  # one-shot: the closed frame is chosen among the first 30 s of the source (about 3 s of mesh)
# Face-mesh points that stay put when the jaw moves: eye corners, nose bridge and tip, nose wings, cheek edges.
RIGID_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 98, 327, 234, 454, 127, 356)


def silence_weights(audio: np.ndarray, n_frames: int, cfg: SilenceConfig, fps: float = FPS,
                    sample_rate: int = AUDIO_SAMPLE_RATE) -> np.ndarray:
    """(samples,) float32 16 kHz -> (n_frames,) float32 in [0, 1]: how much of the closed mouth each frame shows.

    All zeros for ``keep`` or when the audio has no silent stretch. Inside a stretch the weight rises over the
    first ``FADE_FRAMES`` frames and falls over the last ones (a triangle when the stretch is shorter).
    """
    weights = np.zeros(n_frames, dtype=np.float32)
    if cfg.mode != "close" or n_frames == 0:
        return weights
    track = speech_track(audio, n_frames, float(fps), sample_rate)
    silent = silent_frames(track, cfg.vad)
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        idx = np.arange(start, stop)
        ramp = np.minimum(idx - start + 1, stop - idx) / (FADE_FRAMES + 1)
        weights[start:stop] = np.minimum(ramp, 1.0)
    return weights


@dataclass
class ClosedMouth:
    """The source frame that supplies the closed mouth: (H, W, 3) uint8 BGR, its landmarks and its opening."""

    frame: np.ndarray
    landmarks: FaceLandmarks
    opening: float
    index: int


def most_closed(openings: Iterable[float]) -> int | None:
    """Index of the smallest finite opening (None when no frame had a face)."""
    values = np.asarray(list(openings), dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    return int(np.flatnonzero(finite)[np.argmin(values[finite])])


def most_closed_face(faces: Iterable[TrackedFace | None]) -> int | None:
    """Index of the face whose mouth is most closed (None when there is none): an avatar's closed frame."""
    return most_closed(np.nan if f is None else float(mouth_opening(f.landmarks.points.astype(np.float64)))
                       for f in faces)


def closed_mouth_from(frame: np.ndarray, landmarks: FaceLandmarks, index: int) -> ClosedMouth:
    return ClosedMouth(frame, landmarks, float(mouth_opening(landmarks.points.astype(np.float64))), index)


def scan_closed_mouth(info: MediaInfo, closed_frame: int | None = None, fps: float = FPS,
                      stop: threading.Event | None = None, shown: int | None = None) -> ClosedMouth | None:
    """The closed-mouth frame of a video: frame ``closed_frame`` if given, else the most closed among the first
    ``shown`` frames (the ones the output shows), at most ``SCAN_FRAMES``. None when those frames have no face
    (the mouth is then never closed), or when ``stop`` is set before the scan ends.

    Scanning only the frames the output shows keeps the scan's cost in proportion to the job (a 16-frame job
    scanned 240 frames, 14 s of CPU taken from the models on two cores), and the closed mouth then comes from the
    same stretch of video as the faces around it, as an avatar's does.

    Raises InputError when ``closed_frame`` is past the end of the video or has no face.
    """
    if closed_frame is not None:
        limit = closed_frame + 1
    else:
        limit = SCAN_FRAMES if shown is None else min(shown, SCAN_FRAMES)
    best: ClosedMouth | None = None
    frames = iter_frames(info, fps)
    try:
        with FaceAnalyzer(static_image_mode=info.is_image) as analyzer:
            for i, frame in enumerate(frames):
                if i >= limit:
                    break
                if stop is not None and stop.is_set():
                    return None
                if closed_frame is not None and i != closed_frame:
                    continue
                lm = analyzer.analyze(frame)
                if lm is None:
                    continue
                candidate = closed_mouth_from(frame, lm, i)
                if best is None or candidate.opening < best.opening:
                    best = candidate
    finally:
        frames.close()
    if closed_frame is not None and best is None:
        raise InputError(f"Frame {closed_frame} of {info.path.name} cannot give the closed mouth: it is past the "
                         f"end of the video or shows no face.", "Name a frame where the face shows with its mouth "
                         "closed (frames count from 0 at 25 fps).")
    return best


def video_closer(info: MediaInfo, wav: np.ndarray, n_frames: int, cfg: InferenceConfig,
                 fps: float = FPS) -> MouthCloser | None:
    """The closer for one-shot generation from ``info`` (None: "keep", no silence in ``wav``, or no face)."""
    weights = silence_weights(wav, n_frames, cfg.silence, fps)
    if not weights.any():
        return None
    if cfg.silence.closed_frame is not None:  # a named frame is read now: a bad one fails before the models run
        with stage("closed_mouth", 0):
            closed = scan_closed_mouth(info, cfg.silence.closed_frame, fps)
        return None if closed is None else MouthCloser(closed, weights)
    return MouthCloser(_ClosedMouthScan(info, fps, n_frames), weights)


class _ClosedMouthScan:
    """The closed-mouth scan of a video, run in its own thread beside the models.

    The scan decodes and analyses up to ``SCAN_FRAMES`` frames on about one core (6 s for a 22 s clip, measured in
    ``bench``); run before the render loop it kept the second core idle and the models waiting. The blend stage
    needs the result only for the first batch's silent frames, long after the scan has finished.
    """

    def __init__(self, info: MediaInfo, fps: float, shown: int) -> None:
        self._stop = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="musetalk-closed-mouth")
        self._future = self._pool.submit(contextvars.copy_context().run, self._scan, info, fps, shown)  # bench timers

    def _scan(self, info: MediaInfo, fps: float, shown: int) -> ClosedMouth | None:
        lower_this_thread()  # and its ffmpeg reader: see priority.py
        with stage("closed_mouth", 0):
            closed = scan_closed_mouth(info, None, fps, self._stop, shown)
        if closed is not None:
            log.info("closed mouth from source frame %d (opening %.4f)", closed.index, closed.opening)
        return closed

    def result(self) -> ClosedMouth | None:
        return self._future.result()

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)


def align(closed: ClosedMouth, face: TrackedFace, box: Box) -> np.ndarray | None:
    """The closed-mouth frame warped onto ``face`` (rigid landmarks), cut to ``box``: (box_h, box_w, 3) uint8.

    None when the fit fails (degenerate landmarks): the frame then keeps the generated face.
    """
    src = closed.landmarks.points[list(RIGID_POINTS)].astype(np.float32)
    dst = face.landmarks.points[list(RIGID_POINTS)].astype(np.float32)
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if m is None:
        return None
    x1, y1, x2, y2 = box
    m[:, 2] -= (x1, y1)  # warp straight into the box: no full-frame warp
    return cv2.warpAffine(closed.frame, m, (x2 - x1, y2 - y1), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


class MouthCloser:
    """Applied in the blend stage, frame by frame in output order (it keeps a little state for the ramps)."""

    def __init__(self, closed: ClosedMouth | _ClosedMouthScan, weights: np.ndarray) -> None:
        self._closed = closed
        self.weights = weights
        self._analyzer: FaceAnalyzer | None = None
        self._need = 0.0  # smoothed "the generated mouth is open" in [0, 1], so leaving alone never pops either
        self.closed_frames = 0

    def apply(self, out_index: int, blended: np.ndarray, face: TrackedFace, mask: np.ndarray) -> np.ndarray:
        """``blended`` (the frame with the generated face pasted) with the closed mouth mixed in by its weight."""
        w = float(self.weights[out_index]) if out_index < self.weights.size else 0.0
        if w > 0 and self.closed is None:  # the video shows no face to take a closed mouth from
            return blended
        target = self._generated_is_open(blended, face) if w > 0 else 0.0
        self._need += float(np.clip(target - self._need, -1.0 / FADE_FRAMES, 1.0 / FADE_FRAMES))
        alpha = w * self._need
        if alpha <= 0:
            return blended
        x1, y1, x2, y2 = face.box
        patch = align(self.closed, face, face.box)
        if patch is None:
            return blended
        a = np.ascontiguousarray(mask * alpha, dtype=np.float32)
        out = blended.copy()
        out[y1:y2, x1:x2] = cv2.blendLinear(patch, np.ascontiguousarray(out[y1:y2, x1:x2]), a, 1.0 - a)
        self.closed_frames += 1
        return out

    @property
    def closed(self) -> ClosedMouth | None:
        """The closed mouth (waits for the scan when it still runs)."""
        if isinstance(self._closed, _ClosedMouthScan):
            scan, self._closed = self._closed, None
            try:
                self._closed = scan.result()
            finally:
                scan.close()
        return self._closed

    def _generated_is_open(self, blended: np.ndarray, face: TrackedFace) -> float:
        """1.0 when the generated mouth is more open than the chosen closed frame (plus the margin), else 0.0."""
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer(static_image_mode=True)
        x1, y1, x2, y2 = face.box
        h = y2 - y1
        # Look at the face around the box (the mesh needs the whole face, the box is its lower part).
        top, bottom = max(0, y1 - h), min(blended.shape[0], y2 + h // 4)
        left, right = max(0, x1 - h // 2), min(blended.shape[1], x2 + h // 2)
        lm = self._analyzer.analyze(np.ascontiguousarray(blended[top:bottom, left:right]))
        if lm is None:
            return 1.0  # the generated face is not even readable: show the source's mouth
        return float(mouth_opening(lm.points.astype(np.float64)) > self.closed.opening + CLOSED_MARGIN)

    def close(self) -> None:
        if isinstance(self._closed, _ClosedMouthScan):
            self._closed.close()
        if self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None
