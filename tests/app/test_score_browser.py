"""The Scores panel under a generated video, in headless Chromium: the numbers, the plot, and collapsing it."""
from __future__ import annotations

import pytest
from app_helpers import ARTIFACTS

pytestmark = pytest.mark.browser


def test_generated_video_gets_a_collapsible_scores_panel(app, media, page):
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    assert page.locator("#gen-scores-text").inner_text().startswith("Scores appear here")
    page.locator("#gen-video input[type=file]").set_input_files(str(media["face"]))
    page.locator("#gen-audio input[type=file]").set_input_files(str(media["audio"]))
    page.wait_for_selector("#gen-video video")
    page.click("#gen-generate")
    page.wait_for_selector("#gen-result video", timeout=300_000)
    page.wait_for_selector("#gen-scores-plot img", timeout=180_000)
    text = page.locator("#gen-scores-text").inner_text()
    page.locator("#gen-scores").screenshot(path=str(ARTIFACTS / "tab-generate-scores.png"))
    page.screenshot(path=str(ARTIFACTS / "tab-generate-scores-page.png"), full_page=True)
    # 1.6 s of speech: too short to trust an offset, and the panel must say so rather than guess
    assert "Sync score" in text and "could not be measured with confidence" in text
    assert "mouth opening" in text and "vs source" in text and "outside the blend PSNR" in text
    size = page.evaluate("""() => { const i = document.querySelector('#gen-scores-plot img');
                                   return [i.naturalWidth, i.naturalHeight]; }""")
    assert size == [1000, 480]
    page.locator("#gen-scores").get_by_text("Scores: lip sync, silence, quality").click()
    page.wait_for_selector("#gen-scores-plot img", state="hidden")
    assert "Traceback" not in page.content()
