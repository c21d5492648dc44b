"""`--face` and the tasks' `face` key: a choice that fits no face of a two-face video is one sentence and exit 2,
before any model loads."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from core_helpers import two_face_clip
from odd_media import RobustMedia

from musetalk.cli import main
from musetalk.cli.generate import load_tasks
from musetalk.config import InferenceConfig


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_face_clip(tmp_path_factory.mktemp("two-faces") / "two.mp4")


def _run(argv: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("face, words", [
    ("2", "error: Face 2 was chosen, but the first frame with faces has only 2 faces (numbered 0 to 1 from left "
          "to right)."),
    ("5000,10", "error: The face point 5000,10 lies outside the 640x360 frame."),
    ("5,5", "error: No face covers the point 5,5 in the first frame with faces (face 0: "),
    ("abc", "error: The face choice 'abc' is not valid: use largest, a face number (0 = leftmost) or a pixel X,Y"),
])
def test_a_face_that_is_not_there_exits_2_before_the_models_load(
        two_faces: Path, media: RobustMedia, tiny_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, face: str, words: str) -> None:
    monkeypatch.setattr("musetalk.pipeline.build_pipeline", lambda *a, **k: pytest.fail("models must not load"))
    code, err = _run(["generate", "--weights", tiny_weights, "--video", two_faces, "--audio", media.tone(),
                      "--out", tmp_path / "out.mp4", "--face", face], capsys)
    assert code == 2
    assert err.startswith(words), err
    assert len(err.splitlines()) == 1 and not (tmp_path / "out.mp4").exists()


def test_avatar_prepare_checks_the_face_too(two_faces: Path, tiny_weights: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("musetalk.pipeline.build_pipeline", lambda *a, **k: pytest.fail("models must not load"))
    code, err = _run(["avatar", "--avatars", tmp_path / "avatars", "prepare", "--weights", tiny_weights,
                      "--name", "two", "--video", two_faces, "--face", "3"], capsys)
    assert code == 2 and "Face 3 was chosen, but the first frame with faces has only 2 faces" in err, err


def test_a_bad_face_in_a_task_is_named(media: RobustMedia, tiny_weights: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    tasks = tmp_path / "tasks.yaml"
    good = {"video": str(media.testsrc()), "audio": str(media.tone())}
    tasks.write_text(yaml.safe_dump({"first": good, "second": {**good, "face": "left"}}))
    code, err = _run(["generate", "--weights", tiny_weights, "--tasks", tasks], capsys)
    assert code == 2
    assert err == (f"error: Task 'second' in {tasks}: face must be largest, a face number (0 = leftmost) or a pixel "
                   "X,Y inside the face (got 'left').")


def test_task_faces_override_the_command_line(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"a": {"video": "v.mp4", "audio": "a.wav", "face": 1},
                                     "b": {"video": "v.mp4", "audio": "a.wav", "face": "320, 200"},
                                     "c": {"video": "v.mp4", "audio": "a.wav"}}))
    base = InferenceConfig()
    base.face.face = "0"
    faces = [t.cfg.face.face for t in load_tasks(tasks, base, tmp_path)]
    assert faces == ["1", "320,200", "0"]
