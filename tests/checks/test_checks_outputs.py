"""Where the video goes: bad destinations fail up front, inputs are never overwritten, failures leave nothing."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from odd_media import RobustMedia, StubRenderer

from musetalk.avatar import Avatar
from musetalk.errors import InputError
from musetalk.pipeline import LipSyncPipeline


@pytest.fixture()
def no_audio_work(stub_pipe: LipSyncPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """Output checks must fail before Whisper runs."""
    monkeypatch.setattr(stub_pipe, "audio_windows", lambda *a: pytest.fail("audio must not be encoded"))


def test_output_folder_missing(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                               no_audio_work: None) -> None:
    out = tmp_path / "not there" / "out.mp4"
    with pytest.raises(InputError, match=r"^Output folder .*not there does not exist\. Create it first"):
        stub_pipe.generate(media.face_frame("png"), media.tone(), out)
    assert not out.parent.exists()


def test_output_folder_is_a_file(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                                 no_audio_work: None) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"Output folder .*notes\.txt does not exist"):
        stub_pipe.generate(media.face_frame("png"), media.tone(), tmp_path / "notes.txt" / "out.mp4")


@pytest.fixture()
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can create files in. chmod does not stop root, so as root the folder is made immutable
    (chattr +i); where that is not possible either the test skips, saying why."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    done = chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode == 0
    if not done:
        pytest.skip("running as root and `chattr +i` is unavailable here: no way to make a folder read-only")
    yield folder
    subprocess.run([chattr, "-i", str(folder)], check=True)


def test_output_folder_read_only(media: RobustMedia, stub_pipe: LipSyncPipeline, read_only_dir: Path,
                                 no_audio_work: None) -> None:
    with pytest.raises(InputError, match=r"^Output folder .*locked is not writable \((Permission denied|"
                                         r"Operation not permitted)\)\. Choose a folder you can write to\.$"):
        stub_pipe.generate(media.face_frame("png"), media.tone(), read_only_dir / "out.mp4")
    assert list(read_only_dir.iterdir()) == []


def test_output_path_equal_to_video(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                                    no_audio_work: None) -> None:
    video = tmp_path / "me.mp4"
    shutil.copy(media.face(), video)
    before = video.read_bytes()
    with pytest.raises(InputError, match=r"^The output path .*me\.mp4 is the same as an input \(.*me\.mp4\)\. "
                                         r"Choose another output file name; inputs are never overwritten\.$"):
        stub_pipe.generate(video, media.tone(), tmp_path / "." / "me.mp4")
    assert video.read_bytes() == before


def test_output_path_equal_to_audio_even_through_a_hard_link(media: RobustMedia, stub_pipe: LipSyncPipeline,
                                                             tmp_path: Path, no_audio_work: None) -> None:
    """The audio here is an mp4 with sound; the output is a second name (hard link) of the same file."""
    audio = tmp_path / "speech.mp4"
    media._make("tone_in_mp4.mp4", "-f", "lavfi", "-i", "color=c=gray:s=64x64:d=1", "-f", "lavfi",
                "-i", "sine=frequency=440:duration=1", "-shortest", "-c:v", "libx264", "-c:a", "aac")
    shutil.copy(media.path("tone_in_mp4.mp4"), audio)
    os.link(audio, tmp_path / "alias.mp4")
    with pytest.raises(InputError, match=r"alias\.mp4 is the same as an input \(.*speech\.mp4\)"):
        stub_pipe.generate(media.face_frame("png"), audio, tmp_path / "alias.mp4")


def test_output_extension_not_a_video(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path,
                                      no_audio_work: None) -> None:
    with pytest.raises(InputError, match=r"unsupported extension '\.gif'\. Use \.mp4 \(recommended\), \.mov, "
                                         r"\.m4v or \.mkv\.$"):
        stub_pipe.generate(media.face_frame("png"), media.tone(), tmp_path / "out.gif")


def test_failure_mid_generation_leaves_nothing(media: RobustMedia, tiny_models, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The renderer dies after one batch: the error surfaces, and there is no out.mp4, no hidden temporary
    video beside it, and no frame spool left in the temp folder; an existing out.mp4 is left as it was."""
    spool_root = tmp_path / "tmp"
    spool_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_root))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    pipe = LipSyncPipeline(tiny_models)
    pipe.renderer = StubRenderer(tiny_models, fail_after=1)
    with pytest.raises(RuntimeError, match="simulated failure"):
        pipe.generate(media.face_frame("png"), media.tone(seconds=1.0), out_dir / "out.mp4")
    assert list(out_dir.iterdir()) == [] and list(spool_root.iterdir()) == []

    (out_dir / "out.mp4").write_bytes(b"previous result")
    pipe.renderer = StubRenderer(tiny_models, fail_after=1)
    with pytest.raises(RuntimeError, match="simulated failure"):
        pipe.generate(media.face_frame("png"), media.tone(seconds=1.0), out_dir / "out.mp4")
    assert [p.name for p in out_dir.iterdir()] == ["out.mp4"]
    assert (out_dir / "out.mp4").read_bytes() == b"previous result"


def test_avatar_output_equal_to_audio(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path) -> None:
    avatar = Avatar.prepare(stub_pipe, media.face_frame("jpg"), tmp_path / "avatars" / "me")
    audio = tmp_path / "line.wav"
    shutil.copy(media.tone(), audio)
    with pytest.raises(InputError, match=r"line\.wav is the same as an input \(.*line\.wav\)"):
        avatar.speak_to_file(audio, audio)
    assert audio.read_bytes() == media.tone().read_bytes()
