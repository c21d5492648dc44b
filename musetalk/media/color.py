"""A video's colour tags (range, matrix, primaries, transfer), read from ffmpeg's stream line and written back.

Kept so an editor's timeline sees the output as it saw the source: a BT.709 tv-range source gives a BT.709
tv-range result, converted from RGB with the BT.709 matrix. An untagged source stays untagged (as before).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# "yuv420p(tv, bt709, progressive)" or "yuv420p(pc, bt709/bt470bg/smpte170m)": the part after the pixel format.
_PIX_FMT_RE = re.compile(r"^[^,]+, \w+\((?P<inside>[^)]*)\)")
_NOT_COLOUR = {"progressive", "top first", "bottom first", "top coded first (swapped)",
               "bottom coded first (swapped)"}
# Matrices swscale can convert with (its names), keyed by ffmpeg's colorspace names.
_MATRICES = {"bt709": "bt709", "smpte170m": "bt601", "bt470bg": "bt601", "fcc": "fcc", "smpte240m": "smpte240m",
             "bt2020nc": "bt2020", "bt2020c": "bt2020"}


@dataclass(frozen=True)
class ColorTags:
    """ffmpeg's names: range tv|pc, space (matrix) bt709, primaries bt709, trc bt709; "" when not stated."""

    range: str = ""
    space: str = ""
    primaries: str = ""
    trc: str = ""

    def writer_filters(self) -> list[str]:
        """The filters that convert RGB frames with this matrix and range, and tag the stream."""
        filters = []
        matrix = _MATRICES.get(self.space)
        if matrix or self.range:
            opts = ([f"out_color_matrix={matrix}"] if matrix else []) + (
                [f"out_range={self.range}"] if self.range else [])
            filters.append("scale=" + ":".join(opts + ["flags=accurate_rnd+full_chroma_int"]))
        space = self.space if matrix else ""  # "gbr" (RGB) and the like do not describe a YUV stream
        params = [f"{key}={value}" for key, value in (("range", self.range), ("colorspace", space),
                                                       ("color_primaries", self.primaries), ("color_trc", self.trc))
                  if value and value != "unknown"]
        if params:
            filters.append("setparams=" + ":".join(params))
        return filters

    def as_list(self) -> list[str]:
        return [self.range, self.space, self.primaries, self.trc]


def parse_color(video_line: str) -> ColorTags | None:
    """The tags in ffmpeg's video stream description (after "Video: "); None when it states none."""
    m = _PIX_FMT_RE.search(video_line)
    if not m:
        return None
    range_, space, primaries, trc = "", "", "", ""
    for token in (t.strip() for t in m.group("inside").split(",")):
        if token in ("tv", "pc"):
            range_ = token
        elif token and token not in _NOT_COLOUR:
            parts = token.split("/")
            space, primaries, trc = (parts * 3)[:3] if len(parts) == 1 else (parts + ["", ""])[:3]
    tags = ColorTags(range_, space, primaries, trc)
    return tags if any(tags.as_list()) else None
