"""The CLI's progress: one line for one-step stages, sane rates, and the last bar ends its own line."""
from __future__ import annotations

import re
import time

from musetalk.cli.common import tqdm_progress


def test_progress_reads_as_a_person_expects(capsys):
    update, close = tqdm_progress()
    update("audio", 0, 1)
    update("audio", 1, 1)
    update("lip-sync", 8, 40)  # the first report comes after a batch was already made
    for done in range(16, 41, 8):
        time.sleep(0.05)
        update("lip-sync", done, 40)
    update("encode", 1, 1)
    close()
    print("wrote out.mp4")
    out = capsys.readouterr()
    err = out.err.replace("\r", "\n")
    assert err.count("reading the audio…") == 1 and "audio: 0%" not in err
    assert err.count("writing the video…") == 1
    rates = [float(r) for r in re.findall(r"([\d.]+)frame/s", err)]
    assert rates and max(rates) < 1000, rates  # ~160 frames/s here; not 8 frames over microseconds
    assert "40/40" in err
    assert out.err.endswith("\n")  # "wrote ..." (stdout) starts on a line of its own
    assert out.out == "wrote out.mp4\n"
