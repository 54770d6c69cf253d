"""No-reference quality of a face: how much real detail a face image carries, in ``0..1``.

The score answers "is this face good enough to paste its fine detail into another picture?"
(a swap source, an enhancement candidate).  It combines four measurements:

* **resolution** ``r = min(1, width / 128)`` -- the face's width in pixels *before* any
  resampling (detector box width); faces of 128 px and more count as full resolution.
* **sharpness** ``s`` -- on a size-normalised grey crop (the face framed like the ArcFace
  128 template but resampled to 192 x 192, so the face is about 120 px wide -- the width
  that counts as full resolution; central 3/4 kept) the ratio
  ``rho = std(I - G1*I) / std(I - G4*I)`` of the finest band (Gaussian sigma 1 px removed) to
  the band up to sigma 4 px.  It is contrast-free and, because the crop size is fixed, an
  upsampled small face (few real pixels per crop pixel) scores low however large it is --
  which is how a warped swap source, enlarged onto its target, is caught.
  ``s = clip((rho - 0.15) / (0.40 - 0.15), 0, 1)``.
* **noise** ``n`` -- Immerkaer's estimate of the noise sigma (grey levels 0..255) over the 30 %
  flattest pixels of the inner face at native resolution (at most a 256 x 256 patch);
  ``n = clip((sigma - 5) / (12 - 5), 0, 1)``.  Clean photos measure 1-4 (skin texture).
* **blockiness** ``b`` -- JPEG 8 x 8 blocking at native resolution: the mean absolute
  neighbour difference per column (row) phase modulo 8; the strongest phase over the median
  phase is ``beta`` (about 1.1-1.4 for clean and well-compressed photos, 2.5+ at quality 10).
  ``b = clip((beta - 1.3) / (2.5 - 1.3), 0, 1)``.

``quality = sqrt(r * s) * (1 - 0.5 n) * (1 - 0.5 b)``

Calibration set (``shared/testdata/lowres``, one Obama photo degraded; the ranges above were
fitted on it and ``tools/calibrate_quality.py`` prints its measurements; the tests assert on
other photos, Biden 1 and Obama 3, degraded the same way): quality, rho, beta and the face box
width: hr_gt 1.00 (0.43, 1.16, 279 px), lr_x4_bicubic 0.43 (0.24, 1.12, 70 px),
lr_x8_bicubic 0.06 (0.15, 1.30, 35 px), jpeg_q10 0.50 (0.40, 2.54, 280 px),
mixed_blur2_x4_noise8_jpeg30 0.30 (0.20, 1.49, 70 px), obama_240p 0.39 (0.24, 1.29, 58 px).
Other portraits: Grace Hopper 1.00, the astronaut 0.72 (94 px), Obama 2 0.92, Biden 0.98.
Held out (tests/test_quality.py): an x4 downscale enlarged back to full size scores 0.72
(Biden) and 0.61 (Obama 3) against 0.99 and 0.91 sharp, a weaker drop than on the
calibration set.
The noise term stays 0 on these (JPEG 30 wiped the added noise; measured 1.5); Gaussian noise
of sigma 15 on hr_gt gives n = 1.  Resolution weighs in on purpose: a sharp but blocky JPEG at
full size still carries more usable detail than a 35 px face.

Deterministic; about 1-2 ms per face on one CPU core.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from . import geometry

FULL_RESOLUTION = 128.0            # face width (px) that counts as full resolution
CROP = geometry.Template("arcface_128_v2", 192)   # the face about 120 px wide
SHARP_RANGE = (0.15, 0.40)         # rho mapped to 0..1
NOISE_RANGE = (5.0, 12.0)          # sigma (grey levels) mapped to 0..1
BLOCK_RANGE = (1.3, 2.5)           # beta mapped to 0..1
NOISE_PATCH = 256                  # largest native patch measured for noise
OVAL_FRAMING = (1.5, 0.06)         # crop side / sqrt(oval box area), upward centre shift / side
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass(frozen=True)
class Quality:
    """A face's quality score and the measurements it was made of.

    ``quality``, ``resolution``, ``sharpness``, ``noise``, ``blockiness`` are in ``0..1``
    (for ``noise`` and ``blockiness`` higher is worse); ``noise_sigma`` is in grey levels
    (0..255) and ``block_ratio`` is the raw ``beta`` of the module docstring.
    """

    quality: float
    resolution: float
    sharpness: float
    noise: float
    blockiness: float
    noise_sigma: float
    block_ratio: float

    def describe(self) -> str:
        """One line, e.g. ``0.57 (resolution 0.55, sharpness 0.59, noise 0.00, blockiness 0.00)``."""
        return (f"{self.quality:.2f} (resolution {self.resolution:.2f}, sharpness "
                f"{self.sharpness:.2f}, noise {self.noise:.2f}, blockiness {self.blockiness:.2f})")


def unit_ramp(value: float, bounds: tuple[float, float]) -> float:
    """0 at ``bounds[0]``, 1 at ``bounds[1]``, linear between, clipped."""
    return float(np.clip((value - bounds[0]) / (bounds[1] - bounds[0]), 0.0, 1.0))


def _grey(image: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` RGB or ``[H, W]`` grey (uint8, or float in 0..1) -> float32 0..255."""
    image = np.asarray(image)
    scale = 1.0 if image.dtype == np.uint8 else 255.0
    grey = image.astype(np.float32) * scale
    if grey.ndim == 3:
        grey = grey[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.ascontiguousarray(grey)


def sharpness_ratio(normalised: np.ndarray) -> float:
    """``rho`` of a square float grey crop framed like ``CROP`` (central 3/4 used)."""
    border = normalised.shape[0] // 8
    centre = normalised[border:-border, border:-border]
    fine = centre - cv2.GaussianBlur(centre, (0, 0), 1.0)
    broad = centre - cv2.GaussianBlur(centre, (0, 0), 4.0)
    return float(fine.std() / max(float(broad.std()), 1e-3))


def noise_sigma(native: np.ndarray, patch_size: Optional[int] = NOISE_PATCH) -> float:
    """Immerkaer noise sigma (grey levels) over the 30 % flattest pixels of a grey float32
    patch: the central ``patch_size`` square (None: the whole image).

    Measured on the scikit-image photos chelsea, coffee, camera and rocket with Gaussian noise
    added: within 0.2-0.7 grey levels of the true sigma from 5 to 20 (0.3-1.2 on the clean
    photos, whose fine texture reads as a little noise)."""
    h, w = native.shape
    size = max(h, w) if patch_size is None else patch_size
    y0, x0 = max((h - size) // 2, 0), max((w - size) // 2, 0)
    patch = native[y0:y0 + size, x0:x0 + size]
    if min(patch.shape) < 8:
        return 0.0
    residual = np.abs(cv2.filter2D(patch, -1, _IMMERKAER)[1:-1, 1:-1])
    gradient = np.abs(cv2.Sobel(patch, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(patch, cv2.CV_32F, 0, 1))
    gradient = gradient[1:-1, 1:-1]
    flat = gradient <= np.percentile(gradient, 30)
    # |residual| of unit Gaussian noise has mean 6 * sqrt(2/pi) (the kernel's L2 norm is 6).
    return float(np.sqrt(np.pi / 2) / 6.0 * residual[flat].mean())


def block_ratio(native: np.ndarray) -> float:
    """``beta``: JPEG 8 x 8 blocking of a grey patch at its native pixel grid (1 when none)."""
    def strongest_phase(diffs: np.ndarray) -> float:
        n = diffs.size // 8 * 8
        if n < 16:
            return 1.0
        phases = diffs[:n].reshape(-1, 8).mean(0)
        top = float(phases.max())
        return top / max(float(np.median(phases)), 1e-3) if top > 1e-3 else 1.0   # flat: none
    if min(native.shape) < 2:
        return 1.0
    columns = np.abs(np.diff(native, axis=1)).mean(0)
    rows = np.abs(np.diff(native, axis=0)).mean(1)
    return 0.5 * (strongest_phase(columns) + strongest_phase(rows))


def score(normalised: np.ndarray, native: np.ndarray, face_width: float) -> Quality:
    """Combine the measurements (module docstring) into a :class:`Quality`.

    Args:
        normalised: ``[192, 192]`` float32 grey crop (0..255) framed like ``CROP``.
        native: float32 grey patch (0..255) of the inner face at the source's own pixel grid.
        face_width: the face's width in source pixels.
    """
    rho = sharpness_ratio(normalised)
    sigma = noise_sigma(native)
    beta = block_ratio(native)
    r = float(np.clip(face_width / FULL_RESOLUTION, 0.0, 1.0))
    s, n, b = unit_ramp(rho, SHARP_RANGE), unit_ramp(sigma, NOISE_RANGE), unit_ramp(beta, BLOCK_RANGE)
    q = np.sqrt(r * s) * (1.0 - 0.5 * n) * (1.0 - 0.5 * b)
    return Quality(float(q), r, s, n, b, sigma, beta)


def _inner(image: np.ndarray, box) -> np.ndarray:
    """Grey float32 (0..255) of the central 60 % of an ``x1, y1, x2, y2`` box, clipped."""
    x0, y0, x1, y1 = (float(v) for v in box)
    dx, dy = 0.2 * (x1 - x0), 0.2 * (y1 - y0)
    h, w = image.shape[:2]
    xa, ya = int(np.clip(x0 + dx, 0, w)), int(np.clip(y0 + dy, 0, h))
    xb, yb = int(np.clip(x1 - dx, 0, w)), int(np.clip(y1 - dy, 0, h))
    return _grey(image[ya:yb, xa:xb])


def _normalised(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return _grey(geometry.warp_crop(image, matrix, (CROP.size, CROP.size)))


def face_quality(frame: np.ndarray, keypoints: np.ndarray, box: np.ndarray,
                 face_width: Optional[float] = None) -> Quality:
    """Quality of one face in a frame.

    Args:
        frame: ``[H, W, 3]`` RGB (uint8, or float in 0..1), the frame the face was found on.
        keypoints: ``[5, 2]`` pixels (order of ``face.py``), used to cut the normalised crop.
        box: ``[4]`` ``x1, y1, x2, y2`` detector box in pixels; its width is the resolution
            unless ``face_width`` is given (e.g. the captured width of an upscaled face).
    """
    matrix = geometry.similarity_transform(keypoints, CROP.points)
    width = float(box[2] - box[0]) if face_width is None else float(face_width)
    return score(_normalised(frame, matrix), _inner(frame, box), width)


def oval_quality(image: np.ndarray, box) -> Quality:
    """Quality of the face whose oval (forehead to chin, cheek to cheek) fills ``box``.

    For images without keypoints, e.g. a swap source already warped onto the target, where
    ``box`` is the bounding box of the face mask.  The normalised crop is framed from the box
    as the ArcFace template frames a face: side ``1.5 * sqrt(box_w * box_h)``, centred
    ``0.06 * side`` above the box centre.  ``box_w`` counts as the face width, so a source
    that was upsampled by the warp is caught by its sharpness, not its resolution.

    Args:
        image: ``[H, W, 3]`` RGB (uint8, or float in 0..1).
        box: ``x1, y1, x2, y2`` pixels.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    width, height = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    side = OVAL_FRAMING[0] * np.sqrt(width * height)
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2 - OVAL_FRAMING[1] * side
    scale = CROP.size / side
    matrix = np.array([[scale, 0, CROP.size / 2 - scale * centre_x],
                       [0, scale, CROP.size / 2 - scale * centre_y]], np.float32)
    return score(_normalised(image, matrix), _inner(image, box), width)


def crop_quality(crop: np.ndarray, face_width: Optional[float] = None) -> Quality:
    """Quality of an aligned face crop framed like Align Faces' ArcFace templates.

    Args:
        crop: ``[h, w, 3]`` RGB or ``[h, w]`` grey (uint8, or float in 0..1).  Other framings
            (e.g. FFHQ, where the face fills half the crop) shift the sharpness term.
        face_width: the face's width in the pixels it was captured at; None uses the crop's
            width.  Noise and blockiness are measured on the crop's own pixel grid, so they
            are exact for unresampled crops and weakened by resampling.
    """
    h, w = crop.shape[:2]
    scale = CROP.size / w
    matrix = np.array([[scale, 0, 0], [0, CROP.size / h, 0]], np.float32)
    return score(_normalised(crop, matrix), _inner(crop, (0, 0, w, h)),
                 float(w if face_width is None else face_width))


POSE_OFFSET = 0.5
"""Nose offset from the eyes' midpoint, in eye distances, at which the pose term reaches 0."""


def pose_frontality(keypoints: np.ndarray) -> float:
    """How frontal a face is, ``0..1``, from its 5 keypoints: ``1 - |offset| / 0.5`` where
    ``offset`` is the nose tip's distance from the perpendicular through the eyes' midpoint
    (in eye distances; about 0.3 at 45 degrees of yaw) -- clipped at 0."""
    kps = np.asarray(keypoints, np.float64)
    eyes = kps[1] - kps[0]
    distance = max(float(np.linalg.norm(eyes)), 1e-6)
    offset = float(np.dot(kps[2] - (kps[0] + kps[1]) / 2, eyes / distance)) / distance
    return float(np.clip(1.0 - abs(offset) / POSE_OFFSET, 0.0, 1.0))


def frame_score(measured: Quality, frontality: float) -> float:
    """Rank of one sighting for a reviewer, ``0..1``:
    ``sqrt(r * (0.25 + 0.75 s)) * (1 - 0.5 n) * (1 - 0.5 b) * (0.5 + 0.5 p)`` with the
    :class:`Quality` terms ``r, s, n, b`` and the frontality ``p``.  Unlike ``quality`` (which
    is 0 for any face without fine detail) it keeps ranking tiny faces by size, noise,
    blocking and pose; a sharp, large, clean, frontal face scores 1, a profile at most half."""
    detail = measured.resolution * (0.25 + 0.75 * measured.sharpness)
    return float(np.sqrt(detail) * (1.0 - 0.5 * measured.noise) * (1.0 - 0.5 * measured.blockiness)
                 * (0.5 + 0.5 * float(frontality)))
