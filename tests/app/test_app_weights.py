"""Missing weights: the app still starts, names the missing files, and a failed download reads as a sentence."""
from __future__ import annotations

import pytest
from app_helpers import ARTIFACTS, start_app, stop_app

from musetalk.weights import REQUIRED

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def app_without_weights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("no-weights")
    (tmp / "weights").mkdir()
    # Offline: the hub refuses at once instead of hanging on the network.
    running = start_app(tmp, tmp / "weights", {"HF_HUB_OFFLINE": "1"})
    yield running
    stop_app(running)


def test_generate_without_weights_names_the_missing_files(app_without_weights, media):
    c = gradio_client.Client(app_without_weights.url, verbose=False)
    with pytest.raises(gradio_client.exceptions.AppError, match=r"Weights are missing .*musetalkV15/unet\.pth"):
        c.predict(face_video=gradio_client.handle_file(str(media["face"])), face_image=None,
                  audio=gradio_client.handle_file(str(media["audio"])), api_name="/generate")


@pytest.mark.browser
def test_banner_names_missing_files_and_offline_download_fails_cleanly(app_without_weights, page):
    page.goto(app_without_weights.url)
    banner = page.locator("#weights-status")
    banner.get_by_text("Weights are missing").wait_for()
    text = banner.inner_text()
    for wf in REQUIRED:
        assert wf.alternatives[0] in text
    page.click("#weights-download")
    banner.get_by_text("The download failed").wait_for(timeout=120_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "weights-missing-download-failed.png"), full_page=True)
    text = banner.inner_text()
    assert "Could not download" in text and "internet connection" in text
    assert "Traceback" not in page.content()
