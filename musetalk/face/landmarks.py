"""Face detection and 468-point face-mesh landmarks with MediaPipe.

Pipeline per frame:

1. In video mode, if the previous frame had a face, crop a square around its landmarks and run the mesh on it
   (tracking; no detector call). This is the cheap path: ~3.5-4 ms per frame at 720p on 2 CPU cores.
2. Otherwise run the full-range BlazeFace detector (``model_selection=1``) on the whole frame, keep the largest
   face, crop an enlarged square around it and run a static mesh on that crop (~13 ms).
3. If that finds nothing (or the mesh rejects the box), detect again on overlapping ~500 px tiles, which finds
   faces down to ~25-30 px tall in a 1280x720 frame; the whole frame alone misses faces under ~55 px.

With a face choice other than "largest" (``FaceConfig.face``: a number or a point, see ``face.choice``), step 2
meshes every detected face: the first frame with faces applies the choice, and a later re-detection takes the
face nearest the last known position and size, or none, never simply the largest.

Running the mesh on a face-centred crop, never on the full frame, is what makes small faces work: the mesh's own
detector is short-range and would miss a 60 px face in a full-body shot.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from musetalk.config import FaceChoice
from musetalk.face.choice import Track, is_same_face, left_to_right, nearest_face, select_face, track_of

logger = logging.getLogger(__name__)

NUM_LANDMARKS = 468
MESH_INPUT = 256  # the crop is resized to this square before the mesh (which works at 192 internally)
DETECT_MAX_SIDE = 640  # frames are area-downscaled to this long side before detection (the model works at 192)
TILE_MIN = 480  # smallest detection tile side (pixels) for the small-face fallback
DET_CROP_SCALE = 1.8  # crop side / detector box side
TRACK_CROP_SCALE = 1.7  # crop side / landmark box long side
# A tracked mesh is trusted only if its face fills a plausible part of the crop and stays away from its edges.
_MIN_FILL, _MAX_FILL = 0.25, 0.95


@dataclass
class FaceLandmarks:
    """Landmarks of one face in full-frame pixels.

    points: (468, 2) float32, (x, y) pixels of the MediaPipe face mesh in the full frame (may lie slightly outside
        it when the face is cut by the frame edge).
    det_box: (x1, y1, x2, y2) int pixels (clipped to the frame) of the detection that seeded the mesh; on a
        tracked frame (no detector call) it is the square around the previous frame's landmarks that placed the
        crop. Informational: the crop box comes from the points (``face_box``).
    """

    points: np.ndarray
    det_box: tuple[int, int, int, int]

    def bounds(self) -> tuple[float, float, float, float]:
        """(min_x, min_y, max_x, max_y) of the points, float pixels."""
        mn = self.points.min(axis=0)
        mx = self.points.max(axis=0)
        return float(mn[0]), float(mn[1]), float(mx[0]), float(mx[1])


def _square_around(cx: float, cy: float, side: float) -> tuple[int, int, int]:
    """Integer square (x0, y0, side) centred on (cx, cy); may extend past the frame."""
    s = max(int(round(side)), 8)
    return int(round(cx - s / 2)), int(round(cy - s / 2)), s


def _crop_square(frame: np.ndarray, x0: int, y0: int, side: int, out: int) -> np.ndarray:
    """(out, out, 3) uint8 crop of ``frame`` over the square [x0, x0+side) x [y0, y0+side), black outside the frame."""
    h, w = frame.shape[:2]
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + side, w), min(y0 + side, h)
    if cx1 <= cx0 or cy1 <= cy0:
        return np.zeros((out, out, 3), np.uint8)
    region = frame[cy0:cy1, cx0:cx1]
    if (cx0, cy0, cx1, cy1) != (x0, y0, x0 + side, y0 + side):
        region = cv2.copyMakeBorder(
            region, cy0 - y0, y0 + side - cy1, cx0 - x0, x0 + side - cx1, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
    interp = cv2.INTER_AREA if side > out else cv2.INTER_LINEAR
    return cv2.resize(region, (out, out), interpolation=interp)


class FaceAnalyzer:
    """Finds the chosen face (by default the largest) in a BGR frame and returns its 468 mesh landmarks.

    static_image_mode: True treats every frame independently (detector + mesh each call, ~13 ms).
        False (video) tracks: the previous landmarks place the crop, and the detector runs only when the
        mesh loses the face (~3.5 ms). Feed frames in order in video mode; the tracked face is kept even if a
        larger one appears, until it is lost.
    min_detection_confidence: detector score threshold in [0, 1].
    choice: which face; a number or a point is applied to the first frame with faces (in static mode, to every
        frame) and raises InputError when it fits none of them.

    MediaPipe is imported and its graphs are built on the first ``analyze`` call, not at construction.
    Not thread-safe: use one analyzer per thread.
    """

    def __init__(self, static_image_mode: bool = False, min_detection_confidence: float = 0.5,
                 choice: FaceChoice | None = None) -> None:
        self.static_image_mode = static_image_mode
        self.min_detection_confidence = min_detection_confidence
        self.choice = choice or FaceChoice()
        self._detector: Any = None
        self._mesh: Any = None  # static mesh: runs its own detector on every crop
        self._track_mesh: Any = None  # video mode only: mesh that follows its previous ROI (no detector)
        self._track: Track | None = None  # (cx, cy, long side) of the last landmark box, while tracking
        self._last: Track | None = None  # the chosen face's last known place, kept across a lost track
        self._frames_lost = 0  # frames since the chosen face was last seen

    # -- lifecycle -------------------------------------------------------------------------------------------
    def _ensure_models(self) -> None:
        if self._mesh is not None:
            return
        import mediapipe as mp  # lazy: heavy import, and keeps `import musetalk` cheap

        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=self.min_detection_confidence
        )
        mesh_args: dict[str, Any] = {
            "max_num_faces": 1,
            "refine_landmarks": False,
            "min_detection_confidence": self.min_detection_confidence,
        }
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, **mesh_args)
        if not self.static_image_mode:
            # A video-mode mesh keeps its ROI between calls. Tracked crops are always face-centred at a similar
            # scale, so that ROI stays valid from crop to crop and it skips its internal detector (~3 ms vs ~5 ms).
            # It is not used right after a re-detection: a stale ROI there makes it miss the face for one frame.
            self._track_mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, **mesh_args)

    def close(self) -> None:
        """Release the MediaPipe graphs. The analyzer can be used again afterwards (graphs are rebuilt)."""
        for model in (self._detector, self._mesh, self._track_mesh):
            if model is not None:
                model.close()
        self._detector = self._mesh = self._track_mesh = None
        self.reset()

    def reset(self) -> None:
        """Forget the tracked face (call between unrelated videos); a choice applies again to the next faces."""
        self._track = self._last = None
        self._frames_lost = 0

    def __enter__(self) -> FaceAnalyzer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- analysis --------------------------------------------------------------------------------------------
    def analyze(self, frame_bgr: np.ndarray) -> FaceLandmarks | None:
        """Landmarks of the chosen face in ``frame_bgr`` ((H, W, 3) uint8 BGR), or None when it is not there."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}")
        self._ensure_models()

        if self._track is not None and not self.static_image_mode:
            cx, cy, long_side = self._track
            x0, y0, side = _square_around(cx, cy, long_side * TRACK_CROP_SCALE)
            points = self._mesh_on_square(self._track_mesh, frame_bgr, x0, y0, side)
            if points is not None:
                half = long_side / 2
                h, w = frame_bgr.shape[:2]
                return self._accept(points, _clip_box((cx - half, cy - half, cx + half, cy + half), w, h))
            logger.debug("face track lost; re-detecting")
            self._track = None
        if self.choice.kind != "largest":
            return self._choose(frame_bgr)

        for detect in (self._detect_largest, self._detect_largest_tiled):
            det_box = detect(frame_bgr)
            points = None if det_box is None else self._mesh_on_detection(frame_bgr, det_box)
            if points is not None:
                return self._accept(points, det_box)
        return None

    def _mesh_on_detection(self, frame_bgr: np.ndarray, det_box: tuple[int, int, int, int]) -> np.ndarray | None:
        x1, y1, x2, y2 = det_box
        x0, y0, side = _square_around((x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * DET_CROP_SCALE)
        return self._mesh_on_square(self._mesh, frame_bgr, x0, y0, side)

    def _accept(self, points: np.ndarray, det_box: tuple[int, int, int, int]) -> FaceLandmarks:
        lm = FaceLandmarks(points=points, det_box=det_box)
        self._track = self._last = track_of(lm)
        self._frames_lost = 0
        return lm

    def _choose(self, frame_bgr: np.ndarray) -> FaceLandmarks | None:
        """The chosen face among all found: by the choice until it is first seen, then the nearest to it."""
        faces = self.find_faces(frame_bgr)
        if self._last is None or self.static_image_mode:
            k = select_face(self.choice, faces, frame_bgr.shape) if faces else None
        else:
            k = nearest_face(faces, self._last, self._frames_lost)
            if k is None:
                self._frames_lost += 1
                logger.debug("chosen face not found near %s (%d faces elsewhere)", self._last, len(faces))
        return None if k is None else self._accept(faces[k].points, faces[k].det_box)

    def find_faces(self, frame_bgr: np.ndarray) -> list[FaceLandmarks]:
        """Every face with a plausible mesh, left to right (the numbering of ``--face N``); the tiled detector
        runs only when the whole frame gives none. Leaves the tracked face alone."""
        self._ensure_models()
        h, w = frame_bgr.shape[:2]
        for detect in (self._detect_whole, self._detect_tiled):
            faces: list[FaceLandmarks] = []
            for box in sorted(detect(frame_bgr), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True):
                det_box = _clip_box(box, w, h)
                points = self._mesh_on_detection(frame_bgr, det_box)
                if points is None:
                    continue
                face = FaceLandmarks(points=points, det_box=det_box)
                if not any(is_same_face(face, other) for other in faces):  # overlapping tiles, neighbour crops
                    faces.append(face)
            if faces:
                return left_to_right(faces)
        return []

    def _detect_largest(self, frame_bgr: np.ndarray) -> tuple[int, int, int, int] | None:
        """Box (x1, y1, x2, y2) in frame pixels of the largest face the detector finds on the whole frame."""
        h, w = frame_bgr.shape[:2]
        return _largest(self._detect_whole(frame_bgr), w, h)

    def _detect_largest_tiled(self, frame_bgr: np.ndarray) -> tuple[int, int, int, int] | None:
        h, w = frame_bgr.shape[:2]
        return _largest(self._detect_tiled(frame_bgr), w, h)

    def _detect_whole(self, frame_bgr: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Detector boxes (x1, y1, x2, y2), frame pixels, on the whole frame."""
        h, w = frame_bgr.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
        # Area-downscaling first keeps faces crisp: MediaPipe's own resize to 192 px does not antialias.
        small = frame_bgr
        if scale < 1.0:
            small = cv2.resize(frame_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return self._detect_boxes(small, 0, 0, w / small.shape[1])

    def _detect_tiled(self, frame_bgr: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Like ``_detect_whole`` but on overlapping square tiles, for faces too small for the whole frame.

        The detector sees 192 px; on a whole 1280x720 frame a face under ~55 px is missed or boxed wrongly, on a
        ~500 px tile faces down to ~25 px are found.
        """
        h, w = frame_bgr.shape[:2]
        side = min(max(TILE_MIN, int(np.ceil(w / 2.5)), int(np.ceil(h / 1.6))), h, w)
        boxes: list[tuple[float, float, float, float]] = []
        for y0 in _tile_starts(h, side):
            for x0 in _tile_starts(w, side):
                tile = frame_bgr[y0 : y0 + side, x0 : x0 + side]
                boxes += self._detect_boxes(tile, x0, y0, 1.0)
        return boxes

    def _detect_boxes(
        self, image_bgr: np.ndarray, x0: int, y0: int, scale: float
    ) -> list[tuple[float, float, float, float]]:
        """Detector boxes on ``image_bgr`` as frame-pixel (x1, y1, x2, y2): image pixel * scale + (x0, y0)."""
        result = self._detector.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        ih, iw = image_bgr.shape[:2]
        out = []
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            bx, by = x0 + rb.xmin * iw * scale, y0 + rb.ymin * ih * scale
            out.append((bx, by, bx + rb.width * iw * scale, by + rb.height * ih * scale))
        return out

    @staticmethod
    def _mesh_on_square(mesh: Any, frame_bgr: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray | None:
        """(468, 2) float32 frame-pixel landmarks from the mesh run on a square crop, or None if no plausible face."""
        crop = _crop_square(frame_bgr, x0, y0, side, MESH_INPUT)
        result = mesh.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        if not result.multi_face_landmarks:
            return None
        lms = result.multi_face_landmarks[0].landmark
        norm = np.array([(p.x, p.y) for p in lms[:NUM_LANDMARKS]], dtype=np.float32)
        # Reject meshes that hug the crop border or are implausibly small/large for a face-centred crop.
        mn, mx = norm.min(axis=0), norm.max(axis=0)
        fill = float(max(mx - mn))
        centre = (mn + mx) / 2
        if not (_MIN_FILL <= fill <= _MAX_FILL) or np.any(np.abs(centre - 0.5) > 0.25):
            logger.debug("mesh rejected: fill %.2f centre %s", fill, centre)
            return None
        return norm * np.float32(side) + np.array([x0, y0], dtype=np.float32)


def _tile_starts(length: int, side: int) -> list[int]:
    """Start offsets of tiles of ``side`` covering [0, length) with at least 25 % overlap."""
    if side >= length:
        return [0]
    n = int(np.ceil((length - side) / (0.75 * side))) + 1
    return [int(round(v)) for v in np.linspace(0, length - side, n)]


def _largest(boxes: list[tuple[float, float, float, float]], w: int, h: int) -> tuple[int, int, int, int] | None:
    """The largest box, clipped to the frame as ints, or None."""
    if not boxes:
        return None
    return _clip_box(max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])), w, h)


def _clip_box(box: tuple[float, float, float, float], w: int, h: int) -> tuple[int, int, int, int]:
    """A detector box clipped to the frame as ints."""
    bx1, by1, bx2, by2 = box
    x1 = int(np.clip(bx1, 0, w - 1))
    y1 = int(np.clip(by1, 0, h - 1))
    x2 = int(np.clip(bx2, x1 + 1, w))
    y2 = int(np.clip(by2, y1 + 1, h))
    return x1, y1, x2, y2
