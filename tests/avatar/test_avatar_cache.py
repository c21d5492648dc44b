"""Avatar caches describe themselves; an unfinished, old, foreign or damaged cache is refused with a reason that
says to prepare again (it is never silently used), and preparing again rebuilds it."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from odd_media import RobustMedia, StubRenderer

from musetalk.avatar import Avatar, list_avatars, validate_name
from musetalk.errors import InputError, NoFaceError
from musetalk.pipeline import LipSyncPipeline
from musetalk.frame_store import STORE_VERSION
from musetalk.weights import vae_fingerprint

AGAIN = r"Prepare the avatar again from its video\.$"


@pytest.fixture()
def avatar_dir(media: RobustMedia, stub_pipe: LipSyncPipeline, tmp_path: Path) -> Path:
    """A freshly prepared 6-frame avatar (stub encoder: the cache layout is real, the latents are zeros)."""
    clip = media.face_variant("face_avatar.mp4", "-t", "0.24")
    return Avatar.prepare(stub_pipe, clip, tmp_path / "avatars" / "anna").root


def test_prepared_cache_records_version_and_parameters(avatar_dir: Path, stub_pipe: LipSyncPipeline) -> None:
    meta = json.loads((avatar_dir / "meta.json").read_text())
    assert meta["version"] == STORE_VERSION and meta["n_frames"] == 6
    assert meta["face"] == {"bbox_shift": 0, "extra_margin": 10, "parsing_mode": "jaw", "left_cheek_width": 90,
                            "right_cheek_width": 90, "smooth": True, "face": "largest"}
    assert meta["vae"] == vae_fingerprint(stub_pipe.models.weights_dir) and len(meta["vae"]) == 16
    assert sorted(p.name for p in avatar_dir.iterdir()) == ["faces.npz", "frames.u8", "latents.safetensors",
                                                            "meta.json"]
    assert len(Avatar.load(stub_pipe, avatar_dir).store) == 6
    assert list_avatars(avatar_dir.parent) == ["anna"]


def test_an_avatar_prepared_before_the_face_choice_loads_with_the_largest_face(avatar_dir: Path,
                                                                              stub_pipe: LipSyncPipeline) -> None:
    meta = json.loads((avatar_dir / "meta.json").read_text())
    del meta["face"]["face"]  # meta.json as avatars prepared before --face wrote it
    (avatar_dir / "meta.json").write_text(json.dumps(meta))
    assert Avatar.load(stub_pipe, avatar_dir).face_cfg.face == "largest"


def test_unfinished_cache_is_refused(avatar_dir: Path, stub_pipe: LipSyncPipeline) -> None:
    (avatar_dir / "meta.json").unlink()  # meta.json is written last: without it the preparation did not finish
    with pytest.raises(InputError, match=r"^The avatar 'anna' cannot be used: it was not fully prepared "
                                         r"\(no meta\.json\)\. " + AGAIN):
        Avatar.load(stub_pipe, avatar_dir)
    assert list_avatars(avatar_dir.parent) == []


def test_cache_from_another_version_is_refused(avatar_dir: Path, stub_pipe: LipSyncPipeline) -> None:
    meta = json.loads((avatar_dir / "meta.json").read_text())
    (avatar_dir / "meta.json").write_text(json.dumps({**meta, "version": 1}))
    with pytest.raises(InputError, match=r"it was made by another version of this tool \(cache format 1, this "
                                         rf"version reads format {STORE_VERSION}\)\. " + AGAIN):
        Avatar.load(stub_pipe, avatar_dir)


def test_cache_built_with_other_vae_weights_is_refused(avatar_dir: Path, stub_pipe: LipSyncPipeline,
                                                       tiny_weights: Path, tmp_path: Path) -> None:
    """Latents only fit the VAE that encoded them: after switching weights the avatar must be prepared again."""
    other = tmp_path / "other-weights"
    shutil.copytree(tiny_weights, other)
    config = json.loads((other / "sd-vae" / "config.json").read_text())
    (other / "sd-vae" / "config.json").write_text(json.dumps({**config, "scaling_factor": 0.2}))
    pipe = LipSyncPipeline(replace(stub_pipe.models, weights_dir=other))
    pipe.renderer = StubRenderer(pipe.models)
    with pytest.raises(InputError, match=r"was prepared with other VAE weights than the ones loaded from "
                                         r".*other-weights, so its cached latents do not fit\. " + AGAIN):
        Avatar.load(pipe, avatar_dir)


@pytest.mark.parametrize("damage", ["frames.u8", "latents.safetensors", "faces.npz", "meta.json"])
def test_damaged_cache_is_refused(avatar_dir: Path, stub_pipe: LipSyncPipeline, damage: str) -> None:
    """Truncated frames, garbage latents or landmarks, unreadable meta.json: one clear message each, no crash."""
    target = avatar_dir / damage
    if damage == "frames.u8":
        target.write_bytes(target.read_bytes()[:-1000])
        expected = r"is damaged \(ValueError: .*frames\.u8 does not hold 6 frames\)\. "
    elif damage == "meta.json":
        target.write_text('{"version": 2, "n_fra')
        expected = r"cannot be used: its meta\.json is unreadable \(.*\)\. "
    else:
        target.write_bytes(b"\x00garbage" * 20)
        expected = r"is damaged \(\w+: .*\)\. "
    with pytest.raises(InputError, match=r"^The avatar 'anna' " + expected + AGAIN):
        Avatar.load(stub_pipe, avatar_dir)


def test_preparing_again_rebuilds_a_damaged_cache(avatar_dir: Path, media: RobustMedia,
                                                  stub_pipe: LipSyncPipeline) -> None:
    (avatar_dir / "latents.safetensors").write_bytes(b"garbage")
    (avatar_dir.parent / ".anna.preparing").mkdir()  # the leftover of an interrupted preparation
    rebuilt = Avatar.prepare(stub_pipe, media.face_variant("face_avatar.mp4"), avatar_dir)
    assert len(rebuilt.store) == 6 and rebuilt.latents.shape == (6, 8, 32, 32)
    assert sorted(p.name for p in avatar_dir.parent.iterdir()) == ["anna"]


def test_preparing_a_faceless_video_keeps_the_old_avatar(avatar_dir: Path, media: RobustMedia,
                                                         stub_pipe: LipSyncPipeline) -> None:
    """A failed preparation (no face) replaces nothing: the previous avatar still loads."""
    with pytest.raises(NoFaceError, match="No face was found"):
        Avatar.prepare(stub_pipe, media.testsrc(), avatar_dir)
    assert len(Avatar.load(stub_pipe, avatar_dir).store) == 6
    assert sorted(p.name for p in avatar_dir.parent.iterdir()) == ["anna"]


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 65, "me..you"])
def test_invalid_avatar_names(name: str) -> None:
    """Names become folder names under the avatars folder: never a path, never hidden, never empty."""
    with pytest.raises(InputError, match=r"^Invalid avatar name .*Use 1-64 letters, digits"):
        validate_name(name)
