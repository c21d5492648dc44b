"""The parameter check on a two-face video: every face found, numbered left to right, the chosen one synced."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_helpers import two_face_clip

from musetalk.config import FaceConfig
from musetalk.errors import InputError
from musetalk.media import iter_frames
from musetalk.preview import preview


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_face_clip(tmp_path_factory.mktemp("preview") / "two.mp4")


@pytest.mark.parametrize("face, chosen", [("largest", 1), ("0", 0), ("1", 1), ("150,200", 0)])
def test_preview_numbers_every_face_and_marks_the_chosen_one(clip: Path, face: str, chosen: int) -> None:
    pv = preview(clip, FaceConfig(face=face))
    assert len(pv.faces) == 2 and pv.faces[0][0] < 320 < pv.faces[1][0]
    assert pv.chosen == chosen
    x1, _, x2, _ = pv.box
    assert (x2 < 320) == (chosen == 0)  # the crop box is on the chosen face
    frame = next(iter_frames(clip))
    drawn = np.any(pv.image != frame, axis=2)
    for k, (bx1, by1, bx2, by2) in enumerate(pv.faces):
        # Each face has its number drawn just above its box (a black label); the other face also its outline.
        label = drawn[max(by1 - 30, 0):by1, bx1:bx1 + 25]
        assert label.mean() > 0.3, f"no number over face {k}"


def test_preview_says_when_the_choice_fits_no_face(clip: Path) -> None:
    with pytest.raises(InputError, match="has only 2 faces"):
        preview(clip, FaceConfig(face="2"))
