"""The offline sync score of each held-out clip during training (a ``validation.ValHook``).

The predicted faces of a held-out stretch are read by the face mesh, and their mouth opening is correlated with
the stretch's own audio (``score.offset``, the score of ``python -m musetalk score``). A model that has learnt the
audio scores higher with the audio it was given than with another clip's: ``sync_other`` scores the same faces
against the other held-out clips' audio (the mean), or with one clip, against its own audio from other moments
(the mean over circular shifts of 1 s and more, every 5 frames); ``sync_truth`` scores the true crops against
their own audio (what a perfect model would reach). Measured on the true crops of ``retalking_face2``'s last
2.5 s: 0.26 with their own audio, -0.005 with ``retalking_face3``'s, -0.016 (std 0.07) over the shifts; one
shift by half the clip happened to give 0.23, hence the mean.

The correlation needs the frames in one stretch: the held-out rows must be consecutive (``--val-frames`` at least
the held-out frame count) and at least ``MIN_FRAMES`` long; other clips are not scored (logged once).
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from ..config import FPS
from ..face.landmarks import FaceAnalyzer
from ..score.mouth import mouth_track
from ..score.offset import HIGHPASS_FRAMES, SyncEstimate, estimate_sync
from ..score.speech import SpeechTrack
from .dataset import ClipSet, ValClip

log = logging.getLogger(__name__)

# A black border round a 256 crop: the mesh's face detector missed 12 of 60 tight crops of retalking_face2 and
# none of the padded ones (opening correlated 0.96 with the full-frame mesh's).
MESH_PAD = 64
MIN_FRAMES = 2 * HIGHPASS_FRAMES  # what the score's high-pass filter needs to leave something
MIN_COVER = 0.9  # rows per frame of the stretch (faceless frames are left out of the rows)


def crop_landmarks(crops: np.ndarray) -> np.ndarray:
    """(n, 256, 256, 3) uint8 BGR crops of consecutive frames -> (n, 468, 2) mesh points in crop pixels, NaN
    where no face was found."""
    points = np.full((len(crops), 468, 2), np.nan)
    with FaceAnalyzer(static_image_mode=False) as analyzer:
        for i, crop in enumerate(crops):
            padded = cv2.copyMakeBorder(crop, MESH_PAD, MESH_PAD, MESH_PAD, MESH_PAD, cv2.BORDER_CONSTANT, value=0)
            lm = analyzer.analyze(padded)
            if lm is not None:
                points[i] = lm.points - MESH_PAD
    return points


class SyncHook:
    """ValHook: ``sync_own``, ``sync_other``, ``sync_truth`` (correlations at zero offset, in [-1, 1]) and the
    offset the score finds with the own audio (``sync_offset_ms``, ``sync_confident`` 1/0)."""

    def __init__(self, data: ClipSet) -> None:
        self.data = data
        self._truth: dict[str, SyncEstimate] = {}  # the true crops never change
        self._skipped: set[str] = set()

    def __call__(self, vc: ValClip, predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
        stretch = self._stretch(vc)
        if stretch is None:
            return {}
        first, span, at = stretch
        mouth = self._mouth(predicted, at, span)
        if int(mouth.found.sum()) < MIN_FRAMES:
            self._skip(vc.name, f"the face mesh read {int(mouth.found.sum())} of its {len(at)} predicted faces")
            return {}
        own = self._speech(vc, first, span)
        est = estimate_sync(mouth, own)
        if vc.name not in self._truth:
            self._truth[vc.name] = estimate_sync(self._mouth(truth, at, span), own)
        other = float(np.mean([estimate_sync(mouth, t).sync_at_zero for t in self._other_speech(vc, first, span)]))
        return {"sync_own": est.sync_at_zero, "sync_other": round(other, 4),
                "sync_truth": self._truth[vc.name].sync_at_zero, "sync_offset_ms": est.offset_ms,
                "sync_confident": float(est.confident)}

    def _frames(self, vc: ValClip) -> np.ndarray:
        """The clip frame of each validation row of ``vc``."""
        clip = self.data.clips[vc.samples[0].clip]
        return np.asarray([clip.frame_index[s.targets[0]] for s in vc.samples], np.int64)

    def _stretch(self, vc: ValClip) -> tuple[int, int, np.ndarray] | None:
        """(first frame, frames spanned, each row's place in the stretch), or None when it cannot be scored."""
        frames = self._frames(vc)
        span = int(frames[-1] - frames[0] + 1)
        if len(frames) < MIN_COVER * span:
            self._skip(vc.name, f"its {len(frames)} validation frames are spread over {span}: pass --val-frames "
                                f"{span} or more to score them all")
            return None
        if len(frames) < MIN_FRAMES:
            self._skip(vc.name, f"{len(frames)} held-out frames, {MIN_FRAMES} needed")
            return None
        return int(frames[0]), span, frames - frames[0]

    def _mouth(self, crops: np.ndarray, at: np.ndarray, span: int):
        points = np.full((span, 468, 2), np.nan)
        points[at] = crop_landmarks(crops)
        return mouth_track(points)

    def _speech(self, vc: ValClip, first: int, span: int) -> SpeechTrack:
        clip = self.data.clips[vc.samples[0].clip]
        return SpeechTrack.from_array(clip.speech[first : first + span])

    def _other_speech(self, vc: ValClip, first: int, span: int) -> list[SpeechTrack]:
        """The other held-out clips' audio, each from its first held-out frame; with one clip, its own audio
        shifted round the clip's end by every 5 frames from 1 s to 1 s short of a full turn."""
        others = [o for o in self.data.val if o.name != vc.name]
        if others:
            return [self._speech(o, int(self._frames(o)[0]), span) for o in others]
        speech = np.asarray(self.data.clips[vc.samples[0].clip].speech)
        n, gap = len(speech), round(FPS)
        shifts = range(gap, n - gap + 1, 5) or [n // 2]
        return [SpeechTrack.from_array(np.roll(speech, -k, axis=0)[first : first + span]) for k in shifts]

    def _skip(self, name: str, reason: str) -> None:
        if name not in self._skipped:
            self._skipped.add(name)
            log.warning("no sync score for the held-out clip %s: %s", name, reason)
