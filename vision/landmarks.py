"""Geometry of the 478-point face mesh: crop regions, 5 keypoints and head pose.

Landmark indices are MediaPipe's (468 mesh points, then the subject's right iris 468-472 and
left iris 473-477, the centre first).  ``[N, 3]`` landmarks are ``x, y, z`` in frame pixels.
"""
from __future__ import annotations

import math

import numpy as np

from .face import Face

RIGHT_IRIS, LEFT_IRIS = 468, 473          # iris centres (the subject's sides)
NOSE_TIP = 1
MOUTH_RIGHT, MOUTH_LEFT = 61, 291         # mouth corners (the subject's sides)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
FOREHEAD, CHIN = 10, 152

# The iris model's 71 eye-contour and brow points replace these mesh points (MediaPipe's
# UpdateFaceLandmarksCalculator), for the right eye (33/133 crop) and the left eye
# (362/263 crop, mirrored).  The first 16 are the eye contour itself.
RIGHT_EYE_CONTOUR = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110,
    24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232,
    233, 244, 113, 225, 224, 223, 222, 221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118,
    119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107, 55, 193)
LEFT_EYE_CONTOUR = (
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255,
    339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449,
    450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413, 265, 353, 276, 283, 282, 295,
    372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293, 334, 296, 336, 285, 417)

MESH_ROI_SCALE = 1.5    # MediaPipe: face rect (detection or landmarks) grown 1.5x, square
IRIS_ROI_SCALE = 2.3    # MediaPipe: eye-corner distance grown 2.3x, square


def rect_matrix(center: np.ndarray, size: float, angle: float, out_size: int) -> np.ndarray:
    """Frame -> crop ``[2, 3]`` map of a square rect of side ``size`` px rotated by ``angle``
    (radians, the rect's x axis direction in the frame) onto an ``out_size`` crop (float32).
    Computed in Python floats (float64): six numbers do not pay for numpy calls."""
    s = out_size / max(size, 1e-6)
    a, b = s * math.cos(angle), s * math.sin(angle)  # rotation and scale: [[a, b], [-b, a]]
    cx, cy = float(center[0]), float(center[1])
    return np.array([[a, b, out_size / 2 - (a * cx + b * cy)],
                     [-b, a, out_size / 2 - (a * cy - b * cx)]], np.float32)


def _angle(start: np.ndarray, end: np.ndarray) -> float:
    return math.atan2(float(end[1] - start[1]), float(end[0] - start[0]))


def mesh_roi_from_face(face: Face) -> tuple[np.ndarray, float, float]:
    """``(center, size, angle)`` of the face-mesh crop from a detection (box + eye keypoints)."""
    size = MESH_ROI_SCALE * max(face.width, face.height)
    return face.center, size, _angle(face.keypoints[0], face.keypoints[1])


def mesh_roi_from_landmarks(landmarks: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(center, size, angle)`` of the face-mesh crop from a previous mesh (re-cropping).

    The rect is the mesh's bounding box in the frame of the eye line, as MediaPipe's tracker
    builds it, so a tilted head gets a tight, upright crop.
    """
    points = landmarks[:468, :2]
    angle = _angle(points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER])
    c, n = math.cos(angle), math.sin(angle)
    local = points @ np.array([[c, -n], [n, c]])  # rotate into the eye-line frame
    lo, hi = local.min(0), local.max(0)
    mid = (lo + hi) / 2
    center = mid @ np.array([[c, n], [-n, c]])  # back to frame coordinates
    return center.astype(np.float32), MESH_ROI_SCALE * float((hi - lo).max()), angle


def iris_rois(landmarks: np.ndarray) -> list[tuple[np.ndarray, float, float]]:
    """``(center, size, angle)`` of the right and the left eye's iris crops, each from its
    two corners ordered along the face's x axis (MediaPipe mirrors the left-eye crop)."""
    rois = []
    for start, end in ((RIGHT_EYE_OUTER, RIGHT_EYE_INNER), (LEFT_EYE_INNER, LEFT_EYE_OUTER)):
        a, b = landmarks[start, :2], landmarks[end, :2]
        rois.append(((a + b) / 2, IRIS_ROI_SCALE * float(np.linalg.norm(b - a)), _angle(a, b)))
    return rois


def keypoints_from_mesh(landmarks: np.ndarray) -> np.ndarray:
    """The 5 keypoints ``[5, 2]`` (iris centres, nose tip, mouth corners) from 478 landmarks."""
    return landmarks[[RIGHT_IRIS, LEFT_IRIS, NOSE_TIP, MOUTH_RIGHT, MOUTH_LEFT], :2].copy()


def head_pose(landmarks: np.ndarray) -> np.ndarray:
    """``[yaw, pitch, roll]`` in degrees from the 3D mesh (conventions in ``face.py``).

    The face frame is built from the outer eye corners (x axis) and the forehead -> chin line
    (y axis); the nose direction, ``-(x × y)``, is the face's -z axis.  A frontal, upright face
    gives zeros.  Only directions enter the angles, so neither axis needs normalising, and the
    y axis need not be square to x (its part along x drops out of the cross product).
    """
    (rx, ry, rz), (lx, ly, lz), (fx, fy, fz), (cx, cy, cz) = \
        landmarks[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER, FOREHEAD, CHIN], :3].tolist()  # Python floats:
    ex, ey = (lx - rx, ly - ry, lz - rz), (cx - fx, cy - fy, cz - fz)    # numpy on 3-vectors costs more
    nose = (ex[2] * ey[1] - ex[1] * ey[2], ex[0] * ey[2] - ex[2] * ey[0], ex[1] * ey[0] - ex[0] * ey[1])
    yaw = math.degrees(math.atan2(nose[0], -nose[2]))
    pitch = math.degrees(math.atan2(nose[1], math.hypot(nose[0], nose[2])))
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    return np.array([yaw, pitch, roll], np.float32)
