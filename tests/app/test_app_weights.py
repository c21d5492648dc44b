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
    page.click("#weights-download")  # waits until the page-load status check has enabled it
    try:
        banner.get_by_text("The download failed").wait_for(timeout=120_000)
    except Exception as exc:  # keep what tells why: the page and the server's log
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "weights-download-failure.png"), full_page=True)
        raise AssertionError(f"{exc}\nbanner: {banner.inner_text()}\n--- app log ---\n"
                             f"{app_without_weights.log_text()[-3000:]}") from exc
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "weights-missing-download-failed.png"), full_page=True)
    text = banner.inner_text()
    assert "Could not download" in text and "internet connection" in text
    assert "Traceback" not in page.content()


def _rgb(css: str) -> tuple[float, float, float]:
    """A computed CSS colour ('rgb(r, g, b)', 'rgba(...)' or 'color(srgb r g b)') as 0..1 floats."""
    import re

    nums = [float(x) for x in re.findall(r"[\d.]+", css)]
    return tuple(n / 255 for n in nums[:3]) if css.startswith("rgb") else tuple(nums[:3])


def _contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    def lum(c):
        lin = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


BANNER_COLOURS_JS = """() => {
  const banner = document.querySelector('#weights-banner');
  const text = document.querySelector('#weights-status p, #weights-status .prose');
  return {bg: getComputedStyle(banner).backgroundColor, fg: getComputedStyle(text).color,
          dark: document.body.classList.contains('dark') ||
                !!document.querySelector('.gradio-container.dark, .dark')};
}"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_banner_is_readable_in_both_colour_schemes(app_without_weights, browser, scheme):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(app_without_weights.url)
        page.locator("#weights-status").get_by_text("Weights are missing").wait_for(timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"weights-banner-{scheme}.png"))
        colours = page.evaluate(BANNER_COLOURS_JS)
    finally:
        context.close()
    assert colours["dark"] is (scheme == "dark"), colours  # the page really is in that scheme
    ratio = _contrast(_rgb(colours["bg"]), _rgb(colours["fg"]))
    assert ratio >= 4.5, (colours, ratio)  # WCAG AA for body text
