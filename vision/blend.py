"""Gated blend: put a warped swap source into its target, band by band, trusting it by quality.

The source must already be aligned onto the target (e.g. the mesh-warp swap's output); the
blend decides *how much of which frequencies* to take from it:

1. **Colour** -- the source is recoloured inside the mask to the target's statistics
   (:mod:`vision.color`).
2. **Bands** -- the difference ``D = source - target`` (zero outside the mask) is split into
   a Laplacian stack: bands ``k = 0 .. L-1`` of about ``2**k .. 2**(k+1)`` px and a residual
   coarser than ``2**L`` px, with ``L = round(log2(face_width / 8))`` clipped to 2..7, so the
   residual is about an eighth of the face: its lighting.  Each band is added to the target
   with its own weight ``strength * gate_k * ramp_k``:

   * fine bands (``2**k < 4`` px, k = 0, 1): the target's band is always removed and the
     source's added times ``trust = detail_gate(quality)`` -- a blurred, noisy or blocky
     source's invented detail is held back and the face is left smooth there (a restorer
     brings real detail: ``pipeline.restore``), but the target's glasses, wrinkles and eye
     edges never show through;
   * middle bands: ``gate = 1`` -- identity and shape;
   * residual: ``gate = 1 - target_light`` -- the target's shading and light.
3. **Edge** -- ``ramp_k`` rises from 0 at the mask edge to 1 over ``w_k`` px inward
   (smoothstep of the distance to the outside), times the input mask; ``w_0 = feather`` and
   ``w_k = max(feather, 2**(k+1))``, so coarse bands fade over a wider margin than fine ones
   and *nothing* is added outside the mask.  The final mask is ``ramp_0`` (the input mask
   itself when ``feather`` is 0).

Quality limits only how much of the source's *fine detail* is trusted, never how much of the
target shows through: the middle bands (identity-carrying structure) and the requested
``strength`` are applied whatever the quality, and the target's fine bands are replaced too, so
inside the mask the source's structure always replaces the target's.  (A quality-capped strength, as in the seed, left 30% of the target's
features under a faint ghost of a small source: doubled nostrils and eye edges, and the target
person recognised in 52 of 63 swaps from 64 px sources.)  ``detail_gate(q) = clip((q - 0.35) /
0.4)`` (0 up to 0.35, 1 from 0.75) is the share of the source's own bands finer than 4 px that
is kept; a restored source (``pipeline.restore``) brings its restorer's detail with its
measured quality.  Calibrated on the ``lowres`` set enlarged onto
the full-size frame (what a warped source looks like), quality -> trust: hr_gt 1.00 ->
1.00; lr_x4_bicubic 0.57 -> 0.55; mixed_blur2_x4_noise8_jpeg30 0.42 -> 0.18.  The tests
assert on other photos (Biden 1, Obama 3) degraded the same way, where the gate closes less:
x4 0.70 / 0.60 -> 0.88 / 0.63; blur+x4+noise+JPEG 0.58 / 0.48 -> 0.57 / 0.32.

Only the box around each separate part of the mask (each face; plus a small margin) is
processed, each part on its own (band count and colour statistics of that face; parts whose
boxes overlap are blended together); pixels where the final mask is 0 are bit-identical to
the target.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .color import transfer_color
from .quality import oval_quality, unit_ramp

DETAIL_RANGE = (0.35, 0.75)  # quality over which the fine bands' gate rises from 0 to 1
FINE_SCALE = 4              # bands finer than this many px are "detail"
MARGIN = 8                  # px around the mask's bounding box


@dataclass(frozen=True)
class BlendResult:
    """``image`` float32 ``[H, W, 3]`` 0..1, ``mask`` float32 ``[H, W]`` 0..1 (where the
    source was added), the source ``quality`` used and the applied ``strength``."""

    image: np.ndarray
    mask: np.ndarray
    quality: float
    strength: float


def detail_gate(quality: float) -> float:
    """Weight of the source's fine bands, 0..1 (module docstring)."""
    return unit_ramp(quality, DETAIL_RANGE)


