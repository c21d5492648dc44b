"""Where the app writes its results: one uniquely named file per request inside ``outputs_dir``."""
from __future__ import annotations

import time
import uuid
from pathlib import Path


def new_output(outputs_dir: Path, stem: str, suffix: str = ".mp4") -> Path:
    outputs_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:40] or "result"
    return outputs_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{uuid.uuid4().hex[:6]}{suffix}"
