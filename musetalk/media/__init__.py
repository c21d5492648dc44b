"""Media I/O over the bundled ffmpeg: probing, streaming frame reads, atomic H.264 + AAC writes, audio loading."""
from __future__ import annotations

from musetalk.media.audio import audio_duration, load_audio
from musetalk.media.probe import MediaInfo, probe
from musetalk.media.video import iter_frames
from musetalk.media.writer import VideoWriter, check_output_path, write_video

__all__ = ["MediaInfo", "VideoWriter", "audio_duration", "check_output_path", "iter_frames", "load_audio", "probe",
           "write_video"]
