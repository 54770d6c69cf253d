"""The 478-point landmarker: MediaPipe face mesh (468 points) + iris model (2 x 5 points).

MediaPipe's own 478-point model ("with attention") needs custom TFLite ops; the plain mesh
plus the iris model gives the same 478 points with standard ops only, so it runs anywhere
ONNX Runtime runs.  All faces of a frame go through each network in one batch.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ..vision import landmarks as lmk
from ..vision.face import Face
from ..vision.geometry import invert, transform_points
from .onnx import get_session
from .registry import ModelSpec, load_backend, resolve_files

MESH_SIZE = 192
IRIS_SIZE = 64


def _crops(frame: np.ndarray, rois, size: int, flips=None):
    """Rotated square crops (float32 0..1, ``[N, size, size, 3]``) and their frame->crop maps."""
    mats, crops = [], []
    for k, (center, side, angle) in enumerate(rois):
        m = lmk.rect_matrix(center, side, angle, size)
        if flips is not None and flips[k]:  # mirror the crop: x -> size - x
            m = np.array([[-1, 0, size], [0, 1, 0]], np.float32) @ np.vstack([m, [0, 0, 1]])
        mats.append(m.astype(np.float32))
        crops.append(cv2.warpAffine(frame, mats[-1], (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE))
    return np.stack(crops).astype(np.float32) / 255.0, mats


class FaceMeshLandmarker:
    """Places 478 landmarks on every face of a frame.

    ``refine=True`` runs the mesh a second time on a crop re-centred on the first mesh (as
    MediaPipe's tracker does between video frames), which corrects loose detector boxes.
    """

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        mesh_path, iris_path = resolve_files(spec, allow_download)
        self.mesh = get_session(mesh_path, device)
        self.iris = get_session(iris_path, device)

    def _run_mesh(self, frame, rois):
        crops, mats = _crops(frame, rois, MESH_SIZE)
        points, logits = self.mesh.run(None, {self.mesh.get_inputs()[0].name: crops})
        points = points.reshape(len(rois), 468, 3)
        scores = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
        return [transform_points(p, invert(m)) for p, m in zip(points, mats)], scores

    def _refine_eyes(self, frame, meshes):
        """Replace each mesh's eye contours with the iris model's and append the two irises
        (``[468, 3]`` -> ``[478, 3]``); the left-eye crop is mirrored, as MediaPipe does."""
        rois = [roi for mesh in meshes for roi in lmk.iris_rois(mesh)]
        crops, mats = _crops(frame, rois, IRIS_SIZE, flips=[False, True] * len(meshes))
        contours, irises = self.iris.run(None, {self.iris.get_inputs()[0].name: crops})
        contours, irises = contours.reshape(len(rois), 71, 3), irises.reshape(len(rois), 5, 3)
        out = []
        for k, mesh in enumerate(meshes):
            points, eyes = mesh.copy(), []
            for side, indices in enumerate((lmk.RIGHT_EYE_CONTOUR, lmk.LEFT_EYE_CONTOUR)):
                back = invert(mats[2 * k + side])
                idx = list(indices)
                points[idx, :2] = transform_points(contours[2 * k + side], back)[:, :2]
                iris = transform_points(irises[2 * k + side], back)
                iris[:, 2] = mesh[idx[:16], 2].mean()
                eyes.append(iris)
            out.append(np.concatenate([points, *eyes]))
        return out

    def presence(self, frame: np.ndarray, faces: tuple[Face, ...]) -> np.ndarray:
        """The mesh network's face-presence probability ``[N]`` for each detection's crop:
        a second opinion that rejects detector false positives (hands, patterns)."""
        if not faces:
            return np.zeros(0, np.float32)
        return self._run_mesh(frame, [lmk.mesh_roi_from_face(f) for f in faces])[1]

    def __call__(self, frame: np.ndarray, faces: tuple[Face, ...], refine: bool = False) -> tuple[Face, ...]:
        """Faces of one ``uint8`` RGB frame with landmarks, score, keypoints and pose filled."""
        if not faces:
            return ()
        meshes, scores = self._run_mesh(frame, [lmk.mesh_roi_from_face(f) for f in faces])
        if refine:
            meshes, scores = self._run_mesh(frame, [lmk.mesh_roi_from_landmarks(m) for m in meshes])
        out = []
        for face, points, score in zip(faces, self._refine_eyes(frame, meshes), scores):
            points[:, 2] -= points[:468, 2].mean()  # depth relative to the face centre
            out.append(face.with_(landmarks=points, landmark_score=float(score),
                                  keypoints=lmk.keypoints_from_mesh(points),
                                  pose=lmk.head_pose(points)))
        return tuple(out)


def load_landmarker(model_id: str, device: str = "auto", allow_download: Optional[bool] = None):
    """The landmarker for a manifest id of task ``landmarks``."""
    return load_backend(model_id, "landmarks", {"mediapipe_mesh": FaceMeshLandmarker}, device,
                        allow_download)
