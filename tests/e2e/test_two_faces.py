"""Two people side by side (two shared clips, same height): `generate --face 0` and `--face 1` change only the
chosen person's lower face, in every frame. Difference maps (|out - in|, x8) go to test-artifacts/."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from core_helpers import cut, ffmpeg, read_frames

from musetalk.config import FaceConfig
from musetalk.face import FaceTracker

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
HEIGHT = 360  # each clip is square: the pair is 720x360, the left person face 0, the right one face 1
SECONDS = 2.0
OTHER_HALF_MAX_MAD = 3.0  # the bound for pixels the sync must not touch (H.264 re-encoding noise)
CHOSEN_MIN_MAD = 8.0  # random tiny weights paint noise into the blend region: far above re-encoding noise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_faces(shared_data: Path, tiny_weights: Path, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("two-faces")
    video = work / "two.mp4"
    ffmpeg("-i", str(shared_data / "retalking_face2.mp4"), "-i", str(shared_data / "retalking_face3.mp4"),
           "-t", str(SECONDS), "-filter_complex",
           f"[0:v]scale=-2:{HEIGHT}[a];[1:v]scale=-2:{HEIGHT}[b];[a][b]hstack=inputs=2[v]",
           "-map", "[v]", "-an", "-pix_fmt", "yuv420p", "-crf", "12", str(video))
    audio = cut(shared_data / "retalking_audio1.wav", work / "speech.wav", SECONDS)
    # One tasks file for both choices (the models load once); 1 as a YAML number, "0" as text.
    tasks = {"face0": {"video": str(video), "audio": str(audio), "face": "0", "silence": "keep"},
             "face1": {"video": str(video), "audio": str(audio), "face": 1, "silence": "keep"}}
    (work / "tasks.yaml").write_text(yaml.safe_dump(tasks))
    proc = subprocess.run(
        [sys.executable, "-m", "musetalk", "generate", "--tasks", str(work / "tasks.yaml"), "--out-dir",
         str(work / "out"), "--weights", str(tiny_weights), "--device", "cpu", "--dtype", "fp32"],
        capture_output=True, text=True, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"video": video, "out": {k: work / "out" / f"face{k}.mp4" for k in (0, 1)}}


def _lower_faces(frames: list[np.ndarray], choice: str) -> list[tuple[int, int, int, int] | None]:
    """The lower half of the chosen face's crop box in each input frame (where the mouth is re-drawn)."""
    boxes = []
    with FaceTracker(FaceConfig(face=choice)) as tracker:
        for frame in frames:
            face = tracker(frame)
            if face is None:
                boxes.append(None)
                continue
            x1, y1, x2, y2 = face.box
            boxes.append((x1, (y1 + y2) // 2, x2, y2))
    return boxes


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("chosen", [0, 1])
def test_only_the_chosen_persons_lower_face_changes(two_faces: dict, chosen: int) -> None:
    ins = read_frames(two_faces["video"])
    outs = read_frames(two_faces["out"][chosen])
    assert len(outs) >= len(ins) - 1 and ins[0].shape == outs[0].shape == (HEIGHT, 2 * HEIGHT, 3)
    half = HEIGHT
    lower = _lower_faces(ins, str(chosen))
    other_mads, chosen_mads = [], []
    for i, (src, out, box) in enumerate(zip(ins, outs, lower)):
        other = slice(half, None) if chosen == 0 else slice(0, half)
        other_mads.append(_mad(out[:, other], src[:, other]))
        assert box is not None, f"frame {i}: the chosen face was not found"
        x1, y1, x2, y2 = box
        assert (x1 < half) == (chosen == 0), f"frame {i}: the box {box} is on the other person"
        chosen_mads.append(_mad(out[y1:y2, x1:x2], src[y1:y2, x1:x2]))
    print(f"face {chosen}: other half MAD max {max(other_mads):.2f} mean {np.mean(other_mads):.2f}; "
          f"chosen lower face MAD min {min(chosen_mads):.1f} mean {np.mean(chosen_mads):.1f} over {len(outs)} frames")
    assert max(other_mads) < OTHER_HALF_MAX_MAD
    assert min(chosen_mads) > CHOSEN_MIN_MAD
    _write_difference_map(ins, outs, chosen)


def _write_difference_map(ins: list[np.ndarray], outs: list[np.ndarray], chosen: int) -> None:
    """Input, output and |out - in| x8 of the middle frame, one above the other, plus the difference summed
    over every frame (normalised): where the sync touched anything at all during the clip."""
    k = len(outs) // 2
    diff = np.abs(outs[k].astype(np.int16) - ins[k].astype(np.int16))
    frame_map = np.clip(diff * 8, 0, 255).astype(np.uint8)
    total = sum(np.abs(o.astype(np.float32) - i.astype(np.float32)).mean(axis=2) for o, i in zip(outs, ins))
    clip_map = cv2.cvtColor(np.clip(total / max(float(total.max()), 1.0) * 255, 0, 255).astype(np.uint8),
                            cv2.COLOR_GRAY2BGR)
    ARTIFACTS.mkdir(exist_ok=True)
    cv2.imwrite(str(ARTIFACTS / f"two-faces-diff-face{chosen}.png"),
                np.concatenate([ins[k], outs[k], frame_map, clip_map], axis=0))
