"""Shared options are accepted where a user puts them: ``--avatars`` before or after the avatar action."""
from __future__ import annotations

from pathlib import Path

import pytest
from odd_media import RobustMedia

from musetalk.cli import main


@pytest.mark.parametrize("where", ["before", "after"])
def test_avatars_folder_before_or_after_the_action(media: RobustMedia, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str], where: str) -> None:
    folder = ["--avatars", str(tmp_path / "mine")]
    action = ["speak", "--name", "ghost", "--audio", str(media.tone()), "--out", str(tmp_path / "o.mp4")]
    argv = ["avatar", *folder, *action] if where == "before" else ["avatar", *action, *folder]
    assert main(argv) == 2
    assert f"There is no avatar named 'ghost' in {tmp_path / 'mine'}." in capsys.readouterr().err


def test_list_and_delete_take_the_folder_after_the_action(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine" / "half").mkdir(parents=True)  # not prepared: not listed
    assert main(["avatar", "list", "--avatars", str(tmp_path / "mine")]) == 0
    assert capsys.readouterr().out == ""
    assert main(["avatar", "delete", "--name", "ghost", "--avatars", str(tmp_path / "mine")]) == 2
    assert "There is no avatar named 'ghost'" in capsys.readouterr().err


def test_the_cli_works_from_any_folder(tmp_path: Path) -> None:
    """The README's install puts the package on the path (``-e .`` in requirements.txt): no repo-root cwd."""
    import os
    import shutil
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "musetalk", "weights", "check", "--dir", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Weights are missing" in proc.stderr, proc.stderr
    script = shutil.which("musetalk", path=str(Path(sys.executable).parent))
    assert script is not None, "the musetalk command is not installed beside the interpreter"
    proc = subprocess.run([script, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "generate" in proc.stdout
