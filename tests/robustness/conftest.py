"""Fixtures of the robustness suite: session-built inputs, a fast stub pipeline, and the CLI as a subprocess."""
from __future__ import annotations

import pytest
from robust_media import RobustMedia, StubRenderer

from musetalk.pipeline import LipSyncPipeline


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> RobustMedia:
    return RobustMedia(tmp_path_factory.mktemp("robust-media"))


@pytest.fixture(scope="session")
def stub_pipe(tiny_models) -> LipSyncPipeline:
    """The real pipeline (tiny Whisper for audio) with the stub renderer: magenta faces, no VAE/UNet work."""
    pipe = LipSyncPipeline(tiny_models)
    pipe.renderer = StubRenderer(tiny_models)
    return pipe


@pytest.fixture(scope="session")
def tiny_pipe(tiny_models) -> LipSyncPipeline:
    """The real pipeline with the real tiny random-init models."""
    return LipSyncPipeline(tiny_models)

