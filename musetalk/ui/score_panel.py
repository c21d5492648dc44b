"""The collapsible "Scores" panel under a generated video: lip sync and A/V offset, the mouth in silence,
jitter and quality against the source, and the plot (the core's ``score_video`` and ``write_plot``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..score.plot import write_plot
from ..score.report import ScoreConfig, ScoreReport, score_video
from . import controls
from .context import AppContext
from .guard import user_errors
from .outputs import new_output

WAITING = "Scores appear here after each generated video."


@dataclass
class ScorePanel:
    accordion: gr.Accordion
    text: gr.Markdown
    plot: gr.Image


def build_score_panel() -> ScorePanel:
    with gr.Accordion("Scores: lip sync, silence, quality", open=True, elem_id="gen-scores") as accordion:
        text = gr.Markdown(WAITING, elem_id="gen-scores-text")
        plot = gr.Image(label="Mouth opening and speech over time; the sync curve", interactive=False,
                        elem_id="gen-scores-plot", height=300, buttons=["download"])
    return ScorePanel(accordion, text, plot)


def report_markdown(report: ScoreReport) -> str:
    """The report in the page's words: a headline on the sync, then one line per measure."""
    sync = report.sync
    if sync.confident:
        drift = abs(sync.offset_ms)
        head = ("**In sync**" if drift <= 40 else f"**Audio {drift:.0f} ms {'late' if sync.offset_ms > 0 else 'early'}**")
        head += f" (sync score {sync.sync_score:.3f}, confidence {sync.confidence:.1f})"
    else:
        head = f"**Sync score {sync.sync_score:.3f}**; the A/V offset could not be measured with confidence " \
               f"({sync.reason})."
    lines = [head, ""]
    lines += [f"- {line}" for line in report.lines()[1:]]
    return "\n".join(lines)


def attach_scores(ctx: AppContext, panel: ScorePanel, result: gr.Video, face_inputs: list, settings_inputs: list) -> None:
    """Score every new result against the face it was made from, with the settings it was made with."""

    @user_errors(ctx.log_path)
    def score(video, face_video, face_image, bbox_shift, extra_margin, parsing_mode, left_cheek_width,
              right_cheek_width, smooth, face_choice="largest"):
        """The scores (markdown) and the plot (PNG path) of the generated video."""
        if not video:
            return WAITING, None
        face = controls.pick_face(face_video, face_image)
        cfg = ScoreConfig(face=controls.face_config(bbox_shift, extra_margin, parsing_mode, left_cheek_width,
                                                    right_cheek_width, smooth, face_choice))
        report = score_video(video, None, face, cfg)
        png = write_plot(report, new_output(ctx.outputs_dir, Path(video).stem + "-score", ".png"))
        return report_markdown(report), str(png)

    result.change(score, [result, *face_inputs, *settings_inputs], [panel.text, panel.plot], api_name="score",
                  concurrency_id="device")
