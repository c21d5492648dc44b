"""weights.download: offline is one sentence within seconds, a partial download is kept and resumed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musetalk import weights
from musetalk.errors import DownloadError

ROOT = Path(__file__).resolve().parents[1]


def test_unreachable_hub_fails_fast_with_one_sentence(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"http://127\.0\.0\.1:9 cannot be reached") as err:
        weights.download(tmp_path / "w", progress=False)
    assert time.monotonic() - t0 < 6
    assert "internet connection" in str(err.value)


def test_a_failed_file_keeps_its_partial_download_for_the_next_run(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(weights, "_check_hub_reachable", lambda: None)
    calls = []

    def flaky(repo_id, filename, local_dir):
        partial = Path(local_dir) / ".cache" / "huggingface" / "download" / (Path(filename).name + ".incomplete")
        calls.append(partial.is_file() and partial.read_bytes())
        if len(calls) == 1:  # the first attempt dies half-way
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(b"first half")
            raise ConnectionError("connection reset")
        out = Path(local_dir) / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"whole file")
        return str(out)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", flaky)
    root = tmp_path / "w"
    with pytest.raises(DownloadError, match="connection reset"):
        weights.download(root, progress=False)
    assert weights.missing_files(root) == [wf.alternatives[0] for wf in weights.REQUIRED]  # nothing half-written
    weights.download(root, progress=False)
    assert calls[1] == b"first half"  # the second run found the partial file where the first left it
    assert weights.missing_files(root) == []
    assert not (root / weights.STAGING_DIR).exists()  # all done: the staging folder is gone


def test_cli_offline_download_is_at_most_two_lines_in_seconds(tmp_path):
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9"}
    env.pop("HF_HUB_OFFLINE", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "musetalk", "weights", "download", "--dir", str(tmp_path / "w")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert 1 <= len(lines) <= 2, lines
    assert "cannot be reached" in lines[0] and "Traceback" not in proc.stderr
    assert elapsed < 10, elapsed
