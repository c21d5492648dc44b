"""``generate --score`` prints the scores of the result it wrote."""
from __future__ import annotations

from core_helpers import face_clip_from_photo, ffmpeg

from musetalk.cli import main


def test_generate_score_prints_the_scores(tmp_path, tiny_weights, capsys):
    face = face_clip_from_photo(tmp_path / "face.mp4", 1.2, 128)
    speech = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=16000:duration=1.2", str(speech))
    out = tmp_path / "out.mp4"
    code = main(["generate", "--video", str(face), "--audio", str(speech), "--out", str(out), "--weights",
                 str(tiny_weights), "--device", "cpu", "--dtype", "fp32", "--score"])
    text = capsys.readouterr().out
    assert code == 0 and out.is_file()
    assert f"wrote {out}" in text
    assert "sync: sync" in text and "not confident" in text and "vs source (30 frames)" in text
