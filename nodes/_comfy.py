"""ComfyUI services the nodes use, guarded so the pack also runs without ComfyUI.

Every per-frame loop in a node goes through :func:`frames`, which checks ComfyUI's interrupt
flag before each frame and advances ComfyUI's progress bar after it.  Model downloads report
to the progress bar and stop on Cancel through :func:`models.download.set_hooks`.
"""
from __future__ import annotations

from typing import Iterator

try:
    import comfy.model_management as _mm
    import comfy.utils as _utils
except ImportError:  # headless runner and tests
    _mm = _utils = None

from ..models import download

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


def _download_progress(name: str):
    bar = _utils.ProgressBar(100)
    return lambda done, total: bar.update_absolute(min(99, 100 * done // total) if total else 0)


if _mm is not None:
    download.set_hooks(_download_progress, _mm.processing_interrupted)
