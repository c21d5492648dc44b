"""The app's silence / frame-rate / quality settings become the same InferenceConfig fields as the CLI's."""
from __future__ import annotations

from fractions import Fraction

import pytest

from musetalk.errors import InputError
from musetalk.ui.controls import FPS_CHOICES, run_settings


def test_output_settings_map_to_the_config():
    run = run_settings("keep", "29.97", 23.0)
    assert run["silence"].mode == "keep" and run["fps"] == Fraction(30000, 1001) and run["crf"] == 23
    assert run_settings("close", "source", 18)["fps"] is None
    assert all(c == "source" or run_settings("close", c, 18)["fps"] for c in FPS_CHOICES)


@pytest.mark.parametrize("silence, fps", [("mute", "25"), ("close", "fast")])
def test_bad_values_are_a_sentence(silence, fps):
    with pytest.raises(InputError):
        run_settings(silence, fps, 18)
