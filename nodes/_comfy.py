"""ComfyUI services the nodes use, guarded so the pack also runs without ComfyUI.

Every per-frame loop in a node goes through a :class:`Progress` (or :func:`frames`, a one-pass
progress): it checks ComfyUI's interrupt flag before each frame and advances the node's one
progress bar after it.
"""
from __future__ import annotations

from typing import Iterator

try:
    import comfy.model_management as _mm
    import comfy.utils as _utils
except ImportError:  # headless runner and tests
    _mm = _utils = None

CATEGORY = "Face Pipeline"


class Progress:
    """A per-frame loop (``Loop``) for one node call that makes ``passes`` passes over the frames.

    The node shows one progress bar, ``passes x frames`` steps long, created by the first pass
    (so it fills once, not once per pass); the Cancel button is honoured before every frame of
    every pass. Outside ComfyUI it is a plain ``range``.
    """

    def __init__(self, passes: int = 1):
        self.passes = max(1, int(passes))
        self.bar = None

    def __call__(self, count: int) -> Iterator[int]:
        if self.bar is None and _utils is not None:
            self.bar = _utils.ProgressBar(max(1, count * self.passes))
        for index in range(count):
            if _mm is not None:
                _mm.throw_exception_if_processing_interrupted()
            yield index
            if self.bar is not None:
                self.bar.update(1)


def frames(count: int) -> Iterator[int]:
    """``range(count)`` that honours ComfyUI's Cancel button and reports progress (one pass)."""
    return Progress(1)(count)
