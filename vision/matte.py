"""Matte refinement: trimap, guided-filter alpha refinement and foreground colour estimation.

Frames are float32 RGB ``[H, W, 3]`` in 0..1; alphas and masks float32 ``[H, W]`` in 0..1.

* :func:`trimap` -- known foreground (1), known background (0) and an unknown band (0.5) of
  ``band`` px on each side of the coarse mask's 0.5 edge (wider where ``wide`` is set, e.g.
  around the head, where hair is).  Pixels the coarse mask already marks as soft are unknown.
* :func:`guided_filter` -- He et al.'s colour guided filter (the fast, subsampled variant):
  within every ``radius`` window the alpha is modelled as a linear function of the colour,
  so edges follow the image's colour edges (hair against background) and grain averages out.
* :func:`refine_alpha` -- the guided filter's alpha inside the unknown band, the trimap's
  0/1 outside it.
* :func:`estimate_foreground` -- blur-fusion foreground estimation (Forte and Pitie 2021,
  "Approximate fast foreground colour estimation"): the subject's colours at soft edges
  without the old background mixed in, so a composite shows no green or dark fringe.

Defaults (``RADIUS``, ``EPS``) are calibrated on the synthetic composites of
``tests/matte_synthetic.py`` with seeds 100..103; the tests assert on other seeds.
"""
from __future__ import annotations

import cv2
import numpy as np

RADIUS = 8          # guided filter window radius in px (at full resolution)
EPS = 1e-3          # guided filter regularisation (larger: smoother, less edge-following)
SUBSAMPLE = 2       # the fast guided filter's subsampling factor
UNKNOWN = 0.5


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def trimap(mask: np.ndarray, band: int, wide: np.ndarray | None = None,
           wide_band: int = 0) -> np.ndarray:
    """float32 ``[H, W]``: 1 known foreground, 0 known background, 0.5 unknown.

    ``band``: unknown px on each side of the ``mask > 0.5`` edge; where the bool ``wide``
    ``[H, W]`` is set the band is ``max(band, wide_band)``.  Pixels with ``0.02 < mask <
    0.98`` are unknown too."""
    hard = (mask > 0.5).view(np.uint8)
    out = np.full(mask.shape, UNKNOWN, np.float32)

    def known(width: int) -> tuple[np.ndarray, np.ndarray]:
        if width <= 0:
            return hard > 0, hard == 0
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
        return cv2.erode(hard, kernel) > 0, cv2.dilate(hard, kernel) == 0

    fg, bg = known(band)
    if wide is not None and wide_band > band and wide.any():
        fg_w, bg_w = known(wide_band)
        fg = np.where(wide, fg_w, fg)
        bg = np.where(wide, bg_w, bg)
    soft = (mask > 0.02) & (mask < 0.98)
    out[fg & ~soft] = 1.0
    out[bg & ~soft] = 0.0
    return out


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int = RADIUS, eps: float = EPS,
                  subsample: int = SUBSAMPLE) -> np.ndarray:
    """Colour guided filter of ``source`` ``[H, W]`` by ``guide`` ``[H, W, 3]`` (fast variant:
    coefficients computed at 1/``subsample`` resolution, applied at full resolution)."""
    h, w = source.shape
    s = max(1, int(subsample))
    eps = max(float(eps), 1e-6)             # keeps every window's covariance invertible
    small = (max(1, w // s), max(1, h // s))
    I = cv2.resize(guide, small, interpolation=cv2.INTER_AREA) if s > 1 else guide
    p = cv2.resize(source, small, interpolation=cv2.INTER_AREA) if s > 1 else source
    r = max(1, int(round(radius / s)))
    mean_I = _box(I, r)
    mean_p = _box(p, r)
    cov_Ip = _box(I * p[..., None], r) - mean_I * mean_p[..., None]
    # 3x3 covariance of the guide per pixel (+ eps on the diagonal), inverted in closed form
    var = {}
    for i in range(3):
        for j in range(i, 3):
            var[i, j] = _box(I[..., i] * I[..., j], r) - mean_I[..., i] * mean_I[..., j]
            if i == j:
                var[i, j] += eps
    a00, a01, a02, a11, a12, a22 = (var[0, 0], var[0, 1], var[0, 2], var[1, 1], var[1, 2],
                                    var[2, 2])
    inv = np.stack([a11 * a22 - a12 * a12, a02 * a12 - a01 * a22, a01 * a12 - a02 * a11,
                    a00 * a22 - a02 * a02, a02 * a01 - a00 * a12, a00 * a11 - a01 * a01], -1)
    det = a00 * inv[..., 0] + a01 * inv[..., 1] + a02 * inv[..., 2]
    inv /= det[..., None]
    i00, i01, i02, i11, i12, i22 = np.moveaxis(inv, -1, 0)
    c0, c1, c2 = np.moveaxis(cov_Ip, -1, 0)
    a = np.stack([i00 * c0 + i01 * c1 + i02 * c2, i01 * c0 + i11 * c1 + i12 * c2,
                  i02 * c0 + i12 * c1 + i22 * c2], -1)
    b = mean_p - (a * mean_I).sum(-1)
    mean_a, mean_b = _box(a, r), _box(b, r)
    if s > 1:
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    return (mean_a * guide).sum(-1) + mean_b


def refine_alpha(frame: np.ndarray, mask: np.ndarray, band: int = 8, *, radius: int = RADIUS,
                 eps: float = EPS, wide: np.ndarray | None = None,
                 wide_band: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Refined alpha ``[H, W]`` and the trimap used: the guided filter of ``mask`` by
    ``frame`` inside the unknown band, the trimap's 0 / 1 elsewhere."""
    tri = trimap(mask, band, wide, wide_band)
    filtered = np.clip(guided_filter(np.ascontiguousarray(frame, np.float32),
                                     np.ascontiguousarray(mask, np.float32), radius, eps), 0, 1)
    alpha = np.where(tri == UNKNOWN, filtered, tri).astype(np.float32)
    return alpha, tri


def estimate_foreground(frame: np.ndarray, alpha: np.ndarray,
                        radii: tuple[int, ...] = (45, 3)) -> np.ndarray:
    """Foreground colours ``[H, W, 3]`` 0..1 by blur fusion (module docstring): for each
    radius, ``F = blur_F + alpha * (I - alpha * blur_F - (1 - alpha) * blur_B)`` where
    ``blur_F`` / ``blur_B`` are alpha-weighted local means of the foreground / background.
    Local means over radii of 16 px or more are taken at a quarter of the resolution (they
    are smooth) and interpolated back."""
    image = np.ascontiguousarray(frame, np.float32)
    a = np.ascontiguousarray(alpha, np.float32)[..., None]
    h, w = alpha.shape
    fg, bg = image, image
    for r in radii:
        step = 4 if r >= 16 else 1

        def local_mean(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
            if step == 1:
                return _box(values, r) / (_box(weight, r)[..., None] + 1e-5)
            size = (max(1, w // step), max(1, h // step))
            v = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
            wt = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
            mean = _box(v, max(1, r // step)) / (_box(wt, max(1, r // step))[..., None] + 1e-5)
            return cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)

        blur_f = local_mean(fg * a, a[..., 0])
        blur_b = local_mean(bg * (1.0 - a), 1.0 - a[..., 0])
        fg = np.clip(blur_f + a * (image - a * blur_f - (1.0 - a) * blur_b), 0.0, 1.0)
        bg = blur_b
    return fg.astype(np.float32)
