"""The loss-curve PNG written with each validation: training loss (both terms) and validation loss per step."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..atomic import temp_beside


def plot_losses(rows: list[dict[str, Any]], path: Path) -> Path:
    """Draw ``metrics.jsonl`` rows into ``path`` (replaced atomically). Log scale: losses fall by orders."""
    # matplotlib's object API, not pyplot: no global figure state or backend switch in a library (or a thread).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    train = [r for r in rows if "loss" in r]
    for key, label in (("loss", "train loss"), ("pixel", "train pixel L1"), ("latent", "train latent L1")):
        ax.plot([r["step"] for r in train], [r[key] for r in train], label=label, linewidth=1,
                alpha=1.0 if key == "loss" else 0.6)
    val = [r for r in rows if "val_loss" in r]
    ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", color="black", label="validation loss")
    names = sorted({n for r in val for n in r.get("val_clips", {})})
    for name in names[:8]:  # a line per held-out clip, up to 8: more would hide the mean
        pts = [(r["step"], r["val_clips"][name]["loss"]) for r in val if name in r.get("val_clips", {})]
        ax.plot(*zip(*pts), "--", linewidth=0.8, label=f"val {name}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    tmp = temp_beside(path, ".png")
    fig.savefig(str(tmp), format="png")
    os.replace(tmp, path)
    return path
