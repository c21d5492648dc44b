"""The CLI's contract under failure: user errors print one ``error:`` line and exit 2 (before the models load when
the inputs are wrong), bugs exit 1 with a log path, Ctrl-C and SIGTERM exit 130 leaving no output and no temporary
files. Exit codes and signals run the real ``python -m musetalk`` process; the rest calls ``cli.main`` in-process.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from odd_media import REPO, RobustMedia, StubRenderer, run_cli

from musetalk import cli
from musetalk.errors import WeightsError
from musetalk.media import iter_frames
from musetalk.models import load_models
from musetalk.pipeline import LipSyncPipeline


def _damaged_copy(weights: Path, dest: Path, rel: str) -> Path:
    """A copy of the weights folder with ``rel`` cut to half its size (an interrupted download or copy)."""
    shutil.copytree(weights, dest)
    data = (dest / rel).read_bytes()
    (dest / rel).write_bytes(data[: len(data) // 2])
    return dest


def test_truncated_unet_weights_exit_2(media: RobustMedia, tiny_weights: Path, tmp_path: Path) -> None:
    weights = _damaged_copy(tiny_weights, tmp_path / "w", "musetalkV15/unet.pth")
    result = run_cli("generate", "--weights", weights, "--device", "cpu", "--video", media.face_frame("png"),
                     "--audio", media.tone(), "--out", tmp_path / "out.mp4")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: Cannot read {weights}/musetalkV15/unet.pth: the file is damaged or incomplete. "
        "Delete it and run `python -m musetalk weights download` again.")
    assert "Traceback" not in result.stderr and not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("rel, match", [
    ("sd-vae/diffusion_pytorch_model.safetensors", r"^Cannot load the VAE from .*sd-vae: .*Delete the folder and "
                                                   r"run `python -m musetalk weights download` again\.$"),
    ("whisper/model.safetensors", r"^Cannot load Whisper from .*whisper: .*Delete the folder and run"),
])
def test_truncated_vae_and_whisper_weights(tiny_weights: Path, tmp_path: Path, rel: str, match: str) -> None:
    weights = _damaged_copy(tiny_weights, tmp_path / "w", rel)
    with pytest.raises(WeightsError, match=match):
        load_models(weights, device="cpu", dtype="fp32")


def _main(argv: list[str | Path], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def test_missing_weights_exit_2(media: RobustMedia, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(["generate", "--weights", tmp_path / "empty", "--device", "cpu", "--video",
                       media.face_frame("png"), "--audio", media.tone(), "--out", tmp_path / "out.mp4"], capsys)
    assert code == 2
    assert err.startswith(f"error: Weights are missing in {tmp_path / 'empty'}: musetalkV15/musetalk.json, ")
    assert err.endswith("to fetch the official weights.")


def test_bad_input_is_reported_before_the_models_load(media: RobustMedia, tiny_weights: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A text file given as the video fails in the checks, before the models load (only the weights' presence,
    an instant check, comes first)."""
    monkeypatch.setattr("musetalk.pipeline.build_pipeline",
                        lambda *a, **k: pytest.fail("models must not load for a bad input"))
    code, err = _main(["generate", "--weights", tiny_weights, "--video", media.text_as_mp4(),
                       "--audio", media.tone(), "--out", tmp_path / "out.mp4"], capsys)
    assert code == 2
    assert err.startswith("error: ") and "notes.mp4 could not be opened as media" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("case", ["speak-unknown", "prepare-no-face", "bad-name"])
