"""Alignment geometry: 5-point templates, similarity transforms, crop warps and paste-back.

All matrices are ``[2, 3]`` float32 affine maps in OpenCV's convention (``dst = M @ [x, y, 1]``),
from frame pixels to crop pixels unless a name says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# 5-point templates in units of the crop size (x, y in 0..1), keypoint order as in face.py.
# arcface_112_v2 is insightface's ArcFace template (112x112); arcface_128_v2 is the same face
# in a 128x128 crop (inswapper); ffhq_512 is the FFHQ alignment used by GFPGAN/GPEN/CodeFormer.
TEMPLATES: dict[str, np.ndarray] = {
    "arcface_112_v2": np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                                [41.5493, 92.3655], [70.7299, 92.2041]]) / 112.0,
    "arcface_128_v2": np.array([[46.2946, 51.6963], [81.5318, 51.5014], [64.0252, 71.7366],
                                [49.5493, 92.3655], [78.7299, 92.2041]]) / 128.0,
    "ffhq_512": np.array([[192.98138, 239.94708], [318.90277, 240.19360], [256.63416, 314.01935],
                          [201.26117, 371.41043], [313.08905, 371.15118]]) / 512.0,
}
DEFAULT_SIZES = {"arcface_112_v2": 112, "arcface_128_v2": 128, "ffhq_512": 512}


@dataclass(frozen=True)
class Template:
    """A named 5-point target for alignment.

    ``points`` are crop pixels ``[5, 2]`` for a square crop of ``size`` pixels.  ``scale`` < 1
    zooms out (more context around the face), > 1 zooms in, about the crop centre.
    """

    name: str
    size: int
    scale: float = 1.0

    @property
    def points(self) -> np.ndarray:
        if self.name not in TEMPLATES:
            raise ValueError(f"unknown alignment template {self.name!r}; "
                             f"choose one of {sorted(TEMPLATES)}")
        unit = (TEMPLATES[self.name] - 0.5) * self.scale + 0.5
        return (unit * self.size).astype(np.float32)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` to ``dst``.

    Umeyama's closed form.  ``src``, ``dst``: ``[N, 2]`` points, N >= 2.  Returns ``[2, 3]``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1
    rotation = u @ np.diag(d) @ vt
    var = (src_c ** 2).sum() / len(src)
    scale = (s * d).sum() / var if var > 0 else 1.0
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix.astype(np.float32)


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a ``[2, 3]`` affine map."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64)).astype(np.float32)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``[2, 3]`` affine map to ``[N, 2]`` (or ``[N, 3]``: x, y moved, z scaled) points."""
    points = np.asarray(points, np.float32)
    out = points.copy()
    out[:, :2] = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    if points.shape[1] > 2:
        out[:, 2:] *= np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    return out


def _interpolation(matrix: np.ndarray) -> int:
    """Area sampling when ``matrix`` shrinks the image, bicubic when it enlarges it."""
    return cv2.INTER_AREA if abs(np.linalg.det(matrix[:, :2])) < 1 else cv2.INTER_CUBIC


def warp_crop(frame: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Cut an aligned crop ``[h, w, C]`` out of ``frame`` with the frame->crop ``matrix``.

    ``size`` is ``(width, height)``.  Minifying uses area sampling, magnifying bicubic; the
    border is replicated so the crop has no black wedges.
    """
    return cv2.warpAffine(frame, matrix, size, flags=_interpolation(matrix),
                          borderMode=cv2.BORDER_REPLICATE)


def feather_mask(size: tuple[int, int], feather: float) -> np.ndarray:
    """A ``[h, w]`` float32 mask: 1 inside, ramping smoothly to exactly 0 at the crop border.

    ``feather`` is the ramp width in crop pixels (0 gives a hard rectangle, still 0 on the
    outermost pixel ring so nothing outside the crop's footprint is touched).
    """
    width, height = size
    x = np.minimum(np.arange(width), np.arange(width)[::-1]).astype(np.float32)
    y = np.minimum(np.arange(height), np.arange(height)[::-1]).astype(np.float32)
    dist = np.minimum(y[:, None], x[None, :])
    ramp = np.clip(dist / max(feather, 1.0), 0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)


def _footprint(matrix_inv: np.ndarray, size: tuple[int, int], shape: tuple[int, int]):
    """Integer ``(x0, y0, x1, y1)`` of the crop's footprint in the frame, clipped, or None."""
    w, h = size
    corners = transform_points(np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float32), matrix_inv)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def paste_back(frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray,
               crop_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp a (processed) crop back into its frame through a crop-space mask.

    Args:
        frame: float32 ``[H, W, C]`` in 0..1, the frame the crop was cut from.
        crop: float32 ``[h, w, C]`` in 0..1.
        matrix: the frame->crop ``[2, 3]`` map used to cut the crop.
        crop_mask: float32 ``[h, w]`` in 0..1 (e.g. :func:`feather_mask`); 0 keeps the frame.

    Returns:
        ``(image, mask)``: the composited frame and the frame-space mask ``[H, W]``.  Wherever
        the mask is 0 the returned pixels are bit-identical to ``frame``.  Only the crop's
        footprint is warped, so pasting into a 4K frame costs about as much as a small one.
    """
    h, w = crop.shape[:2]
    out = frame.copy()
    full_mask = np.zeros(frame.shape[:2], np.float32)
    inverse = invert(matrix)
    box = _footprint(inverse, (w, h), frame.shape[:2])
    if box is None:
        return out, full_mask
    x0, y0, x1, y1 = box
    local = inverse.copy()
    local[:, 2] -= (x0, y0)
    roi_size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(crop, local, roi_size, flags=_interpolation(local),
                            borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(crop_mask, local, roi_size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = np.clip(mask, 0.0, 1.0)
    if warped.ndim == 2:
        warped = warped[..., None]
    region = out[y0:y1, x0:x1]
    blended = region + (np.clip(warped, 0.0, 1.0) - region) * mask[..., None]
    out[y0:y1, x0:x1] = np.where(mask[..., None] > 0, blended, region)
    full_mask[y0:y1, x0:x1] = mask
    return out, full_mask
