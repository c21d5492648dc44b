"""Two preparations of one avatar at once: the second refuses with a sentence, and the avatar on disk is always
one video's, whole."""
from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from odd_media import REPO, RobustMedia

from musetalk.avatar import Avatar, list_avatars
from musetalk.errors import InputError
from musetalk.media import iter_frames
from musetalk.pipeline import LipSyncPipeline


def test_prepare_refuses_while_another_prepares_the_same_name(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                              tmp_path: Path) -> None:
    avatars = tmp_path / "avatars"
    avatars.mkdir()
    with open(avatars / ".me.lock", "a+") as held:  # what a running preparation of "me" holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError) as err:
            Avatar.prepare(stub_pipe, media.face(), avatars / "me")
    assert err.value.message == (f"Another process is preparing the avatar 'me' in {avatars} right now.")
    assert list_avatars(avatars) == []
    Avatar.prepare(stub_pipe, media.face(), avatars / "me")  # the lock is free again
    assert list_avatars(avatars) == ["me"]


def test_two_prepare_commands_at_once_leave_one_whole_avatar(media: RobustMedia, tiny_weights: Path,
                                                             tmp_path: Path) -> None:
    videos = [media.face(), media.face_variant("face_flipped.mp4", "-vf", "hflip")]
    avatars = tmp_path / "avatars"
    procs = [subprocess.Popen([sys.executable, "-m", "musetalk", "avatar", "--avatars", str(avatars), "prepare",
                               "--name", "me", "--video", str(v), "--weights", str(tiny_weights), "--device", "cpu"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for v in videos]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(code in (0, 2) for code, _ in results), results
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        if code == 2:
            assert "Another process is preparing the avatar 'me'" in err, err
    assert list_avatars(avatars) == ["me"]
    meta_source = (avatars / "me" / "meta.json").read_text()
    which = [v for v in videos if v.name in meta_source]
    assert len(which) == 1
    first = next(iter_frames(which[0]))
    stored = np.fromfile(avatars / "me" / "frames.u8", np.uint8, count=first.size).reshape(first.shape)
    assert np.array_equal(stored, first)  # its frames are that video's
    assert not list(avatars.glob(".me.preparing*"))  # no work folder left behind
