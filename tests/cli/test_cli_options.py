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
