"""Face restoration and image upscaling around an enhancer callable.

An *enhancer* is any callable ``enhancer(image [h, w, 3] float32 0..1) -> [h*s, w*s, 3]`` with
attributes ``scale`` (``s``), ``input_size`` (a fixed square input, or None for any size) and
``id`` -- :class:`models.enhancers.Enhancer`.

Faces are restored on FFHQ-aligned crops (template ``ffhq_512``, :mod:`vision.geometry`):

* a face restorer with a fixed input (GFPGAN, GPEN, CodeFormer: 512 or 256 px) gets the crop
  at its input size;
* a super-resolution network (x4) gets the crop at the face's own resolution (one crop pixel
  per frame pixel, so a larger face loses nothing), but at least ``512 / scale`` px (128 for
  x4): a smaller face is enlarged bicubically to that first; the output is resized to 512.
  Fed a small face at its own resolution instead (a 32 px face is a 68 px crop), the networks
  invent painterly features:
  swaps from 32 px sources (astronaut <-> Grace Hopper, dlib distance to the source) measured
  0.43 / 0.42 that way against 0.34 / 0.41 with the enlarged input and 0.35 / 0.43 with no
  restoration at all.

*Keep the structure* (:func:`keep_structure`, on by default for the super-resolution
networks): the restored face is the plain enlargement plus the network's *detail* only (its
output minus a Gaussian low-pass of :data:`DETAIL_SIGMA` source pixels), so everything coarser
than the input's own pixels -- the face's shape, features and shading, what identity rests on
-- stays the input's, and the network can only add what the input cannot hold.  Fed whole, the
networks redraw that structure too: on x4 / x8 bicubic downscales of six faces of four other
photos (the calibration; the tests assert on ``lowres/hr_gt``) esrgan_slim's face was closer
to the high-resolution face than bicubic's (dlib) in 2 of 12 cases, with its structure kept in
11 of 12 (BRISQUE 55 either way, bicubic 85).  Face restorers (GPEN, GFPGAN, CodeFormer:
fixed input, a face prior) redraw the face by design and are used whole.

The size policy (FaceFusion's and the seed article's): faces narrower than ``small`` px are
always enhanced, faces up to ``large`` px only when asked, larger ones never (they gain
nothing and lose their own detail).
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from .geometry import Template, feather_mask, similarity_transform, warp_crop

FACE_SIZE = 512
"""Side of the restored FFHQ crop."""
SIZE_POLICIES = ["auto", "auto+medium", "all"]
"""``auto``: faces up to ``small`` px wide; ``auto+medium``: also faces up to ``large`` px;
``all``: every face."""


def should_enhance(face_width: float, policy: str = "auto", small: float = 64.0,
                   large: float = 128.0) -> bool:
    """Whether a face ``face_width`` px wide is enhanced under ``policy`` (module docstring)."""
    if policy not in SIZE_POLICIES:
        raise ValueError(f"size_policy must be one of {SIZE_POLICIES}, got {policy!r}")
    if policy == "all":
        return True
    limit = small if policy == "auto" else max(small, large)
    return round(face_width) <= limit   # whole pixels, as the reports print them


DETAIL_SIGMA = 0.25
"""Gaussian sigma, in source pixels, of the low-pass that :func:`keep_structure` takes from
the plain enlargement instead of the network (0.2-0.3: 11 of 12 calibration faces closer
to the high-resolution face than bicubic, module docstring; 0.5: 7, 0.7: 5)."""
SHARPEN_SIGMA = 0.5
"""Gaussian sigma, in source pixels, of :func:`sharpened`'s unsharp mask."""


