"""A tasks YAML is checked whole before any model loads: every value of every task, and the file's syntax."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from odd_media import RobustMedia

from musetalk.cli import main


def _run(argv: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("key, value, words", [
    ("batch_size", "eight", "batch_size must be a whole number"),
    ("batch_size", 0, "batch_size must be at least 1"),
    ("bbox_shift", "up", "bbox_shift must be a whole number"),
    ("parsing_mode", "chin", "parsing_mode must be one of jaw, raw, neck"),
    ("smooth", "maybe", "smooth must be true or false"),
    ("left_cheek_width", -5, "left_cheek_width must be at least 0"),
])
def test_bad_task_values_are_named_before_the_models_load(media: RobustMedia, tiny_weights: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch, key: str, value,
                                                          words: str) -> None:
    monkeypatch.setattr("musetalk.pipeline.build_pipeline", lambda *a, **k: pytest.fail("models must not load"))
    tasks = tmp_path / "tasks.yaml"
    good = {"video": str(media.testsrc()), "audio": str(media.tone()), "out": str(tmp_path / "first.mp4")}
    tasks.write_text(yaml.safe_dump({"first": good, "second": {**good, "out": str(tmp_path / "b.mp4"),
                                                               key: value}}))
    code, err = _run(["generate", "--weights", tiny_weights, "--tasks", tasks], capsys)
    assert code == 2
    assert err.startswith(f"error: Task 'second' in {tasks}: {words}"), err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "first.mp4").exists()


def test_malformed_yaml_is_one_sentence_with_line_and_column(tiny_weights: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("intro:\n  video: a.mp4\n  audio: [b.wav\n")
    code, err = _run(["generate", "--weights", tiny_weights, "--tasks", tasks], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: The tasks file {tasks} is not valid YAML at line ") and "column" in err, err
