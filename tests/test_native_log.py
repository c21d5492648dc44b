"""Native start-up notices written to fd 2 are dropped; everything else on stderr still reaches the user."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import os, sys, time
    from musetalk.native_log import filtered_native_stderr
    os.write(2, b"before\\n")
    with filtered_native_stderr():
        os.write(2, b"W0000 00:00:1795324154.431715   11434 inference_feedback_manager.cc:114] Feedback manager\\n"
                    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n"
                    b"E0000 00:00:1795324154.431715   11434 graph.cc:9] a real native error\\n"
                    b"plain native text\\n")
        time.sleep(0.3)  # native lines pass through a pump thread: let them land before Python writes
        print("python message", file=sys.stderr)
        sys.stderr.write("progress\\r")
        os.write(2, b"W1122 04:21:06.123456 77 calculator.cc:1] Using NORM_RECT\\nno newline at the end")
    print("after", file=sys.stderr)
""")


def test_native_notices_are_dropped_and_the_rest_kept() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.decode()
    for kept in ("before\n", "E0000 00:00:1795324154.431715   11434 graph.cc:9] a real native error\n",
                 "plain native text\n", "python message\n", "progress\r", "no newline at the end", "after\n"):
        assert kept in err, (kept, err)
    for dropped in ("Feedback manager", "XNNPACK", "NORM_RECT"):
        assert dropped not in err, (dropped, err)
    assert err.index("before") < err.index("python message") < err.index("after")


def test_mediapipe_graphs_print_nothing_inside_the_filter() -> None:
    script = ("import numpy as np\nfrom musetalk.native_log import filtered_native_stderr\n"
              "from musetalk.face.landmarks import FaceAnalyzer\n"
              "with filtered_native_stderr():\n"
              "    with FaceAnalyzer() as fa:\n"
              "        fa.analyze(np.full((360, 480, 3), 128, np.uint8))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode() == ""
