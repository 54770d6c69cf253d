"""Colour transfer inside a mask: make a source's face take on a target's colours.

Both methods work in CIE L*a*b* (OpenCV's float convention: L in 0..100, a and b about
-127..127) and measure the statistics of source and target over the *same* mask, so they are
meant for a source already aligned onto the target (a warped swap source).

* ``skin``: Reinhard's matching with the statistics of *skin pixels only* on each side: the
  masked pixels whose L*, a* and b* all lie within :data:`SKIN_SIGMAS` robust standard
  deviations (1.4826 x median absolute deviation) of the median, two passes.  Beard,
  stubble, brows, hair, glasses frames and lips (darker or redder than the skin) and specular
  spots (brighter) drop out, so the face takes the tone of the target's skin, not of what
  covers it, and matches the ears and neck.
* ``reinhard``: per-channel mean and standard deviation matching (Reinhard et al. 2001) over
  every masked pixel.  Robust and cheap; keeps the source's contrast structure.
* ``histogram``: per-channel histogram (CDF) matching.  Follows the target's tone curve more
  closely (e.g. deep shadows), at the cost of occasional posterised steps on small masks.
* ``none``: the source unchanged.
"""
from __future__ import annotations

import cv2
import numpy as np

METHODS = ["skin", "reinhard", "histogram", "none"]
MIN_PIXELS = 16        # fewer masked pixels than this: no transfer
MEDIAN_SAMPLES = 4000  # skin statistics from at most about this many pixels
SKIN_SIGMAS = 2.0
"""Skin pixels lie within this many robust standard deviations of the median in each of L*,
a*, b*.  Calibrated on the Obama and Biden photos (cheek skin kept, beard shadow, brows and
lips dropped); the tests assert on the astronaut and Grace Hopper."""
_BINS = 256
_LAB_RANGE = ((0.0, 100.0), (-128.0, 128.0), (-128.0, 128.0))


def lab(rgb: np.ndarray) -> np.ndarray:
    """float32 CIE L*a*b* (L 0..100) of an RGB 0..1 image ``[..., 3]``."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2LAB)


def lab_to_rgb(lab_image: np.ndarray) -> np.ndarray:
    """RGB 0..1 float32 (clipped) of a L*a*b* image."""
    return np.clip(cv2.cvtColor(np.ascontiguousarray(lab_image, np.float32),
                                cv2.COLOR_LAB2RGB), 0.0, 1.0)


def skin_inliers(lab: np.ndarray, sigmas: float = SKIN_SIGMAS) -> np.ndarray:
    """bool ``[N]``: which of ``N`` L*a*b* pixels ``[N, 3]`` are skin -- within ``sigmas``
    robust standard deviations of the median in every channel (two passes: the second
    measures median and spread on the first pass's inliers)."""
    keep = np.ones(len(lab), bool)
    step = max(len(lab) // MEDIAN_SAMPLES, 1)   # the statistics from a regular subsample
    for _ in range(2):
        sample = lab[::step][keep[::step]]
        if len(sample) < MIN_PIXELS:
            break
        median = np.median(sample, axis=0)
        spread = 1.4826 * np.median(np.abs(sample - median), axis=0) + 0.5
        keep = (np.abs(lab - median) <= sigmas * spread).all(1)
    return keep


def _skin_mask(lab: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """uint8 mask of ``inside`` narrowed to its skin pixels (:func:`skin_inliers`)."""
    where = inside.astype(bool)
    skin = np.zeros(inside.shape, np.uint8)
    skin[where] = skin_inliers(lab[where])
    return skin if cv2.countNonZero(skin) >= MIN_PIXELS else inside


def _reinhard(src: np.ndarray, tgt: np.ndarray, inside: np.ndarray,
              skin_only: bool = False, stats=None) -> np.ndarray:
    tgt_inside = inside[::2, ::2]
    if skin_only:
        inside, tgt_inside = _skin_mask(src, inside), _skin_mask(tgt, tgt_inside)
    src_mean, src_std = (v.ravel() for v in cv2.meanStdDev(src, mask=inside))
    tgt_mean, tgt_std = (v.ravel() for v in cv2.meanStdDev(tgt, mask=tgt_inside))
    if stats is not None:  # e.g. smoothed over the frames of a video track
        src_mean, src_std, tgt_mean, tgt_std = stats(np.stack([src_mean, src_std, tgt_mean, tgt_std]))
    gain = (tgt_std / np.maximum(src_std, 1e-3)).astype(np.float32)
    return src * gain + (tgt_mean - src_mean * gain).astype(np.float32)


def _histogram(src: np.ndarray, tgt: np.ndarray, inside: np.ndarray) -> np.ndarray:
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
                   method: str = "skin", stats=None) -> np.ndarray:
    """``source`` recoloured so that its pixels under ``mask`` match the target's there.

    Args:
        source, target: float32 ``[H, W, 3]`` RGB in 0..1, the same size (source aligned).
        mask: ``[H, W]``; pixels with ``mask > 0.5`` give the statistics of both images.
        method: one of :data:`METHODS`.
        stats: optional hook ``[4, 3] -> [4, 3]`` given the Reinhard statistics (L*a*b* mean
            and std of the source, then mean and std of the target) and returning those to
            use, e.g. :class:`vision.tracking.StatsSmoother` per video track (``reinhard`` and
            ``skin``; ignored by ``histogram``).
    Returns:
        float32 ``[H, W, 3]`` in 0..1: the whole source recoloured (the caller masks it).
        With fewer than ``MIN_PIXELS`` masked pixels, or ``method="none"``, a copy of source.
    """
    if method not in METHODS:
        raise ValueError(f"unknown colour transfer {method!r}; choose one of {METHODS}")
    inside = (mask > 0.5).view(np.uint8)
    if method == "none" or cv2.countNonZero(inside) < MIN_PIXELS:
        return np.array(source, np.float32)
    src, tgt = lab(source), lab(target[::2, ::2])
    # the target only gives statistics: every other pixel and row is plenty
    if method == "histogram":
        return lab_to_rgb(_histogram(src, tgt, inside).astype(np.float32))
    return lab_to_rgb(_reinhard(src, tgt, inside, skin_only=method == "skin",
                                stats=stats).astype(np.float32))


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between L*a*b* colours ``[..., 3]`` (broadcast), the
    perceptual distance: about 1 is just noticeable, 2-3 noticeable side by side."""
    lab1, lab2 = np.asarray(lab1, np.float64), np.asarray(lab2, np.float64)
    l1, a1, b1 = np.moveaxis(lab1, -1, 0)
    l2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    chroma = c1 * c2 != 0
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)) * chroma
    d_hue = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    h_sum = h1 + h2
    h_mean = np.where(~chroma, h_sum, np.where(np.abs(h1 - h2) <= 180, h_sum / 2,
                                                np.where(h_sum < 360, h_sum + 360, h_sum - 360) / 2))
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    rotation = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    r_t = -np.sin(np.radians(2 * rotation)) * r_c
    dl, dc, dh = (l2 - l1) / s_l, (c2 - c1) / s_c, d_hue / s_h
    return np.sqrt(dl ** 2 + dc ** 2 + dh ** 2 + r_t * dc * dh)
