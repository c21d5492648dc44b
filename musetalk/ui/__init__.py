"""The Gradio app (the only package that imports gradio, besides ``app.py``)."""
from .context import AppContext

__all__ = ["AppContext", "build_demo"]


def __getattr__(name: str):
    if name == "build_demo":  # keep `import musetalk.ui.context` free of gradio
        from .demo import build_demo

        return build_demo
    raise AttributeError(name)
