"""Matte refinement: trimap, guided-filter alpha refinement and foreground colour estimation.

Frames are float32 RGB ``[H, W, 3]`` in 0..1; alphas and masks float32 ``[H, W]`` in 0..1.

* :func:`trimap` -- known foreground (1), known background (0) and an unknown band (0.5) of
  ``band`` px on each side of the coarse mask's 0.5 edge (wider where ``wide`` is set, e.g.
  around the head, where hair is).  Pixels the coarse mask already marks as soft are unknown.
* :func:`guided_coefficients` -- He et al.'s colour guided filter, the fast variant (He and
  Sun 2015): within every ``radius`` window the alpha is modelled as a linear function of the
  colour, so edges follow the image's colour edges (hair against background) and grain
  averages out; the coefficients are computed at about ``WORK_SIDE`` px and upsampled.
* :func:`refine_alpha` -- the guided filter's alpha inside the unknown band (evaluated only
  at those pixels), the trimap's 0/1 outside it.
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
SUBSAMPLE = 2       # the fast guided filter's smallest subsampling factor ...
WORK_SIDE = 270     # ... raised so its coefficients are computed at about this short side
UNKNOWN = 0.5
SOFT = 1.0 / 255.0  # alpha within this of 0 or 1 counts as 0 or 1 (full-resolution step)


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def sample_field(field: np.ndarray, index: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear values ``[N, C]`` of a low-resolution float32 ``field`` ``[h, w, C]``
    at the flat pixel ``index`` ``[N]`` of a full-resolution frame of ``shape`` ``(H, W)``
    (pixel centres aligned as in ``cv2.resize``).  Upsampling only the pixels that need it."""
    field = np.ascontiguousarray(field, np.float32)
    if field.ndim == 2:
        field = field[..., None]
    y, x = np.divmod(index, shape[1])
    fh, fw = field.shape[:2]
    cols, n = 4096, len(index)
    rows = max(1, -(-n // cols))
    map_x = np.zeros(rows * cols, np.float32)
    map_y = np.zeros(rows * cols, np.float32)
    map_x[:n] = (x + 0.5) * (fw / shape[1]) - 0.5
    map_y[:n] = (y + 0.5) * (fh / shape[0]) - 0.5
    out = cv2.remap(field, map_x.reshape(rows, cols), map_y.reshape(rows, cols),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * cols, -1)[:n]


def trimap(mask: np.ndarray, band: int, wide: np.ndarray | None = None,
           wide_band: int = 0) -> np.ndarray:
    """float32 ``[H, W]``: 1 known foreground, 0 known background, 0.5 unknown.

    ``band``: unknown px on each side of the ``mask > 0.5`` edge (Euclidean distance); where
    the bool ``wide`` ``[H, W]`` is set the band is ``max(band, wide_band)``.  Pixels with
    ``0.02 < mask < 0.98`` are unknown too."""
    hard = (mask > 0.5).view(np.uint8)
    limit: np.ndarray | float = float(band)
    if wide is not None and wide_band > band and wide.any():
        limit = np.where(wide, np.float32(wide_band), np.float32(band))
    out = np.zeros(mask.shape, np.float32)
    # distances only within the subject's box grown by the band: beyond it all is background
    x, y, w, h = cv2.boundingRect(hard)
    if w > 0:
        m = int(np.ceil(np.max(limit))) + 2
        roi = (slice(max(0, y - m), y + h + m), slice(max(0, x - m), x + w + m))
        sub = hard[roi]
        inside = cv2.distanceTransform(sub, cv2.DIST_L2, cv2.DIST_MASK_5)     # px to background
        outside = cv2.distanceTransform(1 - sub, cv2.DIST_L2, cv2.DIST_MASK_5)
        lim = limit[roi] if isinstance(limit, np.ndarray) else limit
        part = np.full(sub.shape, UNKNOWN, np.float32)
        part[inside > lim] = 1.0
        part[outside > lim] = 0.0
        out[roi] = part
    out[(mask > 0.02) & (mask < 0.98)] = UNKNOWN
    return out


def _subsample(shape: tuple[int, int], subsample: int | None) -> int:
    if subsample is not None:
        return max(1, int(subsample))
    return max(SUBSAMPLE, int(round(min(shape) / WORK_SIDE)))


def guided_coefficients(guide: np.ndarray, source: np.ndarray, radius: int = RADIUS,
                        eps: float = EPS, subsample: int | None = None) -> np.ndarray:
    """The fast guided filter's (He and Sun 2015) smoothed linear coefficients ``[h, w, 4]``
    (``a`` for the 3 guide channels, then ``b``) at 1/``subsample`` resolution (default:
    at least ``SUBSAMPLE``, about ``WORK_SIDE`` px on the short side), so that the filtered
    value at a pixel is ``a . guide + b`` with ``a, b`` upsampled."""
    h, w = source.shape
    s = _subsample((h, w), subsample)
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
    return np.dstack([_box(a, r), _box(b, r)]).astype(np.float32)


def refine_alpha(frame: np.ndarray, mask: np.ndarray, band: int = 8, *, radius: int = RADIUS,
                 eps: float = EPS, wide: np.ndarray | None = None,
                 wide_band: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Refined alpha ``[H, W]`` and the trimap used: the guided filter of ``mask`` by
    ``frame`` inside the unknown band (evaluated only there), the trimap's 0 / 1 elsewhere."""
    frame = np.ascontiguousarray(frame, np.float32)
    tri = trimap(mask, band, wide, wide_band)
    alpha = tri.copy()
    index = np.flatnonzero(tri == UNKNOWN)
    if index.size:
        coef = sample_field(guided_coefficients(frame, np.ascontiguousarray(mask, np.float32),
                                                radius, eps), index, tri.shape)
        value = (coef[:, :3] * frame.reshape(-1, 3)[index]).sum(-1) + coef[:, 3]
        alpha.reshape(-1)[index] = np.clip(value, 0.0, 1.0)
    return alpha, tri


def estimate_foreground(frame: np.ndarray, alpha: np.ndarray,
                        radii: tuple[int, ...] = (45, 3)) -> np.ndarray:
    """Foreground colours ``[H, W, 3]`` 0..1 by blur fusion (module docstring): for each
    radius, ``F = blur_F + alpha * (I - alpha * blur_F - (1 - alpha) * blur_B)`` where
    ``blur_F`` / ``blur_B`` are alpha-weighted local means of the foreground / background.
    Local means over radii of 16 px or more are taken at a quarter of the working resolution
    (they are smooth) and interpolated back.  Frames with a short side over ``2 * WORK_SIDE``
    are worked on at 1/``k`` resolution; the last step is then evaluated at full resolution
    only at soft pixels (``SOFT < alpha < 1 - SOFT``), ``I`` where alpha is above and
    the upsampled ``blur_F`` where it is below."""
    frame = np.ascontiguousarray(frame, np.float32)
    alpha_full = np.ascontiguousarray(alpha, np.float32)
    full = alpha_full.shape
    k = max(1, min(full) // (2 * WORK_SIDE))
    image, alpha = frame, alpha_full
    if k > 1:
        size = (full[1] // k, full[0] // k)
        image = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha_full, size, interpolation=cv2.INTER_AREA)
    a = alpha[..., None]
    h, w = alpha.shape
    fg, bg = image, image
    for r in radii:
        r = max(1, round(r / k))
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
    if k == 1:
        return fg.astype(np.float32)
    # the last step at full resolution: blur_F where alpha is 0, the frame where it is 1,
    # the blur-fusion formula (blur_F, blur_B upsampled) at the soft pixels only
    out = cv2.resize(blur_f, (full[1], full[0]), interpolation=cv2.INTER_LINEAR)
    cv2.copyTo(frame, (alpha_full >= 1.0 - SOFT).view(np.uint8), out)
    index = np.flatnonzero((alpha_full > SOFT) & (alpha_full < 1.0 - SOFT))
    if index.size:
        means = sample_field(np.dstack([blur_f, blur_b]), index, full)
        f, b = means[:, :3], means[:, 3:]
        x = alpha_full.reshape(-1)[index][:, None]
        value = f + x * (frame.reshape(-1, 3)[index] - x * f - (1.0 - x) * b)
        out.reshape(-1, 3)[index] = np.clip(value, 0.0, 1.0)
    return out
