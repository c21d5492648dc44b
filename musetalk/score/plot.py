"""The score as a picture: mouth opening and speech energy over time, silences shaded, the offset marked."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musetalk.atomic import temp_beside
from musetalk.score.report import ScoreReport


def _shade_silences(ax, stretches: list[tuple[float, float]]) -> None:  # noqa: ANN001 (matplotlib Axes)
    for i, (start, end) in enumerate(stretches):
        ax.axvspan(start, end, color="0.85", zorder=0, label="silence" if i == 0 else None)


def write_plot(report: ScoreReport, out: str | os.PathLike[str]) -> Path:
    """Write the report's plot as a PNG at ``out`` (atomically: a failed write leaves no file); returns the path."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; set here, not at import, so importing this module changes nothing
    from matplotlib.figure import Figure

    out = Path(out)
    series = report.series
    opening = np.array([np.nan if v is None else v for v in series.get("opening", [])], dtype=np.float64)
    speech = np.asarray(series.get("speech_db", []), dtype=np.float64)
    t = np.arange(opening.size) / report.fps
    fig = Figure(figsize=(10, 4.8), dpi=100, layout="constrained")
    top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})
    _shade_silences(top, report.silence["stretches"])
    top.plot(t, opening, color="#c2185b", lw=1.4, label="mouth opening")
    top.set_ylabel("mouth opening")
    twin = top.twinx()
    twin.plot(t[:speech.size], speech[:t.size], color="#1565c0", lw=1.0, alpha=0.8, label="speech energy 1-4 kHz")
    twin.set_ylabel("speech energy (dB)")
    handles = top.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    top.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    top.set_xlim(0, max(t[-1] if t.size else 1.0, 1.0 / report.fps))
    top.set_xlabel("time (s)")
    top.set_title(report.sync.summary(), fontsize=10)

    sync = report.sync
    lags = (np.arange(len(sync.curve)) - (len(sync.curve) - 1) / 2) * 1000.0 / report.fps
    bottom.plot(lags, sync.curve, color="#2e7d32", lw=1.4, marker="o", ms=3)
    bottom.axvline(0, color="0.6", lw=0.8)
    colour = "#2e7d32" if sync.confident else "#e65100"
    label = f"offset {sync.offset_ms:+.0f} ms" if sync.confident else "best match (not confident)"
    bottom.axvline(sync.offset_ms if sync.confident else lags[int(np.argmax(sync.curve))], color=colour, ls="--",
                   label=label)
    bottom.set_xlabel("audio offset (ms; > 0: audio late)")
    bottom.set_ylabel("sync (correlation)")
    bottom.legend(loc="upper right", fontsize=8)
    tmp = temp_beside(out, ".png")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
