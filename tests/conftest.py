"""Fixtures shared by every test folder: tiny random weights in the official layout, and the real media."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-init tiny models written by the real `make-random` code, once per session."""
    from musetalk.weights import make_random

    return make_random(tmp_path_factory.mktemp("weights-tiny"), "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_models(tiny_weights: Path):
    from musetalk.models import load_models

    return load_models(tiny_weights, device="cpu", dtype="fp32")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test media not found at {SHARED_DATA} (../shared/data beside the project)")
    return SHARED_DATA




# ------------------------------------------------------------------ odd inputs (tests of checks, sources, cli, ...)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory):
    """Session-built odd inputs (``odd_media.RobustMedia``); tests/media has its own ``media`` fixture."""
    from odd_media import RobustMedia

    return RobustMedia(tmp_path_factory.mktemp("robust-media"))


@pytest.fixture(scope="session")
def stub_pipe(tiny_models):
    """The real pipeline (tiny Whisper for audio) with the stub renderer: magenta faces, no VAE/UNet work."""
    from odd_media import StubRenderer

    from musetalk.pipeline import LipSyncPipeline

    pipe = LipSyncPipeline(tiny_models)
    pipe.renderer = StubRenderer(tiny_models)
    return pipe


@pytest.fixture(scope="session")
def tiny_pipe(tiny_models):
    """The real pipeline with the real tiny random-init models."""
    from musetalk.pipeline import LipSyncPipeline

    return LipSyncPipeline(tiny_models)


@pytest.fixture(scope="session")
def pipe(tiny_pipe):
    """The pipeline the core tests drive (real tiny models)."""
    return tiny_pipe
