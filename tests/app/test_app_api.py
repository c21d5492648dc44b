"""The app's API through gradio_client, against the real app with tiny random weights."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from musetalk.media import probe

gradio_client = pytest.importorskip("gradio_client")


def client(app):
    return gradio_client.Client(app.url, verbose=False)


def _video_path(result) -> Path:
    return Path(result["video"] if isinstance(result, dict) else result)


def test_every_action_has_an_api_name(app):
    names = set(client(app).view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/generate", "/check_parameters", "/prepare_avatar", "/list_avatars", "/delete_avatar", "/speak",
            "/download_weights", "/weights_status", "/list_models"} <= names


def test_check_parameters_returns_preview_and_range(app, media):
    image, note, _face = client(app).predict(gradio_client.handle_file(str(media["face"])), None, 0, 10, "jaw",
                                             90, 90, True, "base", api_name="/check_parameters")
    assert Path(image).is_file()
    assert "Usable bbox_shift range" in note


def test_two_concurrent_generate_requests_both_get_their_own_result(app, media):
    """Submitted at once, queued one at a time on the device; each output lasts as long as its own audio."""
    c = client(app)
    face = gradio_client.handle_file(str(media["face"]))
    jobs = {key: c.submit(face_video=face, face_image=None, audio=gradio_client.handle_file(str(media[key])),
                          api_name="/generate") for key in ("audio", "audio2")}
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(jobs, pool.map(lambda j: j.result(timeout=600), jobs.values())))
    for key, result in results.items():
        out = probe(_video_path(result))
        assert out.has_video and out.has_audio
        assert out.width == 360 and out.height == 360
        assert abs(out.duration - probe(media[key]).duration) < 0.1, key


def test_errors_read_as_sentences(app, media):
    tracebacks = app.log_text().count("Traceback")
    with pytest.raises(gradio_client.exceptions.AppError, match="No face video or photo was given"):
        client(app).predict(face_video=None, face_image=None, audio=gradio_client.handle_file(str(media["audio"])),
                            api_name="/generate")
    # On the server console: one line, no traceback (an expected user error is no bug).
    time.sleep(0.5)
    log = app.log_text()
    assert "generate: refused: No face video or photo was given." in log
    assert log.count("Traceback") == tracebacks


def test_example_photo_has_a_face(app):
    """The bundled demo photo (assets/face.jpg) passes the parameter check."""
    photo = Path(__file__).resolve().parents[2] / "assets" / "face.jpg"
    image, note, _face = client(app).predict(None, gradio_client.handle_file(str(photo)), 0, 10, "jaw", 90, 90,
                                             True, "base", api_name="/check_parameters")
    assert Path(image).is_file() and "Usable bbox_shift range" in note
