"""Poisson composite (seamless cloning) of a source into a target through a mask.

Inside the region ``R = mask > 0.5`` the result ``f`` solves the discrete Poisson equation
``sum_q (f_p - f_q) = sum_q v_pq`` over the 4 neighbours ``q`` of each pixel ``p`` (Perez et
al. 2003), with ``f = target`` on the pixels just outside ``R``:

* ``normal``: the guidance is the source's gradient, ``v_pq = S_p - S_q`` -- the source's
  detail, re-lit so that it meets the target's colours along the whole border;
* ``mixed``: per neighbour pair the stronger of the source's and the target's gradient (by
  length over the three channels) -- the target's own edges (glasses, hair, text) show through
  where the source is flat.

Where ``R`` reaches the image border there is no neighbour to match: the border is a free
(Neumann) edge, so masks touching the border work without padding and nothing shifts (OpenCV's
``seamlessClone`` fails or moves the clone there).  The system is solved on the region's
bounding box by conjugate gradients, started from a push-pull interpolation of the border
mismatch.  Pixels outside ``R`` are bit-identical to the target.

When to prefer the gated blend (:mod:`vision.blend`): Poisson pulls the border's colours into
the whole region, so a face whose mask edge runs over hair, background or shadow takes on their
colour (a purple background turns the face purple), and a light or dark source is re-lit
entirely by its border.  Use it when the mask edge lies on clean skin of similar light (an
eroded face oval after colour transfer); use the gated blend -- or ``mixed`` here -- when the
edge crosses non-skin or the border colours are uneven.
"""
from __future__ import annotations

import cv2
import numpy as np

MODES = ["normal", "mixed"]
TOLERANCE = 1e-4        # stop when the RMS residual per pixel (0..1 units) is below this
MAX_ITERATIONS = 2000


_CROSS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32)


def _neighbour_sum(x: np.ndarray) -> np.ndarray:
    """Sum of the 4 neighbours of every pixel of float32 ``[h, w]`` or ``[h, w, C]`` (missing
    ones count 0)."""
    return cv2.filter2D(x, -1, _CROSS, borderType=cv2.BORDER_CONSTANT).reshape(x.shape)


def _guidance_divergence(source: np.ndarray, target: np.ndarray, mode: str) -> np.ndarray:
    """``sum_q v_pq`` for every pixel of the box, ``[h, w, C]``."""
    total = np.zeros_like(source)
    for axis in (0, 1):
        ds = np.diff(source, axis=axis)             # S_(p+1) - S_p along the axis
        if mode == "mixed":
            dt = np.diff(target, axis=axis)
            stronger = (ds * ds).sum(-1, keepdims=True) >= (dt * dt).sum(-1, keepdims=True)
            ds = np.where(stronger, ds, dt)
        lead = [slice(None)] * 3
        lead[axis] = slice(None, -1)
        trail = [slice(None)] * 3
        trail[axis] = slice(1, None)
        total[tuple(lead)] -= ds                    # p has neighbour p+1: v = f_p - f_(p+1)
        total[tuple(trail)] += ds                   # p+1 has neighbour p
    return total


