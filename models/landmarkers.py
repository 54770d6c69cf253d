"""The 478-point landmarker: MediaPipe face mesh (468 points) + iris model (2 x 5 points).

MediaPipe's own 478-point model ("with attention") needs custom TFLite ops; the plain mesh
plus the iris model gives the same 478 points with standard ops only, so it runs anywhere
ONNX Runtime runs.  All faces of a frame go through each network together: the mesh crops
through :func:`models.onnx.run_split` (side by side on the CPU cores, one batched call on a
GPU), the two eye crops of every face through the iris network in one batched call (on the
2-core bench machine that cost 0.3-0.5 ms less CPU per face than two calls side by side, with
the same or lower wall time, and the same outputs bit for bit; ``bench/results_faces.md``).

A crop region ("roi") is ``(center [2], side px, angle rad)`` of a rotated square in the frame
(``vision.landmarks``): from a detection (:func:`~vision.landmarks.mesh_roi_from_face`) or from
the previous frame's landmarks (:func:`~vision.landmarks.mesh_roi_from_landmarks`, tracking).
"""
from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

from ..vision import landmarks as lmk
from ..vision.face import Face
from ..vision.image import clip_unit
from .onnx import SMALL_GRAPH_THREADS, get_session, run_split
from .registry import ModelSpec, load_backend, resolve_files

MESH_SIZE = 192
IRIS_SIZE = 64
EYE_CONTOURS = np.array([lmk.RIGHT_EYE_CONTOUR, lmk.LEFT_EYE_CONTOUR])
"""The mesh points ``[2, 71]`` the iris model's contours replace (right eye, left eye)."""


