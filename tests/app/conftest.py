"""Fixtures for the app tests: short real media, the real app in a subprocess (tiny random weights), chromium."""
from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import ARTIFACTS, CHROMIUM, FACE_CLIP, ROOT, RunningApp, ffmpeg, start_app, stop_app


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    """A 2 s, 360x360 face clip cut from a real video, and 1.6 s / 1.2 s speech clips."""
    if not FACE_CLIP.is_file():
        pytest.skip(f"real test media not found: {FACE_CLIP} (see ../shared/data/README.md)")
    d = tmp_path_factory.mktemp("media")
    face = d / "face.mp4"
    ffmpeg("-i", str(FACE_CLIP), "-t", "2", "-vf", "scale=360:360", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           str(face))
    speech = ROOT / "assets" / "speech.wav"
    audio = d / "speech-1.6s.wav"
    ffmpeg("-i", str(speech), "-t", "1.6", "-ac", "1", "-ar", "16000", str(audio))
    audio2 = d / "speech-1.2s.wav"
    ffmpeg("-i", str(speech), "-ss", "1", "-t", "1.2", "-ac", "1", "-ar", "16000", str(audio2))
    return {"face": face, "audio": audio, "audio2": audio2}


@pytest.fixture(scope="session")
def app(tmp_path_factory, tiny_weights) -> RunningApp:
    """The real app with tiny random weights, shared by the tests of a session."""
    running = start_app(tmp_path_factory.mktemp("app"), tiny_weights)
    yield running
    stop_app(running)


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the session: a second sync_playwright() inside it would fail (its event loop is
    already running), so every browser of the tests is launched from this one."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright):
    """Headless Debian chromium through Playwright (no browser download)."""
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                   args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                         "--disable-component-update", "--disable-sync", "--no-first-run"])
    yield b
    b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()
