"""Headless Chromium: Past results lists what the app made, and shows a result beside the face it came from,
both playing at once. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest
from app_helpers import ARTIFACTS

pytestmark = pytest.mark.browser
gradio_client = pytest.importorskip("gradio_client")

BOTH_PLAYING_JS = """() => [...document.querySelectorAll('#res-before video, #res-after video')]
  .map((v) => ({src: !!v.src, time: v.currentTime}))"""


def test_past_results_show_before_and_after(app, media, page):
    client = gradio_client.Client(app.url, verbose=False)
    made = client.predict(face_video=gradio_client.handle_file(str(media["face"])), face_image=None,
                          audio=gradio_client.handle_file(str(media["audio2"])), api_name="/generate")
    made = made["video"] if isinstance(made, dict) else made
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    page.get_by_text("Past results").click()
    page.click("#res-refresh")
    page.locator("#res-list input").click()
    newest = page.get_by_role("option").first
    assert "face.mp4" in newest.inner_text()  # labelled with the face's own file name
    newest.click()
    page.wait_for_selector("#res-after video", timeout=60_000)
    page.wait_for_selector("#res-before video", timeout=60_000)
    page.click("#res-play")
    page.wait_for_timeout(1500)
    page.locator("#results").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "past-results-before-after.png"), full_page=True)
    players = page.evaluate(BOTH_PLAYING_JS)
    assert len(players) == 2 and all(p["src"] and p["time"] > 0 for p in players), players
    assert made.endswith(".mp4")
