"""The visible face from learned masks (XSeg occlusion, BiSeNet face parsing), in image space.

A model (``models.maskers.FaceMasker``: a callable on an aligned crop) sees the face cut out
with the similarity that maps the face's 5 mesh keypoints onto its template; its answer is
turned into "this pixel is the face's own skin or feature" (1) or not (0) and warped back:

* XSeg (occlusion): its output is that probability already.
* BiSeNet (parsing): classes :data:`FACE_CLASSES` (skin, brows, eyes, nose, mouth, lips) are
  the face; hair, hat, glasses, ears, neck, cloth, background are not.

Several models combine by the minimum (what any of them sees covering the face covers it), as
FaceFusion combines its masks.  Images are float32 ``[H, W, 3]`` RGB 0..1; landmarks
``[478, 2+]`` pixels of the same image.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from .geometry import Template, similarity_transform, warp_crop
from .landmarks import keypoints_from_mesh

CLASSES = ("background", "skin", "left_brow", "right_brow", "left_eye", "right_eye",
           "glasses", "left_ear", "right_ear", "earring", "nose", "mouth", "upper_lip",
           "lower_lip", "neck", "necklace", "cloth", "hair", "hat")
"""face-parsing.PyTorch's 19 CelebAMask-HQ classes, in the order of BiSeNet's output."""
FACE_CLASSES = (1, 2, 3, 4, 5, 10, 11, 12, 13)
"""The face's own skin and features (glasses are not: a source's frames must not travel, a
target's stay in front)."""
EDGE = 0.01
"""Feather of a model's mask, in crop widths (as FaceFusion blurs by 5 px at 512); only the
top quarter of the blurred ramp counts as face, so the face shrinks by about 2/3 of this
(and fades over 3 times it): what covers it grows over its own soft, mixed edge pixels."""


def crop_matrix(landmarks: np.ndarray, template: str, size: int) -> np.ndarray:
    """The image -> crop ``[2, 3]`` similarity aligning the face's mesh keypoints to
    ``template`` at ``size`` px."""
    return similarity_transform(keypoints_from_mesh(landmarks), Template(template, size).points)


def _face_probability(masker, crop: np.ndarray) -> np.ndarray:
    """float32 ``[S, S]``: the model's own-face probability on ``crop``, feathered (:data:`EDGE`)
    so that its border falls inside the face."""
    out = masker(crop)
    if masker.kind == "parsing":
        out = np.isin(out, FACE_CLASSES).astype(np.float32)
    out = cv2.GaussianBlur(out, (0, 0), max(EDGE * masker.size, 0.5))
    return np.clip(4.0 * out - 3.0, 0.0, 1.0)


def visible_face(image: np.ndarray, landmarks: np.ndarray, maskers: Sequence,
                 box: Optional[tuple[int, int, int, int]] = None) -> np.ndarray:
    """float32 ``[h, w]`` 0..1 over ``box`` ``(x0, y0, x1, y1)`` of ``image`` (default: all of
    it): 1 where every model sees the face's own skin or features, 0 where one sees something
    else (a hand, hair, glasses, background).  Outside the models' crops: 1."""
    x0, y0, x1, y1 = box or (0, 0, image.shape[1], image.shape[0])
    out = np.ones((y1 - y0, x1 - x0), np.float32)
    for masker in maskers:
        matrix = crop_matrix(landmarks, masker.template, masker.size)
        crop = np.clip(warp_crop(np.ascontiguousarray(image[..., :3], np.float32), matrix,
                                 (masker.size, masker.size)), 0.0, 1.0)
        local = matrix.copy()   # box pixel -> crop pixel
        local[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float32)
        back = cv2.warpAffine(_face_probability(masker, crop), local, (x1 - x0, y1 - y0),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)
        np.minimum(out, back, out=out)
    return out
