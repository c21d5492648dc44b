"""Frame rates (media/rates.py) and colour tags (media/color.py)."""
from __future__ import annotations

from fractions import Fraction

import pytest

from musetalk.errors import InputError
from musetalk.media.color import ColorTags, parse_color
from musetalk.media.rates import output_rate, parse_fps, rate_text, standard_rate
from musetalk.models.audio import frame_count, window_starts


@pytest.mark.parametrize("measured, expected", [
    (23.98, Fraction(24000, 1001)), (23.976, Fraction(24000, 1001)), (29.97, Fraction(30000, 1001)),
    (30.0, Fraction(30)), (25.0, Fraction(25)), (59.94, Fraction(60000, 1001)), (50.2, Fraction(50)),
    (15.0, Fraction(15)), (12.4, Fraction(12)), (0.0, Fraction(25)),
])
def test_a_measured_rate_snaps_to_a_standard_one(measured, expected):
    assert standard_rate(measured) == expected


def test_fps_option_values():
    assert parse_fps("source") is None and parse_fps(None) is None
    assert parse_fps("29.97") == Fraction(30000, 1001) and parse_fps("24000/1001") == Fraction(24000, 1001)
    assert parse_fps(30) == 30 and parse_fps("12.5") == Fraction(25, 2)
    for bad in ("fast", "0", "500", "1/0"):
        with pytest.raises(InputError):
            parse_fps(bad)
    assert output_rate(29.97, False, None) == Fraction(30000, 1001)
    assert output_rate(30.0, True, None) == 25  # a still image
    assert output_rate(60.0, False, Fraction(25)) == 25
    assert rate_text(Fraction(30000, 1001)) == "30000/1001" and rate_text(Fraction(25)) == "25"


def test_audio_windows_follow_musetalks_rule_at_any_rate():
    # frame i starts at step floor(i * 50 / fps)
    assert window_starts(5, 25).tolist() == [0, 2, 4, 6, 8]
    assert window_starts(4, 30).tolist() == [0, 1, 3, 5]
    ntsc = Fraction(30000, 1001)
    assert window_starts(1001, ntsc)[-1] == (1000 * 50 * 1001) // 30000 == 1668
    assert frame_count(16000 * 10, 25) == 250 and frame_count(16000 * 10, ntsc) == 299  # 299.7 -> floor


@pytest.mark.parametrize("line, tags", [
    ("h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1920x1080", ColorTags("tv", "bt709", "bt709", "bt709")),
    ("h264 (High), yuv420p(pc, bt470bg/bt709/iec61966-2-1), 640x480", ColorTags("pc", "bt470bg", "bt709", "iec61966-2-1")),
    ("h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 844x844", None),
    ("png, rgb24(pc), 64x64", ColorTags("pc", "", "", "")),
])
def test_colour_tags_are_read_from_the_stream_line(line, tags):
    assert parse_color(line) == tags


def test_writer_filters_convert_with_the_tagged_matrix():
    filters = ColorTags("tv", "bt709", "bt709", "bt709").writer_filters()
    assert filters[0].startswith("scale=out_color_matrix=bt709:out_range=tv")
    assert filters[1] == "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"
    assert ColorTags("tv", "", "", "").writer_filters()[0].startswith("scale=out_range=tv")


def test_an_rgb_space_is_not_written_as_a_yuv_matrix():
    assert ColorTags("pc", "gbr", "unknown", "unknown").writer_filters() == [
        "scale=out_range=pc:flags=accurate_rnd+full_chroma_int", "setparams=range=pc"]


def test_a_photo_has_no_video_colour_tags(tmp_path):
    from core_helpers import ASSETS

    from musetalk.media import probe

    assert probe(ASSETS / "face.jpg").color is None
