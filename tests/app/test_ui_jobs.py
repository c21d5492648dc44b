"""Cancel (DeviceJobs), the cancelled/refused handler paths, the remaining-time text and the loss plot's series."""
from __future__ import annotations

import logging

import numpy as np
import pytest

gr = pytest.importorskip("gradio")

from musetalk.errors import InputError
from musetalk.ui.guard import user_errors
from musetalk.ui.jobs import DeviceJobs, JobCancelled, checked
from musetalk.ui.progress import remaining_text


def test_cancel_stops_the_running_job_at_its_next_report():
    jobs, seen = DeviceJobs(), []
    with pytest.raises(JobCancelled), jobs.run("s1") as cancel:
        report = checked(lambda *a: seen.append(a), cancel)
        report("lip-sync", 8, 40)
        assert jobs.cancel("s1") is True
        report("lip-sync", 16, 40)
    assert seen == [("lip-sync", 8, 40)]  # the report after Cancel raised instead of passing on


def test_cancel_of_a_queued_job_stops_it_when_it_starts_and_only_that_one():
    jobs = DeviceJobs()
    assert jobs.cancel("s1") is False  # nothing runs yet: the queued job is marked
    with pytest.raises(JobCancelled), jobs.run("s1"):
        pass
    with jobs.run("s1") as cancel:  # the next job of the session runs
        assert not cancel.is_set()


def test_a_late_cancel_is_forgotten_when_the_page_job_ends():
    jobs = DeviceJobs()
    jobs.cancel("s1")
    jobs.finished("s1")
    with jobs.run("s1") as cancel:
        assert not cancel.is_set()


def test_cancel_is_per_session():
    jobs = DeviceJobs()
    with jobs.run("a") as a:
        jobs.cancel("b")
        assert not a.is_set()


def test_a_cancelled_handler_changes_no_output_and_says_so(monkeypatch):
    notes = []
    monkeypatch.setattr(gr, "Info", notes.append)

    @user_errors()
    def handler():
        raise JobCancelled()

    assert handler() == gr.skip()
    assert notes == ["Cancelled. Nothing was written."]


def test_user_errors_are_one_log_line_without_traceback(caplog):
    @user_errors()
    def generate():
        raise InputError("No audio was given.")

    with caplog.at_level(logging.INFO, logger="musetalk.ui.guard"), pytest.raises(gr.Error) as info:
        generate()
    assert info.value.print_exception is False  # gradio prints no traceback for it
    lines = [r for r in caplog.records if r.name == "musetalk.ui.guard"]
    assert [r.getMessage() for r in lines] == ["generate: refused: No audio was given."]
    assert lines[0].exc_info is None


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "about 1 s left"), (40.4, "about 40 s left"),
                                               (89, "about 89 s left"), (200, "about 3 min left")])
def test_remaining_text(seconds, text):
    assert remaining_text(seconds) == text


def _colour_pixels(rgb: np.ndarray, hex_colour: str) -> int:
    want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb.astype(int) - want).max(axis=-1) < 40).sum())


def test_loss_plot_draws_every_series_in_its_colour_with_whole_step_ticks():
    from musetalk.ui.loss_plot import SERIES, loss_figure

    rows = [{"step": 0, "val_loss": 0.9}, {"step": 1, "pixel": 0.5, "latent": 0.3, "val_loss": 0.8}]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = loss_figure(rows)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    for key, (_, colour) in SERIES.items():
        assert _colour_pixels(rgb, colour) > 40, key
    ticks = fig.axes[0].get_xticks()
    shown = [t for t in ticks if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    assert shown and all(float(t).is_integer() for t in shown), shown
    assert loss_figure([]) is None


@pytest.mark.parametrize(("library", "page"), [
    ("/tmp/gradio/3f2a9c/interview.mp4 has no audio track (this video contains no sound).",
     "interview.mp4 has no audio track (this video contains no sound)."),
    ("/tmp/gradio/ab12/My clip.mp4 has no audio track.", "My clip.mp4 has no audio track."),
    ("/tmp/gradio/77/broken.mp4 could not be opened as media: moov atom not found. Use a video (mp4, mov, mkv, "
     "...), an image (png, jpg, webp, bmp) or an audio file (wav, mp3, m4a, ...).",
     "broken.mp4 could not be opened as media: it is damaged or not a media file. Use a video (mp4, mov, mkv, "
     "...), an image (png, jpg, webp, bmp) or an audio file (wav, mp3, m4a, ...)."),
    ("ffmpeg failed while decoding /tmp/gradio/1/cut.mp4 after 12 frames: Invalid NAL unit size. Try another.",
     "The video cut.mp4 could not be read past frame 12: the file looks damaged. Try another."),
    ("Weights are missing in /srv/w: musetalkV15/unet.pth. Run `python -m musetalk weights download --dir /srv/w` "
     "(about 3.5 GB) to fetch the official weights.",
     "Weights are missing in w: musetalkV15/unet.pth. Press Download weights at the top of the page."),
    ("The clip has no sound. Pass the speech with --audio, or use a clip recorded with sound.",
     "The clip has no sound. Upload its speech in the optional speech box, or use a clip recorded with sound."),
])
def test_messages_use_the_file_name_and_the_page_words(library, page):
    from musetalk.ui.messages import for_page

    assert for_page(library) == page


def test_the_page_shows_the_page_words_and_the_log_keeps_the_path(caplog):
    @user_errors()
    def generate():
        raise InputError("/tmp/gradio/9/face.mov has no video stream (it holds only sound).")

    with caplog.at_level(logging.INFO, logger="musetalk.ui.guard"), pytest.raises(gr.Error) as info:
        generate()
    assert info.value.message == "face.mov has no video stream (it holds only sound)."
    assert "/tmp/gradio/9/face.mov" in caplog.text


def test_time_estimate_before_and_after_the_first_run():
    from musetalk.ui.estimate import SpeedLog, estimate_text

    speed = SpeedLog()
    assert "The first run measures" in estimate_text(4.14, speed.fps)
    speed.record(100, 10.0)
    assert estimate_text(4.14, speed.fps) == ("4.1 s of speech: 103 frames, about 10 s here (measured 10.0 "
                                              "frames/s; the first run also loads the model).")
    speed.record(100, 5.0)
    assert speed.fps == 15.0  # follows the newer run


def test_the_bridge_records_the_lip_sync_speed(monkeypatch):
    from musetalk.ui import progress as progress_mod
    from musetalk.ui.estimate import SpeedLog

    clock = iter([0.0, 2.0, 4.0])
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: next(clock))
    speed, shown = SpeedLog(), []
    report = progress_mod.bridge(lambda *a, **k: shown.append(k["desc"]), speed=speed)
    report("lip-sync", 10, 50)
    report("lip-sync", 30, 50)
    report("lip-sync", 50, 50)
    assert speed.fps == 10.0  # 40 frames in 4 s, counted from the first report
    assert shown[1] == "Lip-syncing: 30/50 frames · about 2 s left"
