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
RIGHT_EYE_CORNERS = (33, 133)             # outer, inner
LEFT_EYE_CORNERS = (263, 362)             # outer, inner
FOREHEAD, CHIN = 10, 152

MESH_ROI_SCALE = 1.5    # MediaPipe: face rect (detection or landmarks) grown 1.5x, square
IRIS_ROI_SCALE = 2.3    # MediaPipe: eye-corner distance grown 2.3x, square


def rect_matrix(center: np.ndarray, size: float, angle: float, out_size: int) -> np.ndarray:
    """Frame -> crop ``[2, 3]`` map of a square rect of side ``size`` px rotated by ``angle``
    (radians, the rect's x axis direction in the frame) onto an ``out_size`` crop."""
    s = out_size / max(size, 1e-6)
    c, n = math.cos(angle), math.sin(angle)
    rot = s * np.array([[c, n], [-n, c]])
    shift = np.array([out_size / 2, out_size / 2]) - rot @ np.asarray(center, np.float64)
    return np.hstack([rot, shift[:, None]]).astype(np.float32)


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
    angle = _angle(points[RIGHT_EYE_CORNERS[0]], points[LEFT_EYE_CORNERS[0]])
    c, n = math.cos(angle), math.sin(angle)
    local = points @ np.array([[c, -n], [n, c]])  # rotate into the eye-line frame
    lo, hi = local.min(0), local.max(0)
    mid = (lo + hi) / 2
    center = mid @ np.array([[c, n], [-n, c]])  # back to frame coordinates
    return center.astype(np.float32), MESH_ROI_SCALE * float((hi - lo).max()), angle


def iris_roi(landmarks: np.ndarray, corners: tuple[int, int]) -> tuple[np.ndarray, float, float]:
    """``(center, size, angle)`` of one eye's iris crop from its two corner landmarks."""
    a, b = landmarks[corners[0], :2], landmarks[corners[1], :2]
    start, end = (a, b) if a[0] <= b[0] else (b, a)
    return (a + b) / 2, IRIS_ROI_SCALE * float(np.linalg.norm(b - a)), _angle(start, end)


def keypoints_from_mesh(landmarks: np.ndarray) -> np.ndarray:
    """The 5 keypoints ``[5, 2]`` (iris centres, nose tip, mouth corners) from 478 landmarks."""
    return landmarks[[RIGHT_IRIS, LEFT_IRIS, NOSE_TIP, MOUTH_RIGHT, MOUTH_LEFT], :2].copy()


def head_pose(landmarks: np.ndarray) -> np.ndarray:
    """``[yaw, pitch, roll]`` in degrees from the 3D mesh (conventions in ``face.py``).

    The face frame is built from the outer eye corners (x axis) and the forehead -> chin line
    (y axis); the nose direction is the face's -z axis.  A frontal, upright face gives zeros.
    """
    p = landmarks[:, :3].astype(np.float64)
    ex = p[LEFT_EYE_CORNERS[0]] - p[RIGHT_EYE_CORNERS[0]]
    ex /= np.linalg.norm(ex) + 1e-9
    ey = p[CHIN] - p[FOREHEAD]
    ey -= ey.dot(ex) * ex
    ey /= np.linalg.norm(ey) + 1e-9
    nose = -np.cross(ex, ey)  # towards the camera for a frontal face
    yaw = math.degrees(math.atan2(nose[0], -nose[2]))
    pitch = math.degrees(math.atan2(nose[1], math.hypot(nose[0], nose[2])))
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    return np.array([yaw, pitch, roll], np.float32)
