"""Answers that need no models come without importing torch, cv2 or mediapipe (seconds of start-up):
``avatar list``, ``avatar delete`` and a missing input file."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "cv2", "mediapipe", "diffusers", "transformers", "gradio")

RUN_JS = """
import json, sys
from musetalk.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "heavy": [m for m in %r if m in sys.modules]}), file=sys.stderr)
""" % (HEAVY,)


def _run(tmp_path: Path, *args: str) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", RUN_JS, *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    *lines, last = proc.stderr.strip().splitlines()
    return json.loads(last), proc.stdout + "\n".join(lines)


def test_avatar_list_imports_no_model_library(tmp_path):
    (tmp_path / "avatars").mkdir()
    result, _ = _run(tmp_path, "avatar", "list", "--avatars", str(tmp_path / "avatars"))
    assert result == {"code": 0, "heavy": []}


def test_avatar_delete_of_an_unknown_name_imports_no_model_library(tmp_path):
    result, out = _run(tmp_path, "avatar", "delete", "--name", "nobody", "--avatars", str(tmp_path))
    assert result == {"code": 2, "heavy": []}
    assert "There is no avatar named 'nobody'" in out


def test_missing_video_fails_before_any_model_library(tmp_path, tiny_weights):
    audio = Path(__file__).resolve().parents[2] / "assets" / "speech.wav"
    result, out = _run(tmp_path, "generate", "--weights", str(tiny_weights), "--video", "missing.mp4",
                       "--audio", str(audio), "--out", "o.mp4")
    assert result == {"code": 2, "heavy": []}
    assert "File not found" in out and "missing.mp4" in out


@pytest.mark.parametrize("args", [("avatar", "speak", "--name", "x", "--audio", "missing.wav", "--out", "o.mp4")])
def test_missing_speech_for_an_avatar_fails_before_any_model_library(tmp_path, args):
    result, out = _run(tmp_path, *args, "--avatars", str(tmp_path))
    assert result["code"] == 2 and result["heavy"] == [], (result, out)
