"""Small synthetic media made with the bundled ffmpeg, once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest
from media_helpers import DATA_DIR, MediaFactory


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> MediaFactory:
    return MediaFactory(tmp_path_factory.mktemp("media"))


@pytest.fixture()
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"real test media not found at {DATA_DIR} (../shared/data beside the project)")
    return DATA_DIR
