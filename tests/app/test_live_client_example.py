"""The README's live client, examples/live_client.py, run as written against the running app: it streams a wav
at real-time pace over /live/ws and writes the frames, their audio and an mp4."""
from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import urlparse

import numpy as np
import pytest
from app_helpers import ARTIFACTS, ROOT

gradio_client = pytest.importorskip("gradio_client")
pytest.importorskip("websockets", reason="websockets is not installed (pip install websockets)")


def test_the_example_client_streams_a_wav_and_writes_an_mp4(app, media, tmp_path):
    client = gradio_client.Client(app.url, verbose=False)
    client.predict(name="live-client", face_video=gradio_client.handle_file(str(media["face"])), face_image=None,
                   api_name="/prepare_avatar")
    ws_url = f"ws://127.0.0.1:{urlparse(app.url).port}/live/ws"
    out = tmp_path / "live-out"
    cmd = [sys.executable, str(ROOT / "examples" / "live_client.py"), str(media["audio"]), "--avatar", "live-client",
           "--url", ws_url, "--out", str(out)]
    for _ in range(30):  # another test's session may still be closing: the one slot is then busy for a moment
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        if "refused: busy" not in proc.stderr:
            break
        time.sleep(1.0)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "live-client-output.txt").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "live: 360x360 at 25 fps" in proc.stdout, proc.stdout
    assert "wrote " in proc.stdout and (out / "live.mp4").is_file(), proc.stdout
    frames = sorted(out.glob("*.jpg"))
    # Idle frames until the first chunk lands (longer on a loaded machine), then 1.6 s of speech at 25 fps.
    assert len(frames) >= 40 and frames[-1].name == f"{len(frames) - 1:06d}.jpg", (len(frames), proc.stdout)
    # The speech came back in the frames' audio (idle frames carry silence). Whether its frames are rendered
    # ("speech") or shown unrendered depends on the CPU keeping up with real time: the browser test checks that.
    import soundfile as sf

    back, rate = sf.read(out / "audio.wav", dtype="float32")
    assert rate == 16000 and len(back) == 640 * len(frames)
    assert float(np.sqrt(np.mean(back ** 2))) > 0.01, "the speech did not come back"

    from musetalk.media import probe

    info = probe(out / "live.mp4")
    assert info.has_audio and (info.width, info.height) == (360, 360), info


def test_the_readme_snippet_runs_as_written(app, media, tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("The heart of it, to adapt:", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    port = urlparse(app.url).port
    code = block.replace("ws://127.0.0.1:7860/", f"ws://127.0.0.1:{port}/").replace("anna-office", "live-client")
    client = gradio_client.Client(app.url, verbose=False)
    if "live-client" not in str(client.predict(None, api_name="/list_avatars")):
        client.predict(name="live-client", face_video=gradio_client.handle_file(str(media["face"])),
                       face_image=None, api_name="/prepare_avatar")
    for _ in range(30):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path)
        if "busy" not in proc.stdout + proc.stderr:
            break
        time.sleep(1.0)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fps, index, kind, samples, jpeg = proc.stdout.split()
    assert float(fps) == 25 and int(index) >= 0 and kind in ("idle", "speech", "held"), proc.stdout
    assert int(samples) == 640 and int(jpeg) > 1000, proc.stdout