def _crops(frame: np.ndarray, rois, size: int, flips=None) -> tuple[np.ndarray, np.ndarray]:
    """Rotated square crops ``[N, size, size, 3]`` float32 0..1 of a frame (``uint8``, or float32
    0..1), and the crop->frame maps ``[N, 2, 3]`` (the crops are warped on the frame as it is,
    then scaled and clipped to 0..1).

    Each crop's source rectangle (every bilinear tap, clipped to the frame) is first copied
    out of the frame row by row, and the warp reads that copy: warping straight from a large
    frame that is not in the CPU caches (the usual case: the letterbox read the whole frame
    before) cost 1.4 ms for a 192 px crop of a 720p frame, against 0.4 ms to copy the
    rectangle and 0.3 ms to warp it.  Same pixels, bit for bit: OpenCV gets the same float32
    map shifted by the rectangle's whole-pixel offset (in float64), and frame borders are
    replicated as before.  The maps are worked out in Python floats: numpy calls on a few
    numbers cost more than the arithmetic, and more still right after a network has run (the
    network evicts their code and data from the CPU caches: 0.4 ms for two eye crops then,
    against 0.1 ms when warm)."""
    height, width = frame.shape[:2]
    batch = np.empty((len(rois), size, size, 3), frame.dtype)
    back = []
    for k, (center, side, angle) in enumerate(rois):
        (a, b, c), (d, e, f) = lmk.rect_matrix(center, side, angle, size).tolist()
        if flips is not None and flips[k]:  # mirror the crop: x -> size - x
            a, b, c = -a, -b, size - c
        det = a * e - b * d  # the inverse map, crop -> frame
        inverse = [[e / det, -b / det, (b * f - c * e) / det],
                   [-d / det, a / det, (c * d - a * f) / det]]
        back.append(inverse)
        xs, ys = ([m[0] * u + m[1] * v + m[2] for u in (0, size - 1) for v in (0, size - 1)]
                  for m in inverse)  # where the crop's corner pixels read the frame
        x0, y0 = max(math.floor(min(xs)) - 2, 0), max(math.floor(min(ys)) - 2, 0)
        x1, y1 = min(math.ceil(max(xs)) + 3, width), min(math.ceil(max(ys)) + 3, height)
        c = float(np.float32(c))  # the float32 map OpenCV always got
        source = frame
        if x0 < x1 and y0 < y1:  # not wholly outside the frame: read the copied rectangle
            source = np.ascontiguousarray(frame[y0:y1, x0:x1])
            c, f = c + (a * x0 + b * y0), f + (d * x0 + e * y0)  # exact products and sums
        cv2.warpAffine(source, np.array([[a, b, c], [d, e, f]]), (size, size), dst=batch[k],
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    back = np.array(back, np.float64).reshape(len(rois), 2, 3)
    if batch.dtype == np.uint8:
        return batch.astype(np.float32) * np.float32(1 / 255), back
    return clip_unit(batch.astype(np.float32, copy=False)), back


def _to_frame(points: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Crop points ``[N, P, 3]`` -> frame pixels with the crop->frame maps ``[N, 2, 3]``
    (x, y mapped; z scaled like x and y)."""
    x, y = points[..., 0].astype(np.float64), points[..., 1].astype(np.float64)
    m = back[:, :, :, None]  # each map entry against all P points
    out = np.empty(points.shape, np.float32)
    out[..., 0] = x * m[:, 0, 0] + y * m[:, 0, 1] + m[:, 0, 2]
    out[..., 1] = x * m[:, 1, 0] + y * m[:, 1, 1] + m[:, 1, 2]
    scale = np.sqrt(np.abs(m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]))
    out[..., 2] = points[..., 2] * scale
    return out


class FaceMeshLandmarker:
    """Places 478 landmarks on faces of an RGB frame ``[H, W, 3]`` (``uint8``, or float32 0..1).

    ``refine=True`` runs the mesh a second time on a crop re-centred on the first mesh (as
    MediaPipe's tracker does between video frames), which corrects loose detector boxes.
    """

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        mesh_path, iris_path = resolve_files(spec, allow_download)
        self.mesh_session = get_session(mesh_path, device, threads=SMALL_GRAPH_THREADS)
        self.iris_session = get_session(iris_path, device, threads=SMALL_GRAPH_THREADS)
        self._mesh_input = self.mesh_session.get_inputs()[0].name
        self._iris_input = self.iris_session.get_inputs()[0].name

    def mesh(self, frame: np.ndarray, rois) -> tuple[np.ndarray, np.ndarray]:
        """The 468-point mesh in each crop region: points ``[N, 468, 3]`` in frame pixels
        (z in the crop's scale, not yet centred) and face-presence probabilities ``[N]``."""
        if not len(rois):
            return np.zeros((0, 468, 3), np.float32), np.zeros(0, np.float32)
        crops, back = _crops(frame, rois, MESH_SIZE)
        points, logits = run_split(self.mesh_session, self._mesh_input, crops)
        scores = 1.0 / (1.0 + np.exp(-logits.reshape(-1).astype(np.float64)))
        return _to_frame(points.reshape(len(rois), 468, 3), back), scores.astype(np.float32)

    def refine_eyes(self, frame: np.ndarray, meshes: np.ndarray) -> np.ndarray:
        """Meshes ``[N, 468, 3]`` -> ``[N, 478, 3]``: each eye's contour replaced by the iris
        model's and the two irises appended (the left-eye crop is mirrored, as MediaPipe does);
        the 2N eye crops of all faces run in one batched call."""
        rois = [roi for mesh in meshes for roi in lmk.iris_rois(mesh)]
        crops, back = _crops(frame, rois, IRIS_SIZE, flips=[False, True] * len(meshes))
        contours, irises = self.iris_session.run(None, {self._iris_input: crops})
        eyes = _to_frame(np.concatenate([contours.reshape(len(rois), 71, 3),
                                         irises.reshape(len(rois), 5, 3)], axis=1), back)
        eyes = eyes.reshape(len(meshes), 2, 76, 3)  # face, side (right, left), point
        out = np.empty((len(meshes), 478, 3), np.float32)
        out[:, :468] = meshes
        out[:, EYE_CONTOURS, :2] = eyes[:, :, :71, :2]
        irises = eyes[:, :, 71:]
        irises[..., 2] = meshes[:, EYE_CONTOURS[:, :16], 2].mean(2)[..., None]
        out[:, 468:] = irises.reshape(len(meshes), 10, 3)
        return out

    def landmarks(self, frame: np.ndarray, rois, refine: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """478 landmarks ``[N, 478, 3]`` (frame pixels, z relative to the face centre) and
        face-presence probabilities ``[N]`` for faces in the given crop regions (the entry
        point for tracking: regions from the previous frame's landmarks)."""
        meshes, scores = self.mesh(frame, rois)
        if refine and len(meshes):
            meshes, scores = self.mesh(frame, [lmk.mesh_roi_from_landmarks(m) for m in meshes])
        return self._finish(frame, meshes), scores

    def _finish(self, frame: np.ndarray, meshes: np.ndarray) -> np.ndarray:
        if not len(meshes):
            return np.zeros((0, 478, 3), np.float32)
        points = self.refine_eyes(frame, meshes)
        points[:, :, 2] -= points[:, :468, 2].mean(1, keepdims=True)  # depth relative to the face
        return points

    def presence(self, frame: np.ndarray, faces: tuple[Face, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The mesh network's face-presence probability ``[N]`` for each detection's crop (a
        second opinion that rejects detector false positives: hands, patterns), and the
        meshes ``[N, 468, 3]`` it placed there (kept on the faces as ``Face.mesh`` so that
        landmarking does not run the mesh again)."""
        meshes, scores = self.mesh(frame, [lmk.mesh_roi_from_face(f) for f in faces])
        return scores, meshes

    def __call__(self, frame: np.ndarray, faces: tuple[Face, ...], refine: bool = False) -> tuple[Face, ...]:
        """Faces of one RGB frame (``uint8`` or float32 0..1) with landmarks, score, keypoints
        and pose filled.

        Faces that carry the mesh of their verification (``Face.mesh``, same box) reuse it
        unless ``refine``."""
        if not faces:
            return ()
        if not refine and all(f.mesh is not None for f in faces):
            meshes = np.stack([f.mesh for f in faces])
            scores = np.array([f.landmark_score for f in faces], np.float32)
            points = self._finish(frame, meshes)
        else:
            points, scores = self.landmarks(frame, [lmk.mesh_roi_from_face(f) for f in faces], refine)
        return tuple(face.with_(landmarks=p, landmark_score=float(s),
                                keypoints=lmk.keypoints_from_mesh(p), pose=lmk.head_pose(p))
                     for face, p, s in zip(faces, points, scores))


def load_landmarker(model_id: str, device: str = "auto", allow_download: Optional[bool] = None):
    """The landmarker for a manifest id of task ``landmarks``."""
    return load_backend(model_id, "landmarks", {"mediapipe_mesh": FaceMeshLandmarker}, device,
                        allow_download)
