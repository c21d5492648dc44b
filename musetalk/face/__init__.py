"""Face analysis for lip-sync: landmarks, tracking over time, the MuseTalk crop box, blend masks, pasting back.

Importing this package is cheap: MediaPipe is imported on the first ``FaceAnalyzer.analyze`` call.
"""
from musetalk.face.blend import draw_face_numbers, draw_preview, paste_back
from musetalk.face.crop import BoxSmoother, bbox_shift_range, crop_face, face_box
from musetalk.face.landmarks import FaceAnalyzer, FaceLandmarks
from musetalk.face.mask import blend_mask
from musetalk.face.track import FaceTracker, TrackedFace

__all__ = [
    "FaceAnalyzer",
    "FaceLandmarks",
    "FaceTracker",
    "TrackedFace",
    "face_box",
    "bbox_shift_range",
    "BoxSmoother",
    "crop_face",
    "blend_mask",
    "paste_back",
    "draw_preview",
    "draw_face_numbers",
]
