"""Live avatars: audio chunks in, timestamped lip-synced frames out (``engine``); no transport, no UI here."""
from .engine import LiveConfig, LiveDropped, LiveFrame, LiveOverflow, LiveSession, LiveStats

__all__ = ["LiveConfig", "LiveDropped", "LiveFrame", "LiveOverflow", "LiveSession", "LiveStats"]
