"""Headless Chromium with a fake microphone on the Live tab: 1.5 s of silence, 3 s of speech, 1.5 s of silence.

The canvas shows idle frames before the speech, lip-synced ("speech") frames while it plays and idle frames again
after it; the latency and render-fps readout fills in; a second tab is told the avatar is busy while the first is
live, and gets it once the first stops. Screenshots go to test-artifacts/live-tab-*.png."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest
from app_helpers import ARTIFACTS, CHROMIUM, DATA, start_app, stop_app

pytestmark = pytest.mark.browser
gradio_client = pytest.importorskip("gradio_client")
SPEECH = DATA / "musetalk_eng.wav"
AVATAR = "live-tab"


@pytest.fixture(scope="module")
def mic_wav(tmp_path_factory):
    """The fake microphone's file: 1.5 s silence, 3 s of real speech, 1.5 s silence, 16 kHz mono PCM."""
    if not SPEECH.is_file():
        pytest.skip(f"real speech not found: {SPEECH} (see ../shared/data/README.md)")
    import soundfile as sf

    from musetalk.media import load_audio

    voice = load_audio(SPEECH)[16000 * 2:16000 * 5]
    quiet = np.zeros(24000, np.float32)
    out = tmp_path_factory.mktemp("mic") / "mic.wav"
    sf.write(out, np.concatenate([quiet, voice, quiet]), 16000, subtype="PCM_16")
    return out


@pytest.fixture(scope="module")
def mic_browser(playwright, mic_wav):
    """Chromium whose microphone plays ``mic_wav`` once (``%noloop``), permission granted without a prompt."""
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                   args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                                         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                         f"--use-file-for-fake-audio-capture={mic_wav}%noloop",
                                         "--autoplay-policy=no-user-gesture-required"])
    yield b
    b.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_weights):
    """An app of its own: a job left running by an earlier test in the shared app would take the CPU from the live
    renderer (which runs below the clock-bound threads) and no speech frame would render in time."""
    running = start_app(tmp_path_factory.mktemp("live-app"), tiny_weights)
    yield running
    stop_app(running)


@pytest.fixture(scope="module")
def live_avatar(app, media):
    client = gradio_client.Client(app.url, verbose=False)
    client.predict(name=AVATAR, face_video=gradio_client.handle_file(str(media["face"])), face_image=None,
                   api_name="/prepare_avatar")
    return AVATAR


def _open_live_tab(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("tab", name="Live").click()
    page.wait_for_selector("#live-start")
    return page


def _state(page) -> dict:
    return page.evaluate("""() => {
      const c = document.getElementById('live-canvas'), r = document.getElementById('live-readout');
      let sum = 0;
      if (c && c.dataset.kind) {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 97) sum = (sum * 31 + d[i]) % 1000000007;
      }
      return {kind: c.dataset.kind || null, index: c.dataset.index || null, hash: sum,
              status: document.getElementById('live-status').textContent, readout: r.textContent,
              speech: Number(r.dataset.speech || 0), idle: Number(r.dataset.idle || 0)};
    }""")


def test_the_live_tab_answers_the_microphone_and_refuses_a_second_tab(app, live_avatar, mic_browser):
    page = _open_live_tab(mic_browser, app.url)
    page.locator("#live-avatar input").wait_for()
    page.wait_for_function(f"() => document.querySelector('#live-avatar input').value === {AVATAR!r}")
    page.click("#live-start")
    page.wait_for_function("() => document.getElementById('live-canvas').dataset.kind", timeout=300_000)

    # Sampled 5 times a second. A device slower than real time renders every k-th speech frame and holds it
    # for the others ("held": the lip-synced frame nearest in time), so both mark the speech; the page counts
    # every frame it draws, so a rendered "speech" frame is seen in the counts even when no sample caught one.
    states, shot = [], False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        st = _state(page)
        states.append(st)
        if st["kind"] in ("speech", "held") and not shot:
            shot = True
            page.screenshot(path=str(ARTIFACTS / "live-tab-speech.png"), full_page=True)
        talked = [s["kind"] in ("speech", "held") for s in states]
        if any(talked) and not any(talked[-10:]):
            break  # two seconds of idle frames after the speech
        time.sleep(0.2)
    kinds = [s["kind"] for s in states if s["kind"]]
    talked = [k in ("speech", "held") for k in kinds]
    assert any(talked), f"no lip-synced frame was shown: {kinds}"
    first, last = talked.index(True), len(talked) - 1 - talked[::-1].index(True)
    assert "idle" in kinds[:first], f"no idle frame before the speech: {kinds}"
    assert "idle" in kinds[last:], f"no idle frame after the speech: {kinds}"
    assert states[-1]["speech"] > 0, f"no rendered speech frame was drawn: {states[-1]['readout']}"
    assert len({s["hash"] for s in states if s["kind"]}) >= 3, "the canvas did not change"
    readout = states[-1]["readout"]
    assert re.search(r"lip-sync latency \d+\.\d\d s median, \d+\.\d\d s p95", readout), readout
    assert re.search(r"rendering at \d+\.\d fps", readout), readout
    page.screenshot(path=str(ARTIFACTS / "live-tab-idle-after.png"), full_page=True)

    # A second tab while the first is live: refused at once, with the busy sentence.
    other = _open_live_tab(mic_browser, app.url)
    other.wait_for_function(f"() => document.querySelector('#live-avatar input').value === {AVATAR!r}")
    t0 = time.monotonic()
    other.click("#live-start")
    other.wait_for_function("() => document.getElementById('live-status').dataset.kind === 'busy'", timeout=10_000)
    assert time.monotonic() - t0 < 10
    busy = other.locator("#live-status").text_content()
    assert busy.startswith("The live avatar is busy") and "Try again" in busy, busy
    other.screenshot(path=str(ARTIFACTS / "live-tab-busy.png"), full_page=True)

    # Stop frees the slot: the second tab gets in.
    page.click("#live-stop")
    page.wait_for_function("() => document.getElementById('live-status').textContent === 'Stopped.'")
    deadline = time.monotonic() + 60
    while True:
        other.click("#live-start")
        other.wait_for_function("() => ['live', 'busy', 'error'].includes("
                                "document.getElementById('live-status').dataset.kind)", timeout=300_000)
        if other.locator("#live-status").get_attribute("data-kind") == "live" or time.monotonic() > deadline:
            break
        time.sleep(1.0)  # the first session is still closing (its renderer finishes its batch)
    assert other.locator("#live-status").get_attribute("data-kind") == "live", \
        other.locator("#live-status").text_content()
    other.click("#live-stop")
    page.context.close()
    other.context.close()