def magnification(matrix: np.ndarray) -> float:
    """Crop pixels per frame pixel of a frame -> crop ``[2, 3]`` similarity ``matrix``."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix, np.float64)[:, :2]))))


def sharpened(crop: np.ndarray, zoom: float, amount: float) -> np.ndarray:
    """An enlarged crop (``zoom`` crop px per source px) with the contrast the enlargement and
    the source's own down-sampling took from its finest structure given back: an unsharp mask
    of :data:`SHARPEN_SIGMA` source pixels times ``amount`` (no detail finer than the source's
    pixels is made).  float32 ``[h, w, 3]`` 0..1 in and out."""
    if amount <= 0:
        return crop
    blur = cv2.GaussianBlur(crop, (0, 0), SHARPEN_SIGMA * zoom)
    return np.clip(crop + float(amount) * (crop - blur), 0.0, 1.0)


def keep_structure(restored: np.ndarray, plain: np.ndarray, zoom: float,
                   sharpen: float = 0.0) -> np.ndarray:
    """``restored``'s detail on ``plain``'s structure (module docstring): ``plain``
    (:func:`sharpened` by ``sharpen``) plus ``restored`` minus its Gaussian low-pass of
    :data:`DETAIL_SIGMA` source pixels.  ``zoom``: crop px per source px
    (:func:`magnification`); both crops float32 ``[h, w, 3]`` 0..1, pixel-aligned."""
    detail = restored - cv2.GaussianBlur(restored, (0, 0), DETAIL_SIGMA * max(zoom, 1e-3))
    return np.clip(sharpened(plain, zoom, sharpen) + detail, 0.0, 1.0)


def crop_size_for(matrix_512: np.ndarray, enhancer) -> int:
    """Side of the FFHQ crop given to ``enhancer`` (module docstring): a face restorer's input
    size; for an upscaler the face's own resolution (one crop pixel per frame pixel), at least
    ``512 / scale`` and at most 512."""
    if enhancer.input_size:
        return int(enhancer.input_size)
    floor = FACE_SIZE // max(int(enhancer.scale), 1)
    return int(np.clip(round(FACE_SIZE / max(magnification(matrix_512), 1e-6)), floor, FACE_SIZE))


def enhance_face(frame: np.ndarray, keypoints: np.ndarray, enhancer, *,
                 structure: bool = True, sharpen: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Restore one face.

    Args:
        frame: float32 ``[H, W, 3]`` RGB 0..1.
        keypoints: ``[5, 2]`` the face's keypoints in frame pixels (order of ``vision.face``).
        enhancer: see the module docstring; None: no network, the plain crop
            :func:`sharpened` by ``sharpen``.
        structure: an upscaler only adds detail to the input's structure
            (:func:`keep_structure`); face restorers are always used whole.
        sharpen: :func:`sharpened`'s amount for the plain crop under the detail.
    Returns:
        ``(restored, original, matrix)``: the restored and the plain (bicubic) FFHQ crops,
        both float32 ``[512, 512, 3]`` 0..1, and the frame -> crop ``[2, 3]`` matrix for
        :func:`vision.geometry.paste_back`.
    """
    matrix = similarity_transform(keypoints, Template("ffhq_512", FACE_SIZE).points)
    original = np.clip(warp_crop(frame, matrix, (FACE_SIZE, FACE_SIZE)), 0.0, 1.0)
    zoom = magnification(matrix)
    if enhancer is None:
        return sharpened(original, zoom, sharpen), original, matrix
    side = crop_size_for(matrix, enhancer)
    small = original if side == FACE_SIZE else warp_crop(
        frame, similarity_transform(keypoints, Template("ffhq_512", side).points), (side, side))
    restored = enhancer(small)
    if restored.shape[0] != FACE_SIZE:
        interp = cv2.INTER_AREA if restored.shape[0] > FACE_SIZE else cv2.INTER_CUBIC
        restored = cv2.resize(restored, (FACE_SIZE, FACE_SIZE), interpolation=interp)
    restored = np.clip(restored, 0.0, 1.0)
    if structure and not enhancer.input_size:
        restored = keep_structure(restored, original, zoom, sharpen)
    return restored, original, matrix