def mask_box(mask: np.ndarray, margin: int = 0) -> Optional[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` of ``mask > 0`` grown by ``margin`` and clipped, or None if empty."""
    x, y, bw, bh = cv2.boundingRect((np.asarray(mask) > 0).view(np.uint8))
    if bw == 0:
        return None
    h, w = mask.shape
    return (max(x - margin, 0), max(y - margin, 0), min(x + bw + margin, w), min(y + bh + margin, h))


def mask_boxes(mask: np.ndarray, margin: int = 0) -> list[tuple[int, int, int, int]]:
    """:func:`mask_box` of each separate part (8-connected) of ``mask > 0``; boxes that
    overlap are merged, so the boxes never overlap.  One part, or parts whose boxes all
    overlap, give ``[mask_box(mask, margin)]``; an empty mask ``[]``."""
    outer = mask_box(mask)
    if outer is None:
        return []
    ox, oy, ox1, oy1 = outer
    _, _, stats, _ = cv2.connectedComponentsWithStats(
        (np.asarray(mask[oy:oy1, ox:ox1]) > 0).view(np.uint8), connectivity=8)
    h, w = mask.shape
    boxes = [(max(ox + x - margin, 0), max(oy + y - margin, 0),
              min(ox + x + bw + margin, w), min(oy + y + bh + margin, h))
             for x, y, bw, bh, _ in stats[1:].tolist()]
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
                if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                    boxes[a] = (min(ax0, bx0), min(ay0, by0), max(ax1, bx1), max(ay1, by1))
                    del boxes[b]
                    merged = True
                    break
            if merged:
                break
    return boxes


def inner_distance(mask: np.ndarray) -> np.ndarray:
    """float32 ``[H, W]``: distance (px) from each ``mask > 0`` pixel to the nearest outside
    pixel (1 next to the edge), 0 outside.  The image border does not count as outside."""
    inside = np.pad((mask > 0).astype(np.uint8), 1, constant_values=1)
    return cv2.distanceTransform(inside, cv2.DIST_L2, 5)[1:-1, 1:-1]


def edge_ramp(distance: np.ndarray, width: float) -> np.ndarray:
    """Smoothstep from 0 at the edge to 1 at ``width`` px inside (1 from the first pixel
    when ``width`` <= 1)."""
    t = np.clip(distance / max(width, 1.0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def band_count(face_width: float) -> int:
    """``L``: bands below the lighting residual for a face ``face_width`` px wide."""
    return int(np.clip(round(np.log2(max(face_width, 1.0) / 8.0)), 2, 7))


def lowpass_stack(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """``[low_0 = image, low_1, ..., low_levels]``, each ``low_k`` the Gaussian pyramid level
    ``k`` expanded back to full size; ``low_k - low_(k+1)`` is Laplacian band ``k``."""
    pyramid = [image]
    for _ in range(levels):
        below = pyramid[-1]
        pyramid.append(cv2.pyrDown(below, dstsize=((below.shape[1] + 1) // 2,
                                                   (below.shape[0] + 1) // 2)))
    stack = [image]
    for k in range(1, levels + 1):
        up = pyramid[k]
        for j in range(k - 1, -1, -1):
            up = cv2.pyrUp(up, dstsize=(pyramid[j].shape[1], pyramid[j].shape[0]))
        stack.append(up)
    return stack


def unsharp(image: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """``image + amount * (image - blur(image))``."""
    return image + amount * (image - cv2.GaussianBlur(image, (0, 0), sigma))


def source_quality(source: np.ndarray, mask: np.ndarray) -> float:
    """Quality estimate of a warped source: :func:`vision.quality.oval_quality` over the
    bounding box of ``mask > 0.5`` (of ``mask > 0`` when nothing is above 0.5); 1.0 for an
    empty mask.  ``source``: float32 ``[H, W, 3]`` 0..1; ``mask``: ``[H, W]``."""
    box = mask_box(mask > 0.5) or mask_box(mask)
    return 1.0 if box is None else oval_quality(source, box).quality


def gated_blend(target: np.ndarray, source: np.ndarray, mask: np.ndarray, *,
                quality: Optional[float] = None, strength: float = 1.0, feather: float = 15.0,
                color: str = "reinhard", target_light: float = 0.6,
                sharpen: float = 0.0) -> BlendResult:
    """Blend an aligned ``source`` into ``target`` through ``mask`` (module docstring).

    Args:
        target: float32 ``[H, W, 3]`` RGB 0..1, the frame to change.
        source: float32 ``[H, W, 3]`` RGB 0..1, the source already warped onto the target;
            its pixels outside the mask are never used.
        mask: float32 ``[H, W]`` 0..1, where the source may go.
        quality: the source's quality 0..1 (e.g. measured once on the source frame with
            :func:`vision.quality.face_quality`); None estimates it on the warped source
            with :func:`source_quality`.
        strength: blend strength 0..1 of every band (quality never lowers it).
        feather: width in px of the inward edge ramp (0 keeps the mask as given).
        color: colour transfer method, one of :data:`vision.color.METHODS`.
        target_light: 0..1, how much of the coarsest band (lighting) stays the target's.
        sharpen: unsharp-mask amount (0 = off) applied to the blended face.
    Returns:
        :class:`BlendResult`; with an empty mask the image is a copy of the target and the
        strength 0.
    """
    out = np.array(target, np.float32)
    final = np.zeros(target.shape[:2], np.float32)
    result = BlendResult(out, final, 1.0 if quality is None else float(quality), 0.0)
    for x0, y0, x1, y1 in mask_boxes(mask, MARGIN):
        region = blend_region(out[y0:y1, x0:x1], source[y0:y1, x0:x1], mask[y0:y1, x0:x1],
                              quality=quality, strength=strength, feather=feather, color=color,
                              target_light=target_light, sharpen=sharpen)
        out[y0:y1, x0:x1] = region.image
        final[y0:y1, x0:x1] = region.mask
        result = BlendResult(out, final, region.quality, region.strength)
    return result


def blend_region(target: np.ndarray, source: np.ndarray, mask: np.ndarray, *,
                 quality: Optional[float] = None, strength: float = 1.0, feather: float = 15.0,
                 color: str = "reinhard", target_light: float = 0.6, sharpen: float = 0.0,
                 color_stats=None) -> BlendResult:
    """:func:`gated_blend` on a region already cut around the mask (its bounding box plus
    :data:`MARGIN`, so the edge ramps and bands see the target around the face); the work a
    video frame needs is this region's, not the frame's.  Same arguments; ``color_stats``:
    see :func:`vision.color.transfer_color`.  Returns the region's :class:`BlendResult`
    (equal to ``target`` where the final mask is 0, clipped to 0..1 elsewhere)."""
    tgt = np.asarray(target, np.float32)
    src = np.asarray(source, np.float32)
    soft = np.asarray(mask, np.float32)
    box = mask_box(soft > 0.5) or mask_box(soft)   # the face
    if box is None:
        return BlendResult(tgt.copy(), np.zeros(soft.shape, np.float32),
                           1.0 if quality is None else float(quality), 0.0)
    fx0, fy0, fx1, fy1 = box
    if quality is None:
        quality = oval_quality(src, box).quality
    applied = float(strength)

    recoloured = transfer_color(src, tgt, soft, color, stats=color_stats)
    diff = recoloured - tgt
    diff[soft <= 0] = 0.0
    levels = band_count(fx1 - fx0)
    stack = lowpass_stack(diff, levels)
    distance = inner_distance(soft)
    trust = detail_gate(quality)
    fine = sum(1 for k in range(levels) if 2 ** k < FINE_SCALE)
    gates = [trust if k < fine else 1.0 for k in range(levels)] + [1.0 - float(target_light)]
    widths = [feather] + [max(feather, 2.0 ** (k + 1)) for k in range(1, levels + 1)]
    if trust < 1.0:   # the source's own fine bands, to hold back (1 - trust) of them
        filled = np.where(soft[..., None] > 0, recoloured, tgt)
        src_stack = lowpass_stack(filled, fine)
    added = np.zeros_like(diff)
    start = 0
    for k in range(levels + 1):   # bands sharing gate and edge width are added as one
        if k < levels and (gates[k], widths[k]) == (gates[k + 1], widths[k + 1]):
            continue
        group = stack[start] - stack[k + 1] if k < levels else stack[start]
        gate = gates[k]
        if k < fine and trust < 1.0:   # target's detail out, trust x the source's in
            group = group - (1.0 - trust) * (src_stack[start] - src_stack[k + 1])
            gate = 1.0
        weight = (applied * gate) * edge_ramp(distance, widths[k]) * soft
        added += weight[..., None] * group
        start = k + 1
    blended = tgt + added
    ramp = edge_ramp(distance, widths[0]) * soft
    if sharpen > 0:
        blended = blended + ramp[..., None] * (unsharp(blended, sharpen) - blended)
    inside = ramp > 0
    image = np.where(inside[..., None], np.clip(blended, 0.0, 1.0), tgt)
    return BlendResult(image.astype(np.float32, copy=False), ramp.astype(np.float32, copy=False),
                       float(quality), applied)
