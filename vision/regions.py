"""Face-region masks from the 478 landmarks: oval (with forehead), skin, eyes, brows, nose, lips,
inner mouth; combined by adding and subtracting regions, grown or shrunk, and blurred.

Masks are float32 ``[H, W]`` in ``0..1``.  Landmarks are ``[478, 2+]`` pixels of the canvas the
mask is drawn on (a frame, or an aligned crop after :func:`geometry.transform_points`).
Each face is drawn, grown and blurred inside its own padded box only, so a small face in a 4K
frame costs about as much as in a small one.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np

from . import mesh_topology as topo
from .face import Face
from .geometry import transform_points

REGIONS = ("face", "skin", "eyes", "brows", "nose", "lips", "mouth")
"""face: the mesh's oval extended over the forehead; skin: face minus eyes, brows, lips and
mouth; eyes: both eye openings; brows; nose: hull of bridge and wings; lips: the lip ring
(outer minus inner contour); mouth: the inner mouth (teeth, tongue) inside the inner lips."""

DEFAULT_FOREHEAD = 0.15
SUBPIXEL_BITS = 4  # cv2.fillPoly ``shift``: polygons drawn with 1/16 px precision


def forehead_oval(landmarks: np.ndarray, forehead: float) -> np.ndarray:
    """The face oval ``[36, 2]`` with its upper part raised by ``forehead`` x face height.

    The mesh stops about at the top of the forehead; each oval point above the eye line moves
    "up" (perpendicular to the eye line) by ``forehead * height * smoothstep(h)``, where ``h`` is
    its height above the eye line relative to the oval's top (0 at the eye line, 1 at the top).
    """
    oval = landmarks[list(topo.FACE_OVAL), :2].astype(np.float64)
    if forehead <= 0:
        return oval.astype(np.float32)
    eye_line = landmarks[topo.LEFT_EYE[0], :2] - landmarks[topo.RIGHT_EYE[0], :2]
    eye_line = eye_line / (np.linalg.norm(eye_line) + 1e-9)
    up = np.array([eye_line[1], -eye_line[0]])
    centre = (landmarks[topo.LEFT_EYE[0], :2] + landmarks[topo.RIGHT_EYE[0], :2]) / 2
    height = np.linalg.norm(landmarks[topo.FACE_OVAL[0], :2] - landmarks[152, :2])
    above = (oval - centre) @ up
    h = np.clip(above / max(above.max(), 1e-6), 0.0, 1.0)
    lift = forehead * height * h * h * (3 - 2 * h)
    return (oval + lift[:, None] * up).astype(np.float32)


def _polygons(landmarks: np.ndarray, region: str, forehead: float) -> list[np.ndarray]:
    """Filled outlines ``[K, 2]`` of one basic region (``lips`` is the outer contour)."""
    pts = lambda idx: landmarks[list(idx), :2].astype(np.float32)
    if region == "face":
        return [forehead_oval(landmarks, forehead)]
    if region == "eyes":
        return [pts(topo.RIGHT_EYE), pts(topo.LEFT_EYE)]
    if region == "brows":
        return [pts(topo.RIGHT_BROW), pts(topo.LEFT_BROW)]
    if region == "nose":
        return [cv2.convexHull(pts(topo.NOSE))[:, 0]]
    if region == "lips":
        return [pts(topo.LIPS_OUTER)]
    if region == "mouth":
        return [pts(topo.LIPS_INNER)]
    raise ValueError(f"unknown face region {region!r}; choose from {', '.join(REGIONS)}")


def _fill(canvas: np.ndarray, polygons: list[np.ndarray], origin: np.ndarray, value: int) -> None:
    """Fill ``polygons`` (pixel-corner coordinates) into ``canvas`` whose pixel (0, 0) sits at
    ``origin`` of the polygons' frame."""
    scale = 1 << SUBPIXEL_BITS
    fixed = [np.round((p - origin - 0.5) * scale).astype(np.int32) for p in polygons]
    cv2.fillPoly(canvas, fixed, value, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)


