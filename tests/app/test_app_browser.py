"""Drive the real app in headless Chromium: parameter check, generate, and the avatar tab end to end.

Screenshots of each tab go to test-artifacts/.
"""
from __future__ import annotations

import re

import pytest
from app_helpers import prepare_avatar_in_page, ARTIFACTS

from musetalk.media import probe

pytestmark = pytest.mark.browser

# Records, from before a click, when the live image changes and when a final <video> appears (ms since start).
WATCH_JS = """([liveSel, finalSel]) => {
  const t0 = performance.now();
  window.__watch = {live: [], final: null, progress: []};
  let lastSrc = null;
  const check = () => {
    const img = document.querySelector(liveSel + ' img');
    if (img && img.src && img.src !== lastSrc) { lastSrc = img.src; window.__watch.live.push(performance.now() - t0); }
    const v = document.querySelector(finalSel + ' video');
    if (v && v.src && window.__watch.final === null) window.__watch.final = performance.now() - t0;
    const m = document.body.innerText.match(/(Lip-syncing|Preparing the avatar): \\d+\\/\\d+ frames/);
    if (m && !window.__watch.progress.includes(m[0])) window.__watch.progress.push(m[0]);
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                       characterData: true});
}"""

VIDEO_INFO_JS = """async (sel) => {
  const v = document.querySelector(sel + ' video');
  if (v.readyState < 1) await new Promise((ok, bad) => { v.onloadedmetadata = ok; v.onerror = bad; });
  v.muted = true;
  await v.play();
  await new Promise(r => setTimeout(r, 600));
  return {duration: v.duration, width: v.videoWidth, time: v.currentTime, error: v.error && v.error.code};
}"""


def open_app(page, app):
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_generate_tab_checks_parameters_and_generates_a_playable_video(app, media, page):
    open_app(page, app)
    shot(page, "tab-generate-empty")
    page.click("#gen-generate")  # nothing uploaded yet: a sentence, not a stack trace
    page.get_by_text("No face video or photo was given.").first.wait_for()
    page.locator("#gen-video input[type=file]").set_input_files(str(media["face"]))
    page.locator("#gen-audio input[type=file]").set_input_files(str(media["audio"]))
    page.wait_for_selector("#gen-video video")

    page.click("#gen-check")
    page.wait_for_selector("#gen-preview img", timeout=120_000)
    page.get_by_text("Usable bbox_shift range").wait_for()

    page.evaluate(WATCH_JS, ["#gen-preview", "#gen-result"])
    page.click("#gen-generate")
    page.get_by_text(re.compile(r"Lip-syncing: \d+/\d+ frames")).first.wait_for(timeout=120_000)
    shot(page, "tab-generate-progress")
    page.wait_for_selector("#gen-result video", timeout=300_000)
    info = page.evaluate(VIDEO_INFO_JS, "#gen-result")
    watch = page.evaluate("window.__watch")
    shot(page, "tab-generate-result")
    assert info["error"] is None and info["width"] == 360
    assert abs(info["duration"] - probe(media["audio"]).duration) < 0.1
    assert info["time"] > 0, "the video did not play"
    assert watch["progress"], "no 'Lip-syncing: n/N frames' progress was shown"
    assert "Traceback" not in page.content()


def test_avatar_tab_prepares_lists_streams_and_deletes(app, media, page):
    open_app(page, app)
    prepare_avatar_in_page(page, media["face"], "browser-test")
    assert page.locator("#av-list input").input_value() == "browser-test"

    page.locator("#av-audio input[type=file]").set_input_files(str(media["audio"]))
    page.evaluate(WATCH_JS, ["#av-live", "#av-final"])
    page.click("#av-speak")
    page.wait_for_selector("#av-final video", timeout=300_000)
    watch = page.evaluate("window.__watch")
    info = page.evaluate(VIDEO_INFO_JS, "#av-final")
    shot(page, "tab-avatar-spoken")
    # Streaming: frames were on the page before the final video existed, and more than one of them.
    before_final = [t for t in watch["live"] if t < watch["final"]]
    assert len(before_final) >= 2, watch
    assert info["error"] is None and abs(info["duration"] - probe(media["audio"]).duration) < 0.1

    page.click("#av-delete")  # the page asks first; "Keep it" keeps it
    page.get_by_text("Delete the avatar browser-test?").wait_for()
    page.click("#av-delete-no")
    page.locator("#av-delete-confirm").wait_for(state="hidden")
    assert (app.outputs.parent / "avatars" / "browser-test").is_dir()
    page.click("#av-delete")
    page.get_by_text("Delete the avatar browser-test?").wait_for()
    shot(page, "tab-avatar-delete-confirm")
    page.click("#av-delete-yes")
    page.get_by_text("Avatar 'browser-test' was deleted").wait_for()
    assert not (app.outputs.parent / "avatars" / "browser-test").exists()
    page.click("#av-list")
    assert page.get_by_role("option", name="browser-test").count() == 0
