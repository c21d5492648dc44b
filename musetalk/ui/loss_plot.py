"""The fine-tune tab's loss plot, drawn with matplotlib: every series in its own fixed colour, whole-number steps.

gradio's LinePlot drew only the validation series of the run's rows, and put fractional ticks on a one-step
axis; a figure drawn here has neither problem and looks the same in the light and the dark theme (its own white
background). ``matplotlib.figure.Figure`` is used without pyplot: no global backend state, safe in any thread.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# metrics.jsonl key -> (legend label, colour). The colours are the test's too: it finds each line by its colour.
SERIES: dict[str, tuple[str, str]] = {
    "pixel": ("pixel L1 (train)", "#2563eb"),
    "latent": ("latent L1 (train)", "#ea580c"),
    "val_loss": ("validation loss", "#16a34a"),
}


def loss_figure(rows: Sequence[dict[str, Any]]):
    """A matplotlib Figure of each series in ``rows`` (metrics.jsonl rows) against the step, or None if empty."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    drawn = {key: [(r["step"], r[key]) for r in rows if key in r and "step" in r] for key in SERIES}
    if not any(drawn.values()):
        return None
    fig = Figure(figsize=(7.0, 3.4), dpi=100, facecolor="white")
    ax = fig.add_subplot()
    for key, points in drawn.items():
        if points:
            label, colour = SERIES[key]
            steps, values = zip(*points)
            # Markers too: a series of one point (a 1-step run, or the first validation) has no line to draw.
            ax.plot(steps, values, color=colour, label=label, linewidth=2, marker="o", markersize=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, color="#e5e7eb")
    # Above the axes, so it never covers a line.
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
