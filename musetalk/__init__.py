"""MuseTalk v1.5-compatible lip-sync. ``import musetalk`` is cheap: nothing loads until used."""
from .config import FaceConfig, InferenceConfig
from .errors import InputError, MuseTalkError, NoFaceError, WeightsError

__all__ = ["FaceConfig", "InferenceConfig", "MuseTalkError", "InputError", "NoFaceError", "WeightsError"]
__version__ = "0.1.0"
