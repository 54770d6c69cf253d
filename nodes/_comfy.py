"""ComfyUI services the nodes use, guarded so the pack also runs without ComfyUI.

Every per-frame loop in a node goes through :func:`frames`, which checks ComfyUI's interrupt
flag before each frame and advances ComfyUI's progress bar after it.
"""
from __future__ import annotations

from typing import Iterator

try:
    import comfy.model_management as _mm
    import comfy.utils as _utils
except ImportError:  # headless runner and tests
    _mm = _utils = None

CATEGORY = "Face Pipeline"


def frames(count: int) -> Iterator[int]:
    """``range(count)`` that honours ComfyUI's Cancel button and reports progress."""
    bar = _utils.ProgressBar(count) if _utils is not None else None
    for index in range(count):
        if _mm is not None:
            _mm.throw_exception_if_processing_interrupted()
        yield index
        if bar is not None:
            bar.update(1)