def push_pull(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Smooth fill of ``values`` ``[h, w, C]`` from the ``known`` ``[h, w]`` pixels (pull:
    weighted Gaussian pyramid; push: coarser estimates fill where weights are thin)."""
    weights = [known.astype(np.float32)]
    sums = [values * weights[0][..., None]]
    while min(weights[-1].shape) > 2:
        h, w = weights[-1].shape
        size = ((w + 1) // 2, (h + 1) // 2)
        weights.append(cv2.pyrDown(weights[-1], dstsize=size))
        sums.append(cv2.pyrDown(sums[-1], dstsize=size).reshape(size[1], size[0], -1))
    estimate = sums[-1] / np.maximum(weights[-1], 1e-8)[..., None]
    for level in range(len(weights) - 2, -1, -1):
        h, w = weights[level].shape
        coarse = cv2.pyrUp(estimate, dstsize=(w, h)).reshape(h, w, -1)
        trust = np.minimum(weights[level] * 4.0, 1.0)[..., None]
        own = sums[level] / np.maximum(weights[level], 1e-8)[..., None]
        estimate = trust * own + (1.0 - trust) * coarse
    return estimate


def solve(rhs: np.ndarray, region: np.ndarray, degree: np.ndarray, initial: np.ndarray,
          tolerance: float = TOLERANCE, max_iterations: int = MAX_ITERATIONS) -> np.ndarray:
    """Conjugate gradients for ``degree * x - neighbour_sum(x) = rhs`` on ``region``.

    ``rhs``, ``initial``: float32 ``[h, w]``; ``region``: bool ``[h, w]``; ``degree``: float32
    ``[h, w]`` neighbour counts.  Unknowns outside ``region`` are 0.  A region without any
    fixed neighbour is singular; a 1e-6 diagonal shift keeps it solvable.
    """
    inside = region.astype(np.float32)
    diagonal = degree + np.float32(1e-6)

    def apply(x):
        return (diagonal * x - _neighbour_sum(x)) * inside

    x = initial * inside
    r = (rhs - apply(x)) * inside
    p = r.copy()
    rs = float(np.vdot(r, r))
    limit = (tolerance ** 2) * max(int(region.sum()), 1)
    for _ in range(max_iterations):
        if rs <= limit:
            break
        ap = apply(p)
        alpha = np.float32(rs / max(float(np.vdot(p, ap)), 1e-30))
        x += alpha * p
        r -= alpha * ap
        rs_new = float(np.vdot(r, r))
        p = r + np.float32(rs_new / rs) * p
        rs = rs_new
    return x


def poisson_clone(target: np.ndarray, source: np.ndarray, mask: np.ndarray,
                  mode: str = "normal") -> tuple[np.ndarray, np.ndarray]:
    """Seamlessly clone ``source`` into ``target`` where ``mask > 0.5`` (module docstring).

    Args:
        target, source: float32 ``[H, W, 3]`` RGB in 0..1, the same size; the source is
            already placed where it should appear.
        mask: ``[H, W]`` in 0..1.
        mode: ``normal`` or ``mixed``.
    Returns:
        ``(image, region)``: float32 ``[H, W, 3]`` in 0..1 and the float32 ``[H, W]`` 0/1
        region that was solved; outside it the image is bit-identical to ``target``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown Poisson mode {mode!r}; choose one of {MODES}")
    out = np.array(target, np.float32)
    region_full = np.asarray(mask) > 0.5
    x, y, bw, bh = cv2.boundingRect(region_full.view(np.uint8))
    if bw == 0:
        return out, region_full.astype(np.float32)
    h_img, w_img = region_full.shape
    x0, y0 = max(x - 1, 0), max(y - 1, 0)
    x1, y1 = min(x + bw + 1, w_img), min(y + bh + 1, h_img)
    tgt = out[y0:y1, x0:x1]
    src = np.ascontiguousarray(source[y0:y1, x0:x1], np.float32)
    region = region_full[y0:y1, x0:x1]
    degree = _neighbour_sum(np.ones(region.shape, np.float32))
    # unknown: the correction c = f - S; fixed neighbours carry c = T - S
    fixed = np.where(region[..., None], np.float32(0), tgt - src)
    rhs = (_guidance_divergence(src, tgt, mode) - (degree[..., None] * src - _neighbour_sum(src))
           + _neighbour_sum(fixed))
    ring = ~region & (cv2.dilate(region.view(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    start = push_pull(tgt - src, ring).astype(np.float32) if ring.any() else np.zeros_like(src)
    correction = np.stack([solve(np.ascontiguousarray(rhs[..., c]), region, degree,
                                 np.ascontiguousarray(start[..., c])) for c in range(3)], -1)
    cloned = np.clip(src + correction, 0.0, 1.0).astype(np.float32)
    out[y0:y1, x0:x1] = np.where(region[..., None], cloned, out[y0:y1, x0:x1])
    return out, region_full.astype(np.float32)
