"""Headless Chromium: examples fill the inputs the page shows, and a 412 px wide phone layout has no sideways
scrolling and no hidden tabs. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re

import pytest
from app_helpers import ARTIFACTS, ROOT

pytestmark = pytest.mark.browser


def test_the_example_fills_the_visible_face_and_speech_inputs(app, page):
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    # the video tab is in front at first (waited for: under load the tab's content renders after the buttons)
    page.wait_for_selector("#gen-video", state="visible", timeout=30_000)
    page.locator("#tab-generate").get_by_text("speech.wav").first.click()  # the example row
    page.wait_for_selector("#gen-image img", state="visible", timeout=30_000)
    page.wait_for_selector("#gen-audio audio, #gen-audio .waveform-container", state="attached", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "example-loaded.png"), full_page=True)
    assert page.locator("#gen-image img").is_visible(), "the photo loaded into a tab that is not shown"
    assert not page.locator("#gen-video").is_visible()
    assert "face" in (page.locator("#gen-image img").get_attribute("src") or "")
    # Before anything runs, the page says what the speech means in work (and, after a run, in time).
    page.locator("#gen-estimate").get_by_text(re.compile(r"4\.1 s of speech: 103 frames")).wait_for(timeout=30_000)


PHONE_JS = """() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
                      wide: [...document.querySelectorAll('body *')].filter(e => {
                        const r = e.getBoundingClientRect();
                        return r.width > 0 && r.right > document.documentElement.clientWidth + 1;
                      }).slice(0, 5).map(e => e.id || e.className || e.tagName)})"""


def test_phone_width_layout_has_no_sideways_scroll_or_hidden_tabs(app, browser):
    context = browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(app.url)
        page.wait_for_selector("#gen-generate")
        for tab in ("Generate", "Real-time avatar", "Fine-tune on my clip"):
            button = page.get_by_role("tab", name=tab)
            assert button.is_visible(), f"the {tab!r} tab is hidden at 412 px"
            button.click()
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"phone-412-{tab.split()[0].lower()}.png"), full_page=True)
            layout = page.evaluate(PHONE_JS)
            assert layout["scroll"] <= layout["client"], (tab, layout)
    finally:
        context.close()


def test_wrong_and_corrupt_uploads_read_in_the_page_words(app, page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording")
    broken = tmp_path / "holiday clip.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)  # an mp4 header, then garbage
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    page.locator("#gen-audio input[type=file]").set_input_files(str(notes))
    page.get_by_text("notes.txt cannot go in this box: it takes a speech recording").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "upload-wrong-type.png"), full_page=True)
    assert "audio/aac" not in page.inner_text("body")

    page.locator("#gen-video input[type=file]").set_input_files(str(broken))
    page.locator("#gen-audio input[type=file]").set_input_files(str(ROOT / "assets" / "speech.wav"))
    page.wait_for_timeout(1500)
    page.click("#gen-generate")
    toast = page.get_by_text("holiday clip.mp4").first
    toast.wait_for(timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "upload-corrupt-video.png"), full_page=True)
    text = page.inner_text("body")
    assert "holiday clip.mp4" in text and "/holiday clip.mp4" not in text  # the name, not the upload's path
    assert "gradio/" not in text
    assert "moov atom" not in text and "Invalid data found" not in text
