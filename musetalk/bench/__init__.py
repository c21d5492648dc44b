"""The benchmark behind ``python -m musetalk bench`` (``run.py``) and its memory sampler (``memory.py``)."""