def _ramp(length: int, overlap: int, start: bool, end: bool) -> np.ndarray:
    """1-D weights: smoothstep from ~0 to 1 over ``overlap`` samples at a shared edge."""
    w = np.ones(length, np.float32)
    if overlap > 0:
        t = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        s = t * t * (3 - 2 * t)
        if start:
            w[:overlap] = s[:length]
        if end:
            w[-overlap:] = np.minimum(w[-overlap:], s[::-1][-min(overlap, length):])
    return w


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px overlapping by ``overlap`` px covering ``size``."""
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def tiled_upscale(image: np.ndarray, enhancer: Callable[[np.ndarray], np.ndarray], scale: int,
                  tile: int = 256, overlap: int = 32) -> np.ndarray:
    """Upscale a whole image tile by tile with feathered seams.

    Tiles of ``tile`` input px overlap by ``overlap`` px; inside each overlap the two tiles'
    outputs are cross-faded with smoothstep weights that fall to ~0 at a tile's own border
    (where a network sees padding), so no seam shows.  Memory: one output image plus one
    weight plane, whatever the number of tiles.

    Args:
        image: float32 ``[H, W, 3]`` RGB 0..1.
        enhancer: ``tile [h, w, 3] -> [h*scale, w*scale, 3]``.
        scale: the enhancer's factor.
    Returns: float32 ``[H*scale, W*scale, 3]`` 0..1.
    """
    h, w = image.shape[:2]
    overlap = int(min(overlap, tile // 2))
    out = np.zeros((h * scale, w * scale, 3), np.float32)
    weight = np.zeros((h * scale, w * scale), np.float32)
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    for y in ys:
        for x in xs:
            patch = image[y:y + tile, x:x + tile]
            result = enhancer(patch)
            ph, pw = patch.shape[:2]
            if result.shape[:2] != (ph * scale, pw * scale):
                raise ValueError(f"the upscaler returned {result.shape[1]}x{result.shape[0]} "
                                 f"for a {pw}x{ph} tile, not x{scale}")
            wy = _ramp(ph * scale, overlap * scale, y > 0, y + ph < h)
            wx = _ramp(pw * scale, overlap * scale, x > 0, x + pw < w)
            wt = wy[:, None] * wx[None, :]
            oy, ox = y * scale, x * scale
            out[oy:oy + ph * scale, ox:ox + pw * scale] += result[..., :3] * wt[..., None]
            weight[oy:oy + ph * scale, ox:ox + pw * scale] += wt
    return np.clip(out / np.maximum(weight, 1e-8)[..., None], 0.0, 1.0)


FACE_REGION_MARGIN = 0.75
"""Margin, in face widths on every side of a box, that :func:`upscale_face_regions` enlarges
with the network (the outer half of it cross-fades into bicubic): it covers the embedders'
face chips (dlib's: the face plus a quarter of its width around)."""


def upscale_face_regions(image: np.ndarray, boxes, enhancer: Callable[[np.ndarray], np.ndarray],
                         scale: int, margin: float = FACE_REGION_MARGIN, tile: int = 256,
                         overlap: int = 32) -> np.ndarray:
    """``image`` enlarged ``scale`` x: bicubic everywhere, and by ``enhancer`` (tiled,
    :func:`tiled_upscale`) around each box, widened by ``margin`` box widths on every side
    and feathered into the bicubic over the outer half of that margin.  A 720p frame with a
    few small faces then costs the network a few small crops instead of the whole frame.

    Args:
        image: float32 ``[H, W, 3]`` RGB 0..1.  boxes: ``(x1, y1, x2, y2)`` in its pixels.
    Returns: float32 ``[H*scale, W*scale, 3]`` 0..1; pixels farther than ``margin`` box widths
        from every box are exactly the bicubic enlargement.
    """
    h, w = image.shape[:2]
    out = np.clip(cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC), 0, 1)
    for x1, y1, x2, y2 in boxes:
        pad = margin * max(x2 - x1, y2 - y1, 1.0)
        left, top = int(max(np.floor(x1 - pad), 0)), int(max(np.floor(y1 - pad), 0))
        right, bottom = int(min(np.ceil(x2 + pad), w)), int(min(np.ceil(y2 + pad), h))
        if right - left < 2 or bottom - top < 2:
            continue
        up = tiled_upscale(image[top:bottom, left:right], enhancer, scale, tile, overlap)
        fade = feather_mask((up.shape[1], up.shape[0]), pad * scale / 2)[..., None]
        region = out[top * scale:bottom * scale, left * scale:right * scale]
        region += fade * (up - region)
    return out
