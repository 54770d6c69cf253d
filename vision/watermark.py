"""Invisible swap watermark: a fixed pseudo-random pattern of +-1 grey level over the frame.

The mark is a ``grid x grid`` field of +-1 cells (from a fixed seed per grid: the pack's own
mark, not a secret) stretched over the whole frame, flat within each cell, and added to all
three channels alike (luminance only).  The grid is chosen from the frame's size
(:func:`grid_for`: the finest of :data:`GRIDS` whose cells are at least 4 px), so the cells
stay at least 2 px after the frame is halved.  Because the cells are fractions of the frame,
not pixels, the mark survives resizing (any size that keeps the aspect ratio), JPEG
compression and mild colour changes.

**Amplitude: at most 1 grey level on 8-bit output.**  :func:`embed` returns the frame on the
8-bit grid (values ``k / 255``): each pixel is the unmarked value's 8-bit level plus or minus
one, chosen so that whether the frame is later converted to 8 bits by rounding (the pack, PIL)
or by truncation (ComfyUI's Save Image), no pixel differs from the unmarked frame's 8-bit
value by more than 1 level.  (A pixel at 0 or 255 keeps its side: clipped.)

Detection averages the frame's grey level over the cells of every grid of :data:`GRIDS` (the
detector does not know the frame's original size), removes each cell's 3x3 neighbourhood mean
(the picture's own content at that scale) from both the cell means and the pattern, and
correlates them with weights ``1 / local variance`` (flat areas, where the mark stands out,
count more than busy ones): ``z = sum(w x p) / sqrt(sum(w^2 x^2 p^2))`` is about standard
normal on an unmarked image; the score is the highest ``z`` over the grids.

Limits: frames under about 300 px on the short side hold too few cells at 1 grey level to
keep the mark through a halving and JPEG 75 (it is still added; it is found before such a
degradation); cropping, rotation, flips, strong blur or noise, re-drawing (e.g. an img2img
pass) or a deliberate attack remove it; anyone with this code can detect, add or subtract it.
It is a courtesy label that survives ordinary sharing, not a security feature.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import cv2
import numpy as np

GRIDS = (32, 48, 64, 96, 128)
"""Cells per side the mark may use; :func:`grid_for` picks one from the frame's size."""
MIN_CELL = 4
"""Smallest cell side in pixels (at the size the mark is embedded)."""
SEED = 0x5A17F00D
STRENGTH = 1.0 / 255.0
"""Amplitude of the mark in 0..1 units: one 8-bit grey level (exact: see :func:`embed`).
Calibrated on the 15 test images (White House photos, the low-resolution and green-screen
sets), marked, halved and saved as JPEG 75: z 14 (a 512 px image) to 70 at 512 px and
up, 5.2-5.7 at 226-284 px, 1.5 at 113 px; unmarked, |z| at most 3.1 over all grids.  The
tests assert on astronaut / Grace Hopper swaps."""
THRESHOLD = 5.0
"""``z`` above which :func:`detect` reports the mark (an unmarked image exceeds it on one of
the five grids with probability about 1.5e-6)."""
NOISE_FLOOR = 0.5 / 255.0
"""Added to each cell's local standard deviation, so perfectly flat areas do not dominate."""


def grid_for(height: int, width: int) -> int:
    """The grid of a ``height x width`` frame: the finest of :data:`GRIDS` whose cells are at
    least :data:`MIN_CELL` px (the coarsest for smaller frames)."""
    fitting = [g for g in GRIDS if g * MIN_CELL <= min(height, width)]
    return fitting[-1] if fitting else GRIDS[0]


@lru_cache(maxsize=len(GRIDS))
def _pattern(grid: int) -> np.ndarray:
    """The +-1 cell pattern ``[grid, grid]`` float32 of one grid."""
    out = np.random.default_rng(SEED + grid).choice([-1.0, 1.0], (grid, grid)).astype(np.float32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def field(height: int, width: int) -> np.ndarray:
    """The mark's signs for a ``height x width`` frame: float32 ``[H, W]`` of +-1, flat within
    each cell (cached: a video's frames share it)."""
    grid = _pattern(grid_for(height, width))
    out = cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def _offsets(height: int, width: int, channels: int) -> np.ndarray:
    """What :func:`embed` adds to ``255 x image`` before the floor: +1 where the mark is +1
    (the next level up), -0.5 where it is -1 (the rounded level, one down); ``[H, W, C]``."""
    signs = field(height, width)
    out = cv2.merge([np.where(signs > 0, 1.0, -0.5).astype(np.float32)] * channels)
    out.setflags(write=False)
    return out


def embed(image: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``image`` float32 ``[H, W, C]`` 0..1 with the mark, on the 8-bit grid (``k / 255``).

    Where the mark is +1 a pixel becomes ``floor(255 x) + 1``, where it is -1
    ``round(255 x) - 1`` (clipped to 0..255): within one level of both ``round(255 x)`` and
    ``floor(255 x)``, so the change is at most one grey level whichever way the frame is
    later quantised, and exactly one level on 8-bit input.  ``out`` (may be ``image``)
    receives the result."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    levels = cv2.addWeighted(image, 255.0, _offsets(*image.shape), 1.0, 0.0)
    np.floor(levels, out=levels)
    np.clip(levels, 0.0, 255.0, out=levels)
    return np.divide(levels, 255.0, out=levels if out is None else out)


def _grid_score(grey: np.ndarray, grid: int) -> float:
    """``z`` of one grid's pattern in a grey image (0 when smaller than the grid)."""
    if min(grey.shape) < grid:
        return 0.0
    cells = cv2.resize(grey, (grid, grid), interpolation=cv2.INTER_AREA)
    content, mark = _highpass(cells), _highpass(_pattern(grid))
    weight = 1.0 / (cv2.blur(content * content, (5, 5), borderType=cv2.BORDER_REFLECT)
                    + NOISE_FLOOR ** 2)
    spread = float(np.sqrt(((weight * content * mark) ** 2).sum()))
    return 0.0 if spread == 0 else float((weight * content * mark).sum() / spread)


def _highpass(cells: np.ndarray) -> np.ndarray:
    """Each cell minus the mean of its 3x3 neighbourhood (the content at the cell scale)."""
    return cells - cv2.blur(cells, (3, 3), borderType=cv2.BORDER_REFLECT)


def score(image: np.ndarray) -> float:
    """``z``: how strongly ``image`` (``[H, W, C]`` or ``[H, W]``, 0..1) carries the mark, the
    highest over :data:`GRIDS`; each grid's is about N(0, 1) when it does not.  Images smaller
    than the coarsest grid score 0."""
    grey = np.asarray(image.mean(-1) if image.ndim == 3 else image, np.float32)
    return max(_grid_score(grey, grid) for grid in GRIDS)


def detect(image: np.ndarray) -> bool:
    """Whether ``image`` carries the mark (:func:`score` above :data:`THRESHOLD`)."""
    return score(image) > THRESHOLD