def test_avatar_commands_check_before_the_models_load(media: RobustMedia, tiny_weights: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.setattr("musetalk.pipeline.build_pipeline",
                        lambda *a, **k: pytest.fail("models must not load for a bad input"))
    avatars = ["avatar", "--avatars", tmp_path / "avatars"]
    model = ["--weights", tiny_weights, "--device", "cpu"]
    argv, expected = {
        "speak-unknown": (["speak", "--name", "ghost", "--audio", media.tone(), "--out", tmp_path / "o.mp4"],
                          f"error: There is no avatar named 'ghost' in {tmp_path / 'avatars'}. "
                          "Prepare it with `python -m musetalk avatar prepare`."),
        "prepare-no-face": (["prepare", "--name", "bars", "--video", media.testsrc()],
                            "error: No face was found in any of 5 frames sampled across the video "
                            "(testsrc_1.0_160x120_25.mp4). " + "Use a video where one face is clearly visible, "
                            "roughly facing the camera."),
        "bad-name": (["prepare", "--name", "../up", "--video", media.testsrc()],
                     "error: Invalid avatar name '../up'. Use 1-64 letters, digits, '_', '-' or '.', starting with "
                     "a letter or digit."),
    }[case]
    code, err = _main([*avatars, *argv, *model], capsys)
    assert (code, err) == (2, expected)
    assert not (tmp_path / "avatars").exists()


def test_tasks_file_is_checked_whole_before_any_work(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                     tiny_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The second task's audio is missing: exit 2 naming it, and the first task was not generated either."""
    monkeypatch.setattr("musetalk.pipeline.build_pipeline", lambda *a, **k: stub_pipe)
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({
        "good": {"video": str(media.face_frame("png")), "audio": str(media.tone(seconds=0.2))},
        "bad": {"video": str(media.face_frame("png")), "audio": "missing.wav"},
    }))
    code, err = _main(["generate", "--weights", tiny_weights, "--tasks", tasks, "--out-dir", tmp_path / "results"],
                      capsys)
    assert code == 2 and err == f"error: File not found: {tmp_path / 'missing.wav'}. Check the path and try again."
    assert list((tmp_path / "results").iterdir()) == []


def test_tasks_default_results_folder_is_created(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                 tiny_weights: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks without 'out' go to ./results, which the CLI creates (it used to fail: folder does not exist)."""
    monkeypatch.setattr("musetalk.pipeline.build_pipeline", lambda *a, **k: stub_pipe)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tasks.yaml").write_text(yaml.safe_dump(
        {"clip": {"video": str(media.face_frame("png")), "audio": str(media.tone(seconds=0.2))}}))
    code, _ = _main(["generate", "--weights", tiny_weights, "--tasks", "tasks.yaml"], capsys)
    assert code == 0
    assert len(list(iter_frames(tmp_path / "results" / "clip.mp4"))) == 5


def test_unexpected_bug_exits_1_with_a_log_path(media: RobustMedia, tiny_models, tiny_weights: Path,
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug is not dressed up as a user error: exit 1, one line naming the log that holds the traceback."""
    pipe = LipSyncPipeline(tiny_models)
    pipe.renderer = StubRenderer(tiny_models, fail_after=0)
    monkeypatch.setattr("musetalk.pipeline.build_pipeline", lambda *a, **k: pipe)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    code, err = _main(["generate", "--weights", tiny_weights, "--video", media.face_frame("png"), "--audio",
                       media.tone(seconds=0.2),
                       "--out", tmp_path / "out.mp4"], capsys)
    log = tmp_path / "musetalk-error.log"
    assert code == 1
    assert err.splitlines()[-1] == (f"error: unexpected RuntimeError: stub renderer: simulated failure mid-run. "
                                    f"Details in {log}; please report it.")
    assert "Traceback" in log.read_text() and not (tmp_path / "out.mp4").exists()


# ------------------------------------------------------------------------------------------ signals


def _as_in_a_terminal() -> None:
    """Child setup: Ctrl-C enabled. A shell's background job (`cmd &`, nohup) starts with SIGINT ignored, and Python
    keeps it ignored, so a test run from such a job would otherwise see no KeyboardInterrupt at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def _cli_in_own_session(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``python -m musetalk ARGS`` in a process group of its own (signal it like a terminal would); killed at exit."""
    proc = subprocess.Popen([sys.executable, "-m", "musetalk", *args], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_as_in_a_terminal)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_until(proc: subprocess.Popen[str], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 150
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, f"{what} ended before it could be interrupted: {proc.communicate()}"


def _interrupt_mid_generation(media: RobustMedia, tiny_weights: Path, tmp_path: Path,
                              sig: signal.Signals) -> tuple[int, str, Path, Path]:
    """Start a real generation (tiny models, a clip that must loop, so frames spool to TMPDIR), wait until the
    encoder's temporary file exists, then signal the whole process group (what a terminal's Ctrl-C does)."""
    out_dir, tmp = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir()
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp)}
    args = ["generate", "--weights", str(tiny_weights), "--device", "cpu", "--video", str(media.face()),
            "--audio", str(media.tone(seconds=20.0)), "--out", str(out_dir / "out.mp4")]
    with _cli_in_own_session(args, env) as proc:
        _wait_until(proc, lambda: any(out_dir.iterdir()), "generation")
        assert [p.name.startswith(".out.") for p in out_dir.iterdir()] == [True]  # the hidden temp file
        time.sleep(1.0)  # let a few batches through
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    return proc.returncode, err, out_dir, tmp


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_generation_leaves_nothing(media: RobustMedia, tiny_weights: Path, tmp_path: Path,
                                               sig: signal.Signals) -> None:
    code, err, out_dir, tmp = _interrupt_mid_generation(media, tiny_weights, tmp_path, sig)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "interrupted: the output in progress was not written."
    assert list(out_dir.iterdir()) == []  # no out.mp4, no hidden temporary video
    assert [p.name for p in tmp.iterdir() if p.name.startswith("musetalk")] == []  # no frame spool


def test_interrupted_task_list_keeps_and_names_the_finished_videos(media: RobustMedia, tiny_weights: Path,
                                                                  tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({
        "first": {"video": str(media.face()), "audio": str(media.tone(seconds=1.0)), "out": str(out_dir / "a.mp4")},
        "second": {"video": str(media.face()), "audio": str(media.tone(seconds=20.0)), "out": str(out_dir / "b.mp4")},
    }))
    args = ["generate", "--weights", str(tiny_weights), "--device", "cpu", "--tasks", str(tasks)]
    with _cli_in_own_session(args, {**os.environ, "PYTHONPATH": str(REPO)}) as proc:
        _wait_until(proc, lambda: (out_dir / "a.mp4").exists() and any(p.name.startswith(".b.")
                                                                       for p in out_dir.iterdir()), "the tasks")
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"wrote {out_dir / 'a.mp4'}" in out
    assert err.strip().splitlines()[-1] == (f"interrupted: 1 of 2 videos were written (listed above); "
                                            f"{out_dir / 'b.mp4'} was not.")
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.mp4"]
