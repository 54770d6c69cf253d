"""Invisible swap watermark: a faint, fixed pseudo-random brightness pattern over the frame.

The mark is a ``GRID x GRID`` field of +-1 cells (from a fixed seed: the pack's own mark, not a
secret) stretched over the whole frame with bilinear interpolation and added to all three
channels at :data:`STRENGTH` (about 2 grey levels).  Because the cells are fractions of the
frame, not pixels, the mark survives resizing (any size that keeps the aspect ratio), JPEG
compression (the cells are coarser than JPEG's 8 px blocks at 512 px and up) and mild colour
changes.

Detection averages the frame's grey level over the same cells, removes each cell's 3x3
neighbourhood mean (the picture's own content at that scale) from both the cell means and the
pattern, and correlates them with weights ``1 / local variance`` (flat areas, where the mark
stands out, count more than busy ones): ``z = sum(w x p) / sqrt(sum(w^2 x^2 p^2))`` is about
standard normal on an unmarked image and far above :data:`THRESHOLD` on a marked one.

Limits: cropping, rotation, flips, strong blur or noise, re-drawing (e.g. an img2img pass) or a
deliberate attack remove it; anyone with this code can detect, add or subtract it.  It is a
courtesy label that survives ordinary sharing, not a security feature.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

GRID = 64
SEED = 0x5A17F00D
STRENGTH = 2.0 / 255.0
"""Amplitude of the mark in 0..1 units (2 grey levels).  Calibrated on the White House photos
and the low-resolution set, marked, then halved and saved as JPEG 75: z 7.3 (a 284 px
image) to 28; unmarked, |z| at most 1.6.  The tests assert on astronaut / Grace Hopper swaps."""
THRESHOLD = 5.0
"""``z`` above which :func:`detect` reports the mark (an unmarked image exceeds it with
probability about 3e-7)."""
NOISE_FLOOR = 0.5 / 255.0
"""Added to each cell's local standard deviation, so perfectly flat areas do not dominate."""


def _pattern() -> np.ndarray:
    """The +-1 cell pattern ``[GRID, GRID]`` float32."""
    return np.random.default_rng(SEED).choice([-1.0, 1.0], (GRID, GRID)).astype(np.float32)


def _highpass(cells: np.ndarray) -> np.ndarray:
    """Each cell minus the mean of its 3x3 neighbourhood (the content at the cell scale)."""
    return cells - cv2.blur(cells, (3, 3), borderType=cv2.BORDER_REFLECT)


@lru_cache(maxsize=4)
def field(height: int, width: int, strength: float = STRENGTH) -> np.ndarray:
    """The mark for a ``height x width`` frame: float32 ``[H, W]`` in +-``strength``
    (cached: a video's frames share it)."""
    out = cv2.resize(_pattern(), (width, height), interpolation=cv2.INTER_LINEAR) * strength
    out.setflags(write=False)
    return out


def embed(image: np.ndarray, strength: float = STRENGTH) -> np.ndarray:
    """``image`` float32 ``[H, W, C]`` 0..1 with the mark added (clipped to 0..1)."""
    out = image + field(*image.shape[:2], strength)[..., None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def score(image: np.ndarray) -> float:
    """``z``: how strongly ``image`` (``[H, W, C]`` or ``[H, W]``, any range) carries the mark;
    about N(0, 1) when it does not.  Images smaller than ``GRID`` px a side score 0."""
    grey = image.mean(-1) if image.ndim == 3 else image
    if min(grey.shape) < GRID:
        return 0.0
    cells = cv2.resize(np.asarray(grey, np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    content, mark = _highpass(cells), _highpass(_pattern())
    weight = 1.0 / (cv2.blur(content * content, (5, 5), borderType=cv2.BORDER_REFLECT)
                    + NOISE_FLOOR ** 2)
    spread = float(np.sqrt(((weight * content * mark) ** 2).sum()))
    return 0.0 if spread == 0 else float((weight * content * mark).sum() / spread)


def detect(image: np.ndarray) -> bool:
    """Whether ``image`` carries the mark (:func:`score` above :data:`THRESHOLD`)."""
    return score(image) > THRESHOLD
