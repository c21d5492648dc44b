"""app.py's command line (no server started)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_app_module():
    spec = importlib.util.spec_from_file_location("app_main", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_local_and_safe():
    args = load_app_module().parse_args([])
    assert (args.host, args.port, args.share, args.device, args.dtype) == ("127.0.0.1", 7860, False, "auto", "auto")
    assert (args.runs_dir, args.outputs_dir) == ("runs", "outputs")


def test_importing_the_ui_context_does_not_import_gradio():
    import subprocess
    import sys

    code = "import sys, musetalk.ui.context; assert 'gradio' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
