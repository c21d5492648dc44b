"""Headless Chromium: examples fill the inputs the page shows, and a 412 px wide phone layout has no sideways
scrolling and no hidden tabs. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest
from app_helpers import ARTIFACTS

pytestmark = pytest.mark.browser


def test_the_example_fills_the_visible_face_and_speech_inputs(app, page):
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    assert page.locator("#gen-video").is_visible()  # the video tab is in front at first
    page.locator("#tab-generate").get_by_text("speech.wav").first.click()  # the example row
    page.wait_for_selector("#gen-image img", state="visible", timeout=30_000)
    page.wait_for_selector("#gen-audio audio, #gen-audio .waveform-container", state="attached", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "example-loaded.png"), full_page=True)
    assert page.locator("#gen-image img").is_visible(), "the photo loaded into a tab that is not shown"
    assert not page.locator("#gen-video").is_visible()
    assert "face" in (page.locator("#gen-image img").get_attribute("src") or "")


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
