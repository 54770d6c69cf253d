"""Colour transfer inside a mask: make a source's face take on a target's colours.

Both methods work in CIE L*a*b* (OpenCV's float convention: L in 0..100, a and b about
-127..127) and measure the statistics of source and target over the *same* mask, so they are
meant for a source already aligned onto the target (a warped swap source).

* ``reinhard``: per-channel mean and standard deviation matching (Reinhard et al. 2001).
  Robust and cheap; keeps the source's contrast structure.
* ``histogram``: per-channel histogram (CDF) matching.  Follows the target's tone curve more
  closely (e.g. deep shadows), at the cost of occasional posterised steps on small masks.
* ``none``: the source unchanged.
"""
from __future__ import annotations

import cv2
import numpy as np

METHODS = ["reinhard", "histogram", "none"]
MIN_PIXELS = 16        # fewer masked pixels than this: no transfer
_BINS = 256
_LAB_RANGE = ((0.0, 100.0), (-128.0, 128.0), (-128.0, 128.0))


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2LAB)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0.0, 1.0)


def _reinhard(src: np.ndarray, tgt: np.ndarray, inside: np.ndarray, stats=None) -> np.ndarray:
    src_mean, src_std = (v.ravel() for v in cv2.meanStdDev(src, mask=inside))
    tgt_mean, tgt_std = (v.ravel() for v in cv2.meanStdDev(tgt, mask=inside[::2, ::2]))
    if stats is not None:  # e.g. smoothed over the frames of a video track
        src_mean, src_std, tgt_mean, tgt_std = stats(np.stack([src_mean, src_std, tgt_mean, tgt_std]))
    gain = (tgt_std / np.maximum(src_std, 1e-3)).astype(np.float32)
    return src * gain + (tgt_mean - src_mean * gain).astype(np.float32)


def _histogram(src: np.ndarray, tgt: np.ndarray, inside: np.ndarray, stats=None) -> np.ndarray:
    src_pixels, tgt_pixels = src[inside.astype(bool)], tgt[inside[::2, ::2].astype(bool)]
    out = np.empty_like(src)
    for c, (lo, hi) in enumerate(_LAB_RANGE):
        edges = np.linspace(lo, hi, _BINS + 1)
        src_cdf = np.cumsum(np.histogram(src_pixels[:, c], edges)[0]) / len(src_pixels)
        tgt_cdf = np.cumsum(np.histogram(tgt_pixels[:, c], edges)[0]) / len(tgt_pixels)
        # source value -> its quantile -> the target value at that quantile
        quantile = np.interp(src[..., c], edges[1:], src_cdf)
        out[..., c] = np.interp(quantile, tgt_cdf, edges[1:])
    return out


def transfer_color(source: np.ndarray, target: np.ndarray, mask: np.ndarray,
                   method: str = "reinhard", stats=None) -> np.ndarray:
    """``source`` recoloured so that its pixels under ``mask`` match the target's there.

    Args:
        source, target: float32 ``[H, W, 3]`` RGB in 0..1, the same size (source aligned).
        mask: ``[H, W]``; pixels with ``mask > 0.5`` give the statistics of both images.
        method: one of :data:`METHODS`.
        stats: optional hook ``[4, 3] -> [4, 3]`` given the Reinhard statistics (L*a*b* mean
            and std of the source, then mean and std of the target) and returning those to
            use, e.g. :class:`vision.tracking.StatsSmoother` per video track (``reinhard`` only).
    Returns:
        float32 ``[H, W, 3]`` in 0..1: the whole source recoloured (the caller masks it).
        With fewer than ``MIN_PIXELS`` masked pixels, or ``method="none"``, a copy of source.
    """
    if method not in METHODS:
        raise ValueError(f"unknown colour transfer {method!r}; choose one of {METHODS}")
    inside = (mask > 0.5).view(np.uint8)
    if method == "none" or cv2.countNonZero(inside) < MIN_PIXELS:
        return np.array(source, np.float32)
    match = _reinhard if method == "reinhard" else _histogram
    # the target only gives statistics: every other pixel and row is plenty
    return _rgb(match(_lab(source), _lab(target[::2, ::2]), inside, stats).astype(np.float32))
