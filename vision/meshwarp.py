"""Mesh-warp face swap: the source face's texture warped over the 478-point mesh into a target
face's geometry, one dense remap per face.

* The mesh (``mesh_topology.TRIANGLES``) is rasterised once per target face into a triangle-index
  map of the face's box (nearest triangles drawn last); every pixel then maps to the source
  through its triangle's affine map, and the source is sampled with one ``cv2.remap``.
* Where the source shows the face foreshortened or hidden (head turned), the texture comes
  from the mirrored point on the other side of the face, *blended*: each landmark carries an
  own-texture and a mirror-texture weight (from how squarely the camera sees it and its
  mirror), the weights are interpolated linearly across every triangle, and the pixel is the
  weighted mean of the two warps.  Shared corners give shared weights, so texture stays
  continuous across triangle borders (no shards).  Where neither side is seen, the mask
  fades to the target.
* Triangles facing away from the camera in the target (folded over by a turned head) are
  not drawn: the ones in front cover what is visible.
* :func:`transfer_shape` moves the target mesh toward the source's face shape (identity).
* Keep masks leave the target's own eyes or mouth interior.

Landmarks are ``[478, 3]`` pixels (x, y, z; z grows away from the camera), origin at the top-left
pixel's corner.  Images are float32 ``[H, W, 3]`` in ``0..1``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from . import mesh_topology as topo
from .regions import region_mask

FACING_RANGE = (0.15, 0.5)
"""Cosines between a source landmark's normal and the camera: below the first (turned ~81
degrees away or more) its own texture is unusable, above the second (~60 degrees) it is
fully trusted.  In between, the texture of its mirror point takes over in proportion when
the mirror is seen better (by :data:`MIRROR_MARGIN` or more in cosine; a hidden point counts
as -1).  Where both points face the camera at a grazing angle or less (cosines in
:data:`VALID_RANGE`, hidden or not: the silhouette, where the source's pixels are its
outline and the background), the mask fades to the target.  Calibrated by
eye on the astronaut and Grace Hopper turned by +-30 and +-50 degrees with this module; the
turned-head tests assert on Obama 1 and Biden."""
MIRROR_MARGIN = 0.2
VALID_RANGE = (-0.05, 0.08)
HIDDEN_DEPTH = 0.04
"""A landmark is hidden when a triangle this much nearer (in face heights) covers it."""
SQUEEZE_MIN = 0.08
"""Eye and mouth hole triangles whose source texture is under this fraction of their
(scale-normalised) area are left to the target: stretching a sliver (closed lids, closed
lips) only smears."""
SUBPIXEL_BITS = 4
STABLE_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 10, 338, 297, 109, 67, 234, 454,
                 127, 356, 93, 323)
"""Rigid points (eye corners, nose, forehead, temples) used to align one mesh onto another."""
EXPRESSION_POINTS = np.unique(np.r_[topo.LIPS_OUTER, topo.LIPS_INNER, topo.RIGHT_EYE,
                                    topo.LEFT_EYE, topo.RIGHT_IRIS, topo.LEFT_IRIS, 468, 473])
"""Lips, eye contours and irises: where the target's expression lives."""
KEEP_FEATHER = 0.02
"""Soft edge of the keep-target masks, outside the kept region, as a fraction of the face's
height."""


def _mirror_triangles() -> np.ndarray:
    """For each triangle, the index of its mirror image (-1 where the mesh is not symmetric)."""
    index = {tuple(sorted(t)): k for k, t in enumerate(topo.TRIANGLES.tolist())}
    return np.array([index.get(tuple(sorted(topo.MIRROR[t])), -1) for t in topo.TRIANGLES])


MIRROR_TRIANGLES = _mirror_triangles()


def vertex_facing(points: np.ndarray) -> np.ndarray:
    """Cosine ``[N]`` between each landmark's normal and the direction to the camera: 1 facing
    it, 0 edge-on, < 0 turned away (0 for points outside the triangles, e.g. irises).

    Vertex normals are area-weighted sums of the adjacent triangles' normals, which tames
    the depth noise of small triangles.
    """
    p = points[topo.TRIANGLES].astype(np.float64)
    normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # length = 2 x area
    vertex = np.zeros((len(points), 3))
    for corner in range(3):
        np.add.at(vertex, topo.TRIANGLES[:, corner], normal)
    return -vertex[:, 2] / (np.linalg.norm(vertex, axis=1) + 1e-12)


