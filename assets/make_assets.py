"""Make the app's demo inputs (committed; run again only to rebuild them).

    python assets/make_assets.py [--astronaut PATH]

- ``speech.wav``: a short English sentence spoken by espeak-ng (Debian package ``espeak-ng``), 16 kHz mono.
- ``face.jpg``: NASA's public-domain portrait of astronaut Eileen Collins, as shipped in scikit-image
  (``skimage/data/astronaut.png``); found through ``import skimage`` unless ``--astronaut`` names the file.

Both are checked: the speech must last 2-5 s and a face must be detected in the image.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SENTENCE = "Hello! I am a talking face, and my lips follow your voice."


def make_speech(out: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is not installed: apt-get install espeak-ng")
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run([espeak, "-v", "en-us", "-s", "165", "-w", str(raw), SENTENCE], check=True)
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(raw),
                        "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out)], check=True)


def find_astronaut(path: str | None) -> Path:
    if path:
        return Path(path)
    try:
        import skimage
    except ImportError:
        sys.exit("scikit-image is not installed: pip install scikit-image (or pass --astronaut PATH)")
    return Path(skimage.__file__).parent / "data" / "astronaut.png"


def make_face(src: Path, out: Path) -> None:
    import cv2

    image = cv2.imread(str(src))
    if image is None:
        sys.exit(f"cannot read {src}")
    cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 90])


def check(speech: Path, face: Path) -> None:
    import cv2

    sys.path.insert(0, str(HERE.parent))
    from musetalk.face import FaceAnalyzer
    from musetalk.media import probe

    seconds = probe(speech).duration
    assert 2.0 <= seconds <= 5.0, f"speech lasts {seconds:.1f} s"
    assert FaceAnalyzer(static_image_mode=True).analyze(cv2.imread(str(face))) is not None, "no face found"
    print(f"{speech.name}: {seconds:.2f} s, {speech.stat().st_size // 1024} KB; "
          f"{face.name}: face found, {face.stat().st_size // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--astronaut", help="path to scikit-image's astronaut.png")
    args = parser.parse_args()
    make_speech(HERE / "speech.wav")
    make_face(find_astronaut(args.astronaut), HERE / "face.jpg")
    check(HERE / "speech.wav", HERE / "face.jpg")


if __name__ == "__main__":
    main()
