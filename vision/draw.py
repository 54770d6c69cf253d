"""Drawing found faces onto frames, so users see what the pipeline found."""
from __future__ import annotations

import cv2
import numpy as np

from .face import Face

# RGB colours (frames are RGB).
BOX = (0, 220, 90)
MESH = (255, 255, 255)
IRIS = (0, 200, 255)
KEYPOINTS = [(255, 60, 60), (60, 120, 255), (255, 220, 0), (255, 0, 255), (0, 255, 255)]


def draw_faces(frame: np.ndarray, faces: tuple[Face, ...], *, boxes: bool = True,
               landmarks: bool = True, keypoints: bool = True, labels: bool = True) -> np.ndarray:
    """Return a copy of ``frame`` (``uint8`` RGB ``[H, W, 3]``) with the faces drawn on it.

    Line widths and dot sizes follow the frame size so previews read well from 256 px to 4K.
    Labels show the face index in its frame, the detector score and, when known, the track id
    (marked "filled" on a frame where the face was lost and filled in) and the pose.
    """
    out = frame.copy()
    unit = max(1, round(max(frame.shape[:2]) / 512))
    for index, face in enumerate(faces):
        if boxes:
            x1, y1, x2, y2 = np.round(face.box).astype(int)
            cv2.rectangle(out, (x1, y1), (x2, y2), BOX, unit, cv2.LINE_AA)
        if landmarks and face.landmarks is not None:
            for k, (x, y) in enumerate(face.landmarks[:, :2]):
                color = IRIS if k >= 468 else MESH
                cv2.circle(out, (int(round(x)), int(round(y))), unit, color, -1, cv2.LINE_AA)
        if keypoints:
            for (x, y), color in zip(face.keypoints, KEYPOINTS):
                cv2.circle(out, (int(round(x)), int(round(y))), 2 * unit + 1, color, -1, cv2.LINE_AA)
        if labels:
            text = f"#{index} {face.score:.2f}"
            if face.track_id is not None:
                text += f" track {face.track_id}" + (" (filled)" if face.filled else "")
            if face.pose is not None:
                text += " yaw {:+.0f} pitch {:+.0f} roll {:+.0f}".format(*face.pose)
            origin = (int(face.box[0]), max(int(face.box[1]) - 4 * unit, 10 * unit))
            cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * unit, (0, 0, 0),
                        3 * unit, cv2.LINE_AA)
            cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * unit, BOX,
                        unit, cv2.LINE_AA)
    return out
