"""Helpers for the app tests: paths, a free port, and starting / stopping the real app in a subprocess."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
FACE_CLIP = DATA / "retalking_face2.mp4"


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningApp:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path, outputs: Path) -> None:
        self.url, self.proc, self.log, self.outputs = url, proc, log, outputs

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_app(tmp: Path, weights: Path, extra_env: dict[str, str] | None = None) -> RunningApp:
    """Start ``python app.py`` on a free 127.0.0.1 port; wait until it answers (at most 120 s)."""
    port = free_port()
    log = tmp / "app-stdout.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False", **(extra_env or {})}
    cmd = [sys.executable, str(ROOT / "app.py"), "--weights", str(weights), "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu", "--dtype", "fp32", "--avatars-dir", str(tmp / "avatars"),
           "--runs-dir", str(tmp / "runs"), "--outputs-dir", str(tmp / "outputs")]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return RunningApp(url, proc, log, tmp / "outputs")
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the app did not answer within 120 s:\n{log.read_text(errors='replace')}")


def stop_app(app: RunningApp) -> None:
    app.proc.terminate()
    try:
        app.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.proc.kill()




def prepare_avatar_in_page(page, face: Path, name: str) -> None:
    """On the Real-time avatar tab: upload ``face``, prepare it as ``name`` and wait until it is ready."""
    page.get_by_role("tab", name="Real-time avatar").click()
    page.fill("#av-name textarea, #av-name input", name)
    page.locator("#av-video input[type=file]").set_input_files(str(face))
    page.wait_for_selector("#av-video video")
    page.click("#av-prepare")
    page.get_by_text(f"Avatar '{name}' is ready").wait_for(timeout=300_000)
