"""Headless Chromium: the Live panel shows the frames while Speak runs, and Cancel of Generate writes nothing and
lets the next job in the queue run. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re
import time

import cv2
import numpy as np
import pytest
from app_helpers import prepare_avatar_in_page, ARTIFACTS, ROOT, ffmpeg

pytestmark = pytest.mark.browser
gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory):
    """12 s of speech (the 4 s demo voice looped): a job long enough to watch and to cancel."""
    out = tmp_path_factory.mktemp("long") / "speech-12s.wav"
    ffmpeg("-stream_loop", "3", "-i", str(ROOT / "assets" / "speech.wav"), "-t", "12", "-ac", "1", "-ar", "16000",
           str(out))
    return out


def _png(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def _looks_like_a_frame(img: np.ndarray) -> bool:
    """The face clip, not a progress overlay: the middle of the panel is colourful and varied (skin, hair,
    background), where gradio's overlay is a flat light or dark fill with a little text."""
    h, w = img.shape[:2]
    mid = img[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    sat = cv2.cvtColor(mid, cv2.COLOR_BGR2HSV)[..., 1]
    return float(sat.mean()) > 30 and float(mid.std()) > 25


def test_live_frames_are_visible_while_speak_runs(app, media, long_speech, page):
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    prepare_avatar_in_page(page, media["face"], "live-test")
    page.locator("#av-audio input[type=file]").set_input_files(str(long_speech))
    page.wait_for_selector("#av-audio audio, #av-audio .waveform-container, #av-audio button", timeout=30_000)
    page.click("#av-speak")
    page.wait_for_selector("#av-live img", timeout=300_000)

    live = page.locator("#av-live")
    shots: list[np.ndarray] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and page.locator("#av-final video").count() == 0 and len(shots) < 8:
        shots.append(_png(live.screenshot()))
        if len(shots) == 2:
            page.screenshot(path=str(ARTIFACTS / "avatar-live-during-speak.png"), full_page=True)
        time.sleep(0.4)
    assert page.locator("#av-final video").count() == 0 or len(shots) >= 3, "the run ended before it was watched"
    for i, img in enumerate(shots[:3]):
        cv2.imwrite(str(ARTIFACTS / f"avatar-live-panel-{i}.png"), img)
    visible = [img for img in shots if _looks_like_a_frame(img)]
    assert len(visible) >= 3, f"only {len(visible)} of {len(shots)} panel shots showed a frame"
    changes = [float(np.abs(a.astype(int) - b.astype(int)).mean()) for a, b in zip(visible, visible[1:])]
    assert max(changes) > 1.0, changes  # the frames move while the run goes on
    page.locator("#av-final video").wait_for(timeout=300_000)
    page.screenshot(path=str(ARTIFACTS / "avatar-live-after-speak.png"), full_page=True)


def test_cancel_of_generate_leaves_no_output_and_the_next_job_runs(app, media, long_speech, page):
    page.goto(app.url)
    page.wait_for_selector("#gen-generate")
    assert not page.locator("#gen-cancel").is_visible()  # only while a job of this page runs
    page.locator("#gen-video input[type=file]").set_input_files(str(media["face"]))
    page.locator("#gen-audio input[type=file]").set_input_files(str(long_speech))
    page.wait_for_selector("#gen-video video")
    before = set(app.outputs.iterdir()) if app.outputs.exists() else set()
    page.click("#gen-generate")
    page.get_by_text(re.compile(r"Lip-syncing: \d+/300 frames")).first.wait_for(timeout=300_000)

    # A second job, from another client, waits in the queue behind the page's job.
    client = gradio_client.Client(app.url, verbose=False)
    queued = client.submit(face_video=gradio_client.handle_file(str(media["face"])), face_image=None,
                           audio=gradio_client.handle_file(str(media["audio2"])), api_name="/generate")
    time.sleep(1.0)
    page.screenshot(path=str(ARTIFACTS / "generate-before-cancel.png"), full_page=True)
    t0 = time.monotonic()
    page.click("#gen-cancel")
    page.get_by_text("Cancelled. Nothing was written.").first.wait_for(timeout=120_000)
    stopped_s = time.monotonic() - t0
    page.screenshot(path=str(ARTIFACTS / "generate-cancelled.png"), full_page=True)
    result = queued.result(timeout=600)  # the queue moved on
    made = result["video"] if isinstance(result, dict) else result

    assert page.locator("#gen-result video").count() == 0, "the cancelled job showed a result"
    new = sorted(p.name for p in set(app.outputs.iterdir()) - before)
    videos = [n for n in new if n.endswith(".mp4")]
    # Only the queued job's video and its source note (for Past results): no partial or temp file of the other.
    assert len(videos) == 1 and new == [videos[0], f"{videos[0]}.json"], new
    assert made and made.endswith(".mp4")
    assert stopped_s < 60, stopped_s
    page.locator("#gen-cancel").wait_for(state="hidden", timeout=30_000)
