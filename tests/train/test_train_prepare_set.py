"""Preparing a dataset: listing DATA (folder, list file, sidecar audio), bad clips reported and skipped, long
videos split, a minimum face size, a manifest, and a second run that reuses what is ready."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_helpers import cut, ffmpeg

from musetalk.cli import main
from musetalk.errors import InputError
from musetalk.train.cache import open_clip, read_manifest
from musetalk.train.clip_list import list_clips
from musetalk.train.prepare import PrepareConfig
from musetalk.train.prepare_set import prepare_dataset


@pytest.fixture(scope="module")
def data_dir(clip_path, tmp_path_factory) -> Path:
    """Two real 2 s clips (one with its speech as a sidecar wav), a broken file, a silent and a faceless clip."""
    root = tmp_path_factory.mktemp("data")
    cut(clip_path, root / "a.mp4", 2.0, extra=("-vf", "scale=256:256"))
    (root / "sub").mkdir()
    cut(clip_path, root / "sub" / "b.mp4", 2.0, start=3.0, extra=("-vf", "scale=256:256", "-an"))
    cut(clip_path, root / "sub" / "b.wav", 2.0, start=3.0, extra=("-vn",))
    (root / "broken.mp4").write_bytes(b"not a video at all")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=128x128:rate=25:duration=1", "-pix_fmt", "yuv420p",
           str(root / "silent.mp4"))
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=128x128:rate=25:duration=1", "-f", "lavfi",
           "-i", "sine=frequency=300:duration=1", "-shortest", "-pix_fmt", "yuv420p", str(root / "faceless.mp4"))
    return root


def test_folder_and_list_file_with_sidecar_audio(data_dir, tmp_path):
    found = {s.video.name: s for s in list_clips(data_dir)}
    assert sorted(found) == ["a.mp4", "b.mp4", "broken.mp4", "faceless.mp4", "silent.mp4"]
    assert found["b.mp4"].audio == data_dir / "sub" / "b.wav" and found["a.mp4"].audio is None
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two clips\n{data_dir / 'a.mp4'}\n\n{data_dir / 'sub' / 'b.mp4'}\t{data_dir / 'a.mp4'}\n")
    a, b = list_clips(listing)
    assert (a.video, a.audio, b.audio) == (data_dir / "a.mp4", None, data_dir / "a.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no video clips"):
        list_clips(tmp_path / "empty")


def test_bad_clips_are_reported_and_skipped(data_dir, tiny_models, tmp_path):
    report = prepare_dataset(data_dir, tmp_path / "cache", PrepareConfig(), models=tiny_models)
    skipped = {Path(r.source).name: r.skipped for r in report.skipped}
    assert sorted(skipped) == ["broken.mp4", "faceless.mp4", "silent.mp4"]
    assert "no audio track" in skipped["silent.mp4"] and "No face" in skipped["faceless.mp4"]
    assert skipped["broken.mp4"]
    manifest = read_manifest(tmp_path / "cache")
    assert len(manifest["clips"]) == 2 and all(c["rows"] >= 45 for c in manifest["clips"])
    assert len(manifest["skipped"]) == 3
    assert report.lines()[-1].startswith("2 clips ready")
    # A second run reuses both clips and reports the same skips.
    again = prepare_dataset(data_dir, tmp_path / "cache", PrepareConfig(), models=tiny_models)
    assert all(r.cached for r in again.results if not r.skipped) and len(again.skipped) == 3


def test_split_and_min_face(data_dir, tiny_models, tmp_path):
    one = [s for s in list_clips(data_dir) if s.video.name == "a.mp4"]
    report = prepare_dataset(one, tmp_path / "split", PrepareConfig(split_seconds=1.0), models=tiny_models)
    names = [c["name"] for c in report.clips]
    assert len(names) == 2 and names[0].endswith("~000") and names[1].endswith("~001")
    first = open_clip(tmp_path / "split", names[0])
    assert first.n_frames == 25 and first.frame_index.max() < 25
    assert open_clip(tmp_path / "split", names[1]).frame_index.min() >= 0  # rows renumbered from the piece start
    big = prepare_dataset(one, tmp_path / "big", PrepareConfig(min_face=10_000), models=tiny_models)
    assert not big.clips and "too short" in big.skipped[0].skipped


def test_cli_prepare_reports_and_exits_2_when_nothing_is_usable(data_dir, tiny_weights, tmp_path, capsys):
    listing = tmp_path / "bad.txt"
    listing.write_text(f"{data_dir / 'broken.mp4'}\n{data_dir / 'missing.mp4'}\n")
    code = main(["dataset", "prepare", str(listing), "--out", str(tmp_path / "c"), "--weights", str(tiny_weights),
                 "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 2 and "skipped" in out and "missing.mp4 does not exist" in out
    assert err.strip().splitlines()[-1].startswith("error: No clip of")  # above it: only progress bars
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["clips"] == []


@pytest.mark.slow
def test_two_workers_prepare_what_one_does(data_dir, tiny_weights, tmp_path):
    one = prepare_dataset(data_dir, tmp_path / "w1", PrepareConfig(), tiny_weights, "cpu", workers=1)
    two = prepare_dataset(data_dir, tmp_path / "w2", PrepareConfig(), tiny_weights, "cpu", workers=2)
    assert sorted(map(str, one.lines()[:-1])) == sorted(map(str, two.lines()[:-1]))
    assert [c["name"] for c in one.clips] and sorted(c["name"] for c in one.clips) == sorted(
        c["name"] for c in two.clips)
    for c in one.clips:
        a, b = open_clip(tmp_path / "w1", c["name"]), open_clip(tmp_path / "w2", c["name"])
        assert (a.crops == b.crops).all() and abs(a.latents - b.latents).max() < 1e-5