def _box(points: np.ndarray, shape: tuple[int, int], pad: int = 1) -> Optional[tuple[int, ...]]:
    """Integer ``(x0, y0, x1, y1)`` around ``[N, 2]`` points, clipped to ``shape``, or None."""
    x0, y0 = np.floor(points.min(0)).astype(int) - pad
    x1, y1 = np.ceil(points.max(0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def rasterise(points: np.ndarray, triangles: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Triangle map ``[h, w]`` uint16 of ``box``: index + 1 of the triangle covering each pixel
    (0: none).

    ``points`` ``[N, 3]`` pixels; triangles are drawn far to near (by mean z), so where the mesh
    folds over itself the nearest one wins.  A pixel belongs to a triangle when its centre is
    covered (OpenCV's rule also takes edge pixels, so neighbours leave no gaps).
    """
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint16)
    corners = np.round((points[:, :2] - (x0 + 0.5, y0 + 0.5)) * (1 << SUBPIXEL_BITS)).astype(np.int32)
    depth = points[triangles, 2].mean(1)
    order = np.argsort(-depth, kind="stable")
    for k, poly in zip((order + 1).tolist(), corners[triangles[order]]):
        cv2.fillConvexPoly(canvas, poly, k, cv2.LINE_8, SUBPIXEL_BITS)
    return canvas


def _planes(dst: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-triangle linear interpolants ``[T, 3 K]``: for each of ``K`` values given at the
    corners (``values`` ``[T, 3, K]``), the coefficients ``(a, b, c)`` of ``a x + b y + c``
    over the ``dst`` triangles ``[T, 3, 2]`` (non-degenerate).  With the source corners as
    values these are the rows of the affine maps onto the source.  Closed form: with the
    edges ``u = p1 - p0``, ``v = p2 - p0`` and a value's changes ``fu``, ``fv`` along them,
    ``(a, b) = (fu v_y - fv u_y, fv u_x - fu v_x) / (u x v)``."""
    p0, u, v = dst[:, 0], dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]
    det = (u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])[:, None]
    fu, fv = values[:, 1] - values[:, 0], values[:, 2] - values[:, 0]
    a = (fu * v[:, 1:2] - fv * u[:, 1:2]) / det
    b = (fv * u[:, 0:1] - fu * v[:, 0:1]) / det
    c = values[:, 0] - a * p0[:, 0:1] - b * p0[:, 1:2]
    return np.stack([a, b, c], axis=2).reshape(len(dst), -1).astype(np.float32)


@dataclass(frozen=True)
class SourceFace:
    """A source face prepared once for warping onto any number of targets.

    Attributes:
        pyramid: the source image, float32 ``[H, W, 3]`` 0..1, then halvings (for small targets).
        landmarks: ``[478, 3]`` source pixels.
        weights: ``[478, 2]`` float64 per landmark: the weight of its own texture and of its
            mirror point's (``topo.MIRROR``); their sum (the mask) < 1 where neither is seen.
        size: the source face's height in pixels (forehead to chin).
    """

    pyramid: tuple[np.ndarray, ...]
    landmarks: np.ndarray
    weights: np.ndarray
    size: float

    @property
    def mirrored(self) -> bool:
        """Whether any landmark takes texture from its mirror point."""
        return bool((self.weights[:, 1] > 0).any())


def hidden_points(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``[478]`` bool: landmarks hidden behind the face itself (the nose hiding a cheek).

    A landmark is hidden when the plane of the nearest triangle covering its pixel passes in
    front of it by more than :data:`HIDDEN_DEPTH` face heights; the plane of a neighbouring
    triangle passes through or near the landmark itself.
    """
    box = _box(landmarks[:, :2], shape)
    if box is None:
        return np.ones(len(landmarks), bool)
    ids = rasterise(landmarks, topo.TRIANGLES, box)
    x0, y0, x1, y1 = box
    px = np.clip(np.floor(landmarks[:, :2]).astype(int) - (x0, y0), 0, (x1 - x0 - 1, y1 - y0 - 1))
    winner = ids[px[:, 1], px[:, 0]].astype(np.int64) - 1
    covered = winner >= 0
    corners = landmarks[topo.TRIANGLES[winner[covered]]].astype(np.float64)  # [V, 3, 3]
    plane = np.concatenate([corners[..., :2], np.ones(corners.shape[:2] + (1,))], axis=2)
    ok = np.abs(np.linalg.det(plane)) > 1e-6
    covered[covered] = ok
    coeffs = np.linalg.solve(plane[ok], corners[ok, :, 2, None])[..., 0]  # z = c.(x, y, 1)
    front = np.einsum("vi,vi->v", np.c_[landmarks[covered, :2], np.ones(covered.sum())], coeffs)
    hidden = np.zeros(len(landmarks), bool)
    hidden[covered] = front < landmarks[covered, 2] - HIDDEN_DEPTH * face_height(landmarks)
    return hidden


def smoothstep(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Smoothstep of ``x`` from 0 at ``bounds[0]`` to 1 at ``bounds[1]`` (falling when
    ``bounds[1] < bounds[0]``)."""
    t = np.clip((x - bounds[0]) / (bounds[1] - bounds[0]), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def prepare_source(image: np.ndarray, landmarks: np.ndarray, min_face: float = 48.0) -> SourceFace:
    """Everything per source, computed once: the own / mirror texture weights of every
    landmark (:data:`FACING_RANGE`) and an image pyramid down to a face of about
    ``min_face`` pixels.  ``image`` float32 ``[H, W, 3]`` 0..1."""
    landmarks = np.asarray(landmarks, np.float32)
    facing = vertex_facing(landmarks)
    seen = np.where(hidden_points(landmarks, image.shape[:2]), -1.0, facing)
    other = seen[topo.MIRROR]
    mirror = (1.0 - smoothstep(seen, FACING_RANGE)) * smoothstep(other - seen, (0.0, MIRROR_MARGIN))
    valid = smoothstep(np.maximum(facing, facing[topo.MIRROR]), VALID_RANGE)
    own, mirror = (1.0 - mirror) * valid, mirror * valid
    size = face_height(landmarks)
    pyramid = [np.ascontiguousarray(image, dtype=np.float32)]
    while size / 2 ** len(pyramid) >= min_face and min(pyramid[-1].shape[:2]) >= 32:
        pyramid.append(cv2.pyrDown(pyramid[-1]))
    return SourceFace(tuple(pyramid), landmarks, np.stack([own, mirror], 1), size)


def similarity_3d(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares ``(scale, rotation [3, 3], shift [3])`` with ``dst ~ scale * R @ src + shift``
    (Umeyama); ``src``, ``dst`` ``[N, 3]``."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    u, s, vt = np.linalg.svd((dst - md).T @ (src - ms) / len(src))
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / max(((src - ms) ** 2).sum() / len(src), 1e-12)
    return scale, rotation, md - scale * rotation @ ms


def transfer_shape(target: np.ndarray, source: np.ndarray, amount: float,
                   keep_expression: bool = True) -> np.ndarray:
    """The target mesh ``[478, 3]`` moved ``amount`` (0..1) of the way to the source's shape.

    The source mesh is aligned onto the target by a 3D similarity on :data:`STABLE_POINTS`
    (so pose and size stay the target's); each point then moves toward its aligned source
    position.  ``keep_expression`` leaves the lips, eye contours and irises where the target
    has them (the target's expression, and the pixels a keep-mask preserves, stay put).
    """
    target = np.asarray(target, np.float32)
    if amount <= 0:
        return target.copy()
    stable = list(STABLE_POINTS)
    scale, rotation, shift = similarity_3d(source[stable], target[stable])
    aligned = scale * np.asarray(source, np.float64) @ rotation.T + shift
    move = amount * (aligned - target)
    if keep_expression:
        move[EXPRESSION_POINTS] = 0.0
    return (target + move).astype(np.float32)


def _keep_mask(landmarks: np.ndarray, box: tuple[int, int, int, int], eyes: bool,
               mouth: bool) -> Optional[np.ndarray]:
    """Soft ``[h, w]`` mask (1: keep the target) of the eyes and/or inner mouth of the target
    ``landmarks`` in ``box``, or None when neither is kept."""
    regions = [r for r, on in (("eyes", eyes), ("mouth", mouth)) if on]
    if not regions:
        return None
    x0, y0, x1, y1 = box
    local = landmarks.copy()
    local[:, :2] -= (x0, y0)
    feather = KEEP_FEATHER * face_height(landmarks)
    return region_mask(local, (y1 - y0, x1 - x0), regions, grow=feather, blur=feather)


def _signed_area(points: np.ndarray) -> np.ndarray:
    """Signed areas ``[T]`` of triangles ``[T, 3, 2]`` (negative: facing the camera)."""
    u, v = (points[:, 1] - points[:, 0]).T, (points[:, 2] - points[:, 0]).T
    return (u[0] * v[1] - u[1] * v[0]).astype(np.float64) / 2


def _interpolate(c: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``a x + b y + c`` per pixel from plane coefficients ``c`` ``[h, w, 3]``."""
    out = c[..., 0] * xs
    out += c[..., 1] * ys
    out += c[..., 2]
    return out


@dataclass(frozen=True)
class WarpedFace:
    """The source warped into one target face's box ``(x0, y0, x1, y1)`` of the target frame:
    ``image`` float32 ``[h, w, 3]`` and ``mask`` float32 ``[h, w]`` (1 where the warp produced
    source pixels, soft toward kept target regions; 0 elsewhere, where ``image`` is undefined)."""

    box: tuple[int, int, int, int]
    image: np.ndarray
    mask: np.ndarray


def warp_face(source: SourceFace, target: np.ndarray, shape: tuple[int, int], *,
              keep_eyes: bool = False, keep_mouth: bool = True,
              keep_landmarks: Optional[np.ndarray] = None) -> Optional[WarpedFace]:
    """Warp ``source`` onto the target mesh ``target`` ``[478, 3]`` in a frame of ``shape``.

    Eye and mouth triangles the source cannot fill (squeezed to a sliver: a closed mouth or
    eye where the target's is open) are left to the target (mask 0); where the source sees
    neither a point nor its mirror, the mask fades to 0.
    ``keep_eyes`` / ``keep_mouth`` leave the target's eyes / inner mouth, outlined by
    ``keep_landmarks`` (the target's own landmarks when ``target`` is a shape-transferred
    mesh; default ``target``).  Returns None when the face lies outside the frame.
    """
    box = face_box(target, shape)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    ratio = face_height(target) / max(source.size, 1e-6)
    level = int(np.clip(np.floor(-np.log2(max(ratio, 1e-6))), 0, len(source.pyramid) - 1))
    src_pts = source.landmarks[:, :2].astype(np.float64) * 0.5 ** level - 0.5  # pixel centres
    dst_pts = target[:, :2].astype(np.float64) - (x0 + 0.5, y0 + 0.5)
    dst_tris = dst_pts[topo.TRIANGLES]
    area = -_signed_area(dst_tris)   # > 0: facing the camera in the target
    squeeze = np.abs(_signed_area(src_pts[topo.TRIANGLES])) * (ratio * 2 ** level) ** 2 \
        / np.maximum(area, 1e-9)
    drawn = area > 1e-3
    drawn[topo.HOLE_TRIANGLES] &= squeeze[topo.HOLE_TRIANGLES] > SQUEEZE_MIN
    tris = topo.TRIANGLES[drawn]
    mirror = source.mirrored
    values = [src_pts[tris]]                         # own texture: x, y
    if mirror:
        values += [src_pts[topo.MIRROR[tris]], source.weights[tris]]  # mirror x, y; weights
    coeffs = _planes(dst_tris[drawn], np.concatenate(values, axis=2))
    ids = rasterise(target, tris, box)
    coeffs = np.vstack([np.zeros((1, coeffs.shape[1]), np.float32), coeffs])
    c = np.take(coeffs, ids, axis=0)  # [h, w, 3 K]
    xs = np.arange(x1 - x0, dtype=np.float32)[None, :]
    ys = np.arange(y1 - y0, dtype=np.float32)[:, None]
    texture = source.pyramid[level]
    own_x, own_y = (_interpolate(c[..., 3 * k:3 * k + 3], xs, ys) for k in range(2))
    image = cv2.remap(texture, own_x, own_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = (ids > 0).astype(np.float32)
    if mirror:
        mir_x, mir_y, w_own, w_mirror = (_interpolate(c[..., 3 * k:3 * k + 3], xs, ys)
                                         for k in range(2, 6))
        flipped = cv2.remap(texture, mir_x, mir_y, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        total = np.maximum(w_own + w_mirror, 1e-6)
        share = np.clip(w_mirror / total, 0.0, 1.0)[..., None]
        image += (flipped - image) * share
        mask *= np.clip(total, 0.0, 1.0)
    keep = _keep_mask(target if keep_landmarks is None else keep_landmarks, box,
                      keep_eyes, keep_mouth)
    if keep is not None:
        mask *= 1.0 - keep
    return WarpedFace(box, image, mask)


def face_height(landmarks: np.ndarray) -> float:
    """Height of the face oval in pixels."""
    return float(np.ptp(landmarks[list(topo.FACE_OVAL), 1]))


def face_box(landmarks: np.ndarray, shape: tuple[int, int]) -> Optional[tuple[int, int, int, int]]:
    """The box :func:`warp_face` works in: the mesh's bounds clipped to the frame, or None."""
    return _box(landmarks[:, :2], shape)


def composite(frame: np.ndarray, warped: WarpedFace) -> None:
    """Lay ``warped`` over ``frame`` ``[H, W, 3]`` in place through its mask."""
    x0, y0, x1, y1 = warped.box
    region = frame[y0:y1, x0:x1]
    m = warped.mask[..., None]
    region += (warped.image - region) * m