def _draw_region(canvas: np.ndarray, landmarks: np.ndarray, region: str, origin: np.ndarray,
                 forehead: float, value: int) -> None:
    """Draw one region (composite regions subtract their holes) with ``value`` on ``canvas``."""
    if region == "skin":
        _fill(canvas, _polygons(landmarks, "face", forehead), origin, value)
        holes = [p for r in ("eyes", "brows", "lips") for p in _polygons(landmarks, r, forehead)]
        _fill(canvas, holes, origin, 0)
    elif region == "lips":
        _fill(canvas, _polygons(landmarks, "lips", forehead), origin, value)
        _fill(canvas, _polygons(landmarks, "mouth", forehead), origin, 0)
    else:
        _fill(canvas, _polygons(landmarks, region, forehead), origin, value)


def _refine(mask: np.ndarray, grow: float, blur: float) -> np.ndarray:
    """Grow (``grow`` > 0) or shrink (< 0) a ``0/1`` uint8 mask by ``|grow|`` px with an
    elliptical kernel, then Gaussian-blur it (``blur`` px: kernel radius, sigma = blur / 2)."""
    radius = int(round(abs(grow)))
    if radius:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = (cv2.dilate if grow > 0 else cv2.erode)(mask, kernel)
    out = mask.astype(np.float32)
    if blur > 0:
        k = 2 * int(np.ceil(blur)) + 1
        out = cv2.GaussianBlur(out, (k, k), blur / 2, borderType=cv2.BORDER_CONSTANT)
    return out


def region_mask(landmarks: np.ndarray, shape: tuple[int, int], add: Sequence[str],
                subtract: Sequence[str] = (), *, grow: float = 0.0, blur: float = 0.0,
                forehead: float = DEFAULT_FOREHEAD, out: np.ndarray | None = None) -> np.ndarray:
    """Mask ``[H, W]`` (``shape``) of one face: union of ``add`` minus union of ``subtract``.

    Args:
        landmarks: ``[478, 2+]`` pixels of the canvas.
        add, subtract: names from :data:`REGIONS`.
        grow: px to dilate (> 0) or erode (< 0) the combined mask.
        blur: feather px (Gaussian kernel radius; sigma = blur / 2).
        forehead: how far the face oval reaches above the mesh, in face heights.
        out: optional ``[H, W]`` float32 mask to merge into (maximum); returned.
    """
    out = np.zeros(shape, np.float32) if out is None else out
    if not add:
        return out
    polygons = [p for r in add for p in _polygons(landmarks, "face" if r == "skin" else r,
                                                  forehead)]
    pad = abs(grow) + 2 * blur + 2
    x0, y0 = np.floor(np.min([p.min(0) for p in polygons], 0) - pad).astype(int)
    x1, y1 = np.ceil(np.max([p.max(0) for p in polygons], 0) + pad).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    if x1 <= x0 or y1 <= y0:
        return out
    origin = np.array([x0, y0], np.float32)
    local = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for region in add:
        _draw_region(local, landmarks, region, origin, forehead, 1)
    for region in subtract:
        cut = np.zeros_like(local)
        _draw_region(cut, landmarks, region, origin, forehead, 1)
        local[cut > 0] = 0
    np.maximum(out[y0:y1, x0:x1], _refine(local, grow, blur), out=out[y0:y1, x0:x1])
    return out


def faces_region_mask(faces: Iterable[Face], shape: tuple[int, int], add: Sequence[str],
                      subtract: Sequence[str] = (), **options) -> np.ndarray:
    """Mask ``[H, W]`` of every face of a frame (maximum over faces; zeros when none).

    Raises ``ValueError`` for a face without landmarks.  ``options``: see :func:`region_mask`.
    """
    out = np.zeros(shape, np.float32)
    for face in faces:
        if face.landmarks is None:
            raise ValueError("region masks need 478 landmarks: connect Face Landmarks")
        region_mask(face.landmarks, shape, add, subtract, out=out, **options)
    return out


def crop_region_mask(face: Face, add: Sequence[str], subtract: Sequence[str] = (),
                     **options) -> np.ndarray:
    """Mask ``[h, w]`` in the face's aligned crop (``face.matrix``, ``face.crop_size``), e.g.
    for Paste Faces Back's crop_mask.  ``grow``/``blur`` are in crop pixels."""
    if face.landmarks is None or face.matrix is None:
        raise ValueError("crop masks need faces with landmarks and an alignment matrix: "
                         "connect the FACES output of Align Faces (after Face Landmarks)")
    w, h = face.crop_size
    return region_mask(transform_points(face.landmarks, face.matrix), (h, w), add, subtract,
                       **options)
