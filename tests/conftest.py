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


