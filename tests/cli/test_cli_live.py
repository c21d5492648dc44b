"""``avatar live`` and ``bench --chunk-ms``: wrong input is one ``error:`` sentence and exit 2, before any model
loads (the weights given here do not exist, so reaching them would fail differently)."""
from __future__ import annotations

from pathlib import Path

import pytest
from core_helpers import ASSETS

from musetalk.cli import main

NO_WEIGHTS = ["--weights", "/nonexistent/weights", "--device", "cpu"]


def live(tmp_path: Path, *args: str) -> list[str]:
    return ["avatar", "--avatars", str(tmp_path / "avatars"), "live", "--name", "anna", "--out",
            str(tmp_path / "o.mp4"), *NO_WEIGHTS, *args]


@pytest.mark.parametrize("args, message", [
    (["--audio", str(ASSETS / "speech.wav"), "--chunk-ms", "10"], "--chunk-ms must be at least 20, got 10."),
    (["--audio", str(ASSETS / "speech.wav")], "Prepare it with `python -m musetalk avatar prepare`."),
    (["--audio", "/nonexistent/a.wav"], "/nonexistent/a.wav"),
])
def test_avatar_live_bad_input_exits_2(tmp_path, capsys, args, message) -> None:
    assert main(live(tmp_path, *args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_avatar_live_idle_level_must_be_a_number_or_none(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(live(tmp_path, "--audio", str(ASSETS / "speech.wav"), "--idle-below-db", "quiet"))
    assert exc.value.code == 2 and "expected a level in dB or 'none'" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["10", "100,x", ","])
def test_bench_chunk_ms_is_checked(tmp_path, capsys, value) -> None:
    assert main(["bench", "--video", str(ASSETS / "face.jpg"), "--audio", str(ASSETS / "speech.wav"),
                 "--only", "live", "--chunk-ms", value, *NO_WEIGHTS]) == 2
    assert "--chunk-ms" in capsys.readouterr().err
