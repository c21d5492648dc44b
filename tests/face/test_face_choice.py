"""Choosing one face among several (``FaceConfig.face``): numbering, points, bad values, and tracking that never
jumps to the other person. Synthetic landmarks for the rules, two copies of the bundled photo for MediaPipe."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from face_helpers import synthetic_face

from musetalk.config import FaceConfig, parse_face_choice
from musetalk.errors import InputError
from musetalk.face import FaceAnalyzer, FaceTracker
from musetalk.face.choice import left_to_right, nearest_face, select_face, track_of

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SHAPE = (360, 640, 3)


# -- the rules, on synthetic landmarks -------------------------------------------------------------------------
def _faces() -> list:
    """Three faces, given out of order: a small one on the right, a big one in the middle, one on the left."""
    return left_to_right([synthetic_face(560, 150, 20), synthetic_face(320, 150, 60), synthetic_face(80, 150, 30)])


def test_faces_are_numbered_left_to_right() -> None:
    xs = [track_of(f)[0] for f in _faces()]
    assert xs == sorted(xs) and xs[0] == pytest.approx(80, abs=1)
    for n, x in enumerate(xs):
        assert track_of(_faces()[select_face(parse_face_choice(str(n)), _faces(), SHAPE)])[0] == x
    assert select_face(parse_face_choice("largest"), _faces(), SHAPE) == 1  # the middle one is the biggest


def test_point_picks_the_face_that_covers_it() -> None:
    assert select_face(parse_face_choice("565,160"), _faces(), SHAPE) == 2
    assert select_face(parse_face_choice("75,140"), _faces(), SHAPE) == 0


@pytest.mark.parametrize("text, words", [
    ("3", "Face 3 was chosen, but the first frame with faces has only 3 faces (numbered 0 to 2"),
    ("700,10", "The face point 700,10 lies outside the 640x360 frame."),
    ("200,20", "No face covers the point 200,20"),
])
def test_a_choice_that_fits_no_face_says_why(text: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        select_face(parse_face_choice(text), _faces(), SHAPE)
    assert words in str(err.value)


def test_one_face_is_counted_in_the_singular() -> None:
    with pytest.raises(InputError, match=r"has only 1 face \(numbered 0 from left to right\)"):
        select_face(parse_face_choice("1"), [synthetic_face()], SHAPE)


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "1,2,3", "x,y", "", True, None, 2.0])
def test_bad_choices_fail_when_the_config_is_made(bad: object) -> None:
    with pytest.raises(InputError, match="is not valid: use largest, a face number"):
        FaceConfig(face=bad)  # type: ignore[arg-type]


def test_good_choices_have_one_spelling() -> None:
    assert [FaceConfig(face=v).face for v in ("largest", " Largest", 1, "01", "10, 20")] == [
        "largest", "largest", "1", "1", "10,20"]
    assert FaceConfig().face == "largest"


def test_nearest_face_follows_position_and_size_not_the_largest() -> None:
    last = track_of(synthetic_face(80, 150, 30))
    faces = [synthetic_face(95, 155, 31), synthetic_face(320, 150, 60)]
    assert nearest_face(faces, last) == 0
    # The chosen face is gone: the other person is far away, so nobody is taken.
    assert nearest_face([faces[1]], last) is None
    assert nearest_face([faces[1]], last, frames_lost=1000) is None  # however long it was lost
    # Same place but three times the size: not the same person.
    assert nearest_face([synthetic_face(80, 150, 90)], last) is None


# -- MediaPipe on two copies of the photo -----------------------------------------------------------------------
def _head(size: int) -> np.ndarray:
    """The photo's head and shoulders, (size, size, 3) uint8."""
    photo = cv2.imread(str(ASSETS / "face.jpg"))
    return cv2.resize(photo[0:300, 75:375], (size, size), interpolation=cv2.INTER_AREA)


def _two_faces(left_x: int = 20, right_x: int = 330, hide_left: bool = False) -> np.ndarray:
    """(360, 640, 3): a smaller head on the left (face 0), a larger one on the right (face 1, the largest)."""
    frame = np.full(SHAPE, 150, np.uint8)
    if not hide_left:
        frame[70:320, left_x:left_x + 250] = _head(250)
    frame[20:320, right_x:right_x + 300] = _head(300)
    return frame


def _centre_x(lm) -> float:
    return track_of(lm)[0]


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer(static_image_mode=True) as fa:
        yield fa


def test_find_faces_numbers_both_faces_left_to_right(analyzer: FaceAnalyzer) -> None:
    faces = analyzer.find_faces(_two_faces())
    assert len(faces) == 2
    assert _centre_x(faces[0]) < 270 < 330 < _centre_x(faces[1])


@pytest.mark.parametrize("static", [True, False])
@pytest.mark.parametrize("choice, side", [("largest", "right"), ("0", "left"), ("1", "right"),
                                          ("160,130", "left"), ("490,110", "right")])
def test_the_chosen_face_is_synced(choice: str, side: str, static: bool) -> None:
    with FaceAnalyzer(static_image_mode=static, choice=parse_face_choice(choice)) as fa:
        lm = fa.analyze(_two_faces())
    assert lm is not None
    assert (_centre_x(lm) < 320) == (side == "left")


def test_a_bad_choice_fails_on_the_first_frame_with_faces() -> None:
    with FaceAnalyzer(choice=parse_face_choice("2")) as fa:
        assert fa.analyze(np.full(SHAPE, 150, np.uint8)) is None  # no faces yet: nothing to check
        with pytest.raises(InputError, match="has only 2 faces"):
            fa.analyze(_two_faces())


def test_tracking_stays_on_the_chosen_face_while_both_move() -> None:
    """The heads move towards each other (the left 6 px a frame, the right 2); the left one (face 0) vanishes for 4 frames and comes back.
    Face 0 is followed, the gap gives None (the frame passes through), never the other head."""
    seen = []
    with FaceAnalyzer(choice=parse_face_choice("0")) as fa:
        for i in range(16):
            frame = _two_faces(left_x=10 + 6 * i, right_x=335 - 2 * i, hide_left=6 <= i < 10)
            lm = fa.analyze(frame)
            seen.append(None if lm is None else _centre_x(lm))
    for i, x in enumerate(seen):
        if 6 <= i < 10:
            assert x is None, f"frame {i}: the hidden face 0 was replaced by another at x={x}"
        else:
            assert x is not None and abs(x - (10 + 6 * i + 125)) < 25, f"frame {i}: face at {x}"


def test_largest_still_takes_the_other_face_when_its_face_is_lost() -> None:
    """The default keeps today's behaviour: after a lost track it re-detects the largest face."""
    with FaceAnalyzer() as fa:
        assert _centre_x(fa.analyze(_two_faces())) > 330
        lm = fa.analyze(_two_faces(right_x=330))
        assert lm is not None and _centre_x(lm) > 330


def test_tracker_passes_the_choice_and_lists_faces() -> None:
    with FaceTracker(FaceConfig(face="0", smooth=False), static_image_mode=True) as tracker:
        face = tracker(_two_faces())
        assert face is not None and face.box[2] < 320
        assert len(tracker.faces(_two_faces())) == 2
