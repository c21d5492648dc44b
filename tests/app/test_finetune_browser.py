"""Drive the "Fine-tune on my clip" tab in headless Chromium: start a run, watch the loss plot update, reload
the page and open a new tab (the run is the server's: both show it), stop it from the new tab, and find the
model in Generate's model picker."""
from __future__ import annotations

import re

import pytest
from app_helpers import ARTIFACTS, FACE_CLIP, ffmpeg

pytestmark = pytest.mark.browser

def _colour_pixels(png: bytes, hex_colour: str) -> int:
    """Pixels within a small distance of one series' colour (the plot draws each series in a fixed colour)."""
    import cv2
    import numpy as np

    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb.astype(int) - want).max(axis=-1) < 40).sum())


def _series_drawn(page) -> dict[str, int]:
    from musetalk.ui.loss_plot import SERIES

    png = page.locator("#ft-plot").screenshot()
    return {key: _colour_pixels(png, colour) for key, (_, colour) in SERIES.items()}


# Counts changes inside the plot and the validation image after the run starts.
PLOT_WATCH_JS = """() => {
  window.__plot = {changes: 0, images: new Set()};
  const plot = document.querySelector('#ft-plot');
  new MutationObserver(() => { window.__plot.changes += 1; }).observe(plot, {subtree: true, childList: true,
                                                                         attributes: true});
  setInterval(() => {
    const img = document.querySelector('#ft-val img');
    if (img && img.src) window.__plot.images.add(img.src);
  }, 200);
}"""


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory):
    """2 s of a real face clip, 360x360, keeping its own speech (the training signal)."""
    if not FACE_CLIP.is_file():
        pytest.skip(f"real test media not found: {FACE_CLIP}")
    out = tmp_path_factory.mktemp("ft") / "me-talking.mp4"
    ffmpeg("-i", str(FACE_CLIP), "-t", "2", "-vf", "scale=360:360", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", str(out))
    return out


def test_finetune_tab_trains_plots_stops_and_lists_the_model(app, talking_clip, page):
    try:
        _drive(app, talking_clip, page)
    except Exception as exc:  # keep what is needed to tell why: a screenshot, the tab's status, the app's log
        page.screenshot(path=str(ARTIFACTS / "tab-finetune-failure.png"), full_page=True)
        status = page.locator("#ft-status").inner_text() if page.locator("#ft-status").count() else "?"
        raise AssertionError(f"{exc}\nfine-tune status: {status}\n--- app log ---\n{app.log_text()[-4000:]}") from exc


def _drive(app, talking_clip, page):
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    page.get_by_role("tab", name="Fine-tune on my clip").click()
    page.click("#ft-start")  # nothing uploaded: a sentence, not a stack trace
    page.get_by_text("Upload a training clip first.").first.wait_for()

    page.locator("#ft-clip input[type=file]").set_input_files(str(talking_clip))
    page.wait_for_selector("#ft-clip video")
    page.locator("#ft-name input, #ft-name textarea").first.fill("my-face")
    page.locator("#ft-steps input").fill("200")
    page.locator("#ft-val-every input").fill("2")
    page.locator("#ft-batch input[type=number]").fill("1")
    page.evaluate(PLOT_WATCH_JS)
    page.click("#ft-start")

    # Preparing the clip (faces, VAE, Whisper) takes seconds alone, minutes on a busy 2-core CPU.
    page.get_by_text(re.compile(r"Training: (1[2-9]|[2-9]\d)/200")).first.wait_for(timeout=900_000)
    page.wait_for_function("window.__plot.changes > 0 && window.__plot.images.size > 1", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "tab-finetune-training.png"), full_page=True)

    # A reload forgets the page's state; the run is the server's, so it is shown again, plot and all.
    page.reload()
    page.wait_for_selector("#gen-generate")
    page.get_by_role("tab", name="Fine-tune on my clip").click()
    page.get_by_text(re.compile(r"Training: \d+/200")).first.wait_for(timeout=60_000)
    page.wait_for_selector("#ft-plot img", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "tab-finetune-after-reload.png"), full_page=True)
    drawn = _series_drawn(page)
    # Each series in its own colour, as a line across the plot (a legend swatch alone is ~60 pixels).
    assert all(n > 150 for n in drawn.values()), drawn

    # A new tab (another browser session) sees the same run and stops it.
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        other.goto(page.url)
        other.wait_for_selector("#gen-generate")
        other.get_by_role("tab", name="Fine-tune on my clip").click()
        other.get_by_text(re.compile(r"Training: \d+/200")).first.wait_for(timeout=60_000)
        other.click("#ft-stop")
        other.get_by_text(re.compile(r"Stopped at step \d+")).first.wait_for(timeout=300_000)
        other.screenshot(path=str(ARTIFACTS / "tab-finetune-stopped-from-new-tab.png"), full_page=True)
    finally:
        other.context.close()
    page.get_by_text(re.compile(r"Stopped at step \d+")).first.wait_for(timeout=60_000)  # the first page too
    page.screenshot(path=str(ARTIFACTS / "tab-finetune-stopped.png"), full_page=True)
    assert "Traceback" not in page.content()

    page.get_by_role("tab", name="Generate").click()
    page.click("#model-refresh")
    page.locator("#model input").click()
    page.get_by_role("option", name="my-face").wait_for(timeout=30_000)
