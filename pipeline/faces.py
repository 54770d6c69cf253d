"""Find faces, place landmarks, align crops and paste them back, over whole IMAGE batches."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Optional

import numpy as np
import torch

from ..models.detectors import load_detector
from ..models.landmarkers import load_landmarker
from ..vision import detection, geometry
from ..vision.draw import draw_faces
from ..vision.face import Face, FaceSet
from ..vision.image import (NonFinitePixels, check_finite, check_image, check_mask, frame_float,
                            frame_uint8, to_image, to_mask)

Loop = Callable[[int], Iterable[int]]
DEFAULT_DETECTOR = "mediapipe_face_short"
DEFAULT_LANDMARKER = "mediapipe_face_mesh"


def check_faces(image: torch.Tensor, faces: FaceSet, name: str = "image", finite: bool = True) -> None:
    """Raise ``ValueError`` unless ``image`` (the input called ``name``) is a valid IMAGE (free
    of NaN/inf with ``finite``) and ``faces`` was found on a batch shaped like it."""
    check_image(image, name, finite)
    if len(faces) != image.shape[0]:
        raise ValueError(f"FACES has {len(faces)} frame(s) but the IMAGE batch has "
                         f"{image.shape[0]}: connect the image the faces were detected on")
    size = (int(image.shape[1]), int(image.shape[2]))
    if faces.image_sizes and any(tuple(s) != size for s in faces.image_sizes):
        raise ValueError(f"FACES were found on {faces.image_sizes[0][1]}x{faces.image_sizes[0][0]} "
                         f"frames but the IMAGE is {size[1]}x{size[0]}")


def faces_on_frames(image: torch.Tensor, faces: FaceSet) -> FaceSet:
    """``faces`` on ``image``'s frames: faces found on a resized copy (e.g. an upscale for
    detection) are mapped back by the size ratio; any other mismatch raises ``ValueError``."""
    size = (int(image.shape[1]), int(image.shape[2]))
    if faces.image_sizes and len(faces) == image.shape[0] and tuple(faces.image_sizes[0]) != size:
        h, w = faces.image_sizes[0]
        if abs(np.log((size[0] / h) / (size[1] / w))) < 0.02:  # same aspect: a resized copy
            faces = faces.resized(size)
    check_faces(image, faces)
    return faces


@contextmanager
def _non_finite_named(image: torch.Tensor, name: str = "image"):
    """A model's :class:`NonFinitePixels` as :func:`check_finite`'s error naming ``name`` and
    the first bad frame."""
    try:
        yield
    except NonFinitePixels:
        check_finite(image, name)
        raise


def detect_faces(image: torch.Tensor, model: str = DEFAULT_DETECTOR, *, threshold: float = 0.5,
                 adaptive_threshold: bool = True, max_faces: int = 0, order: str = "largest",
                 min_size: float = 0.0, scan: str = "auto", rotations: str = "0",
                 verify: bool = True, device: str = "auto", allow_download: Optional[bool] = None,
                 loop: Loop = range, presence_threshold: float = detection.PRESENCE_THRESHOLD
                 ) -> FaceSet:
    """Faces in every frame of an IMAGE ``[B, H, W, C]``; a frame without faces gets none.

    ``verify`` re-checks each candidate with the face mesh's face-presence classifier and
    drops those below ``presence_threshold`` (0.5: BlazeFace alone fires on hands and fabric at
    scores 0.5-0.7); kept faces carry that score (``landmark_score``) and the mesh (``mesh``),
    which :func:`add_landmarks` reuses.  Other arguments: see :func:`vision.detection.find_faces`.

    NaN/inf pixels raise ``ValueError`` naming the frame; they are caught in the detector's
    input, which every pixel reaches, so no separate pass over the frames is needed.
    """
    check_image(image, finite=False)
    detection.parse_rotations(rotations)  # a bad value fails before any work
    detector = load_detector(model, device, allow_download)
    verifier = load_landmarker(DEFAULT_LANDMARKER, device) if verify else None
    frames = []
    for i in loop(image.shape[0]):
        frame = frame_float(image, i)  # a view of the tensor: no whole-frame conversion

        def presence(boxes, kps):
            scores, meshes = verifier.presence(frame, [Face(box=b, score=0.0, keypoints=k)
                                                       for b, k in zip(boxes, kps)])
            return scores, list(zip(scores, meshes))  # kept with each face

        with _non_finite_named(image):
            boxes, kps, scores, verified = detection.find_faces(
                frame, detector, threshold=threshold, adaptive=adaptive_threshold,
                max_faces=max_faces, order=order, min_size=min_size, scan=scan,
                rotations=rotations, verify=presence if verifier is not None else None,
                presence_threshold=presence_threshold)
        frames.append(tuple(
            Face(box=b, score=float(s), keypoints=k, detector=detector.id,
                 landmark_score=None if extra is None else float(extra[0]),
                 mesh=None if extra is None else extra[1])
            for b, k, s, extra in zip(boxes, kps, scores, verified)))
    sizes = [(int(image.shape[1]), int(image.shape[2]))] * image.shape[0]
    return FaceSet(frames, sizes)


def add_landmarks(image: torch.Tensor, faces: FaceSet, model: str = DEFAULT_LANDMARKER, *,
                  refine: bool = False, device: str = "auto", loop: Loop = range) -> FaceSet:
    """``faces`` with 478 landmarks, landmark score, mesh-derived keypoints and head pose.

    Faces that already have landmarks pass through unchanged unless ``refine`` (which re-runs
    the mesh on them), so running this twice changes nothing. NaN/inf pixels inside a face's
    crops raise ``ValueError`` naming the frame; elsewhere they do not matter here (landmarks
    depend only on the crops) and pass."""
    check_faces(image, faces, finite=False)
    landmarker = load_landmarker(model, device)
    needs_mesh = lambda face: refine or face.landmarks is None
    frames = []
    for i in loop(len(faces)):
        todo = tuple(filter(needs_mesh, faces.frames[i]))
        with _non_finite_named(image):
            found = iter(landmarker(frame_float(image, i), todo, refine=refine) if todo else ())
        frames.append(tuple(next(found) if needs_mesh(f) else f for f in faces.frames[i]))
    return FaceSet(frames, faces.image_sizes)


def align_faces(image: torch.Tensor, faces: FaceSet, template: geometry.Template,
                loop: Loop = range) -> tuple[torch.Tensor, FaceSet]:
    """Aligned crops of every face (frame-major order) and ``faces`` with their matrices.

    Returns an IMAGE ``[N, S, S, 3]`` with N = ``faces.count``; when no frame has a face the
    batch is one black crop (ComfyUI nodes expect at least one image) and ``faces.count`` is 0.
    """
    check_faces(image, faces)
    dst = template.points
    crops, frames = [], []
    for i in loop(len(faces)):
        frame = frame_float(image, i) if faces.frames[i] else None
        aligned = []
        for face in faces.frames[i]:
            matrix = geometry.similarity_transform(face.keypoints, dst)
            crops.append(geometry.warp_crop(frame, matrix, (template.size, template.size)))
            aligned.append(face.with_(matrix=matrix, template=template.name,
                                      crop_size=(template.size, template.size)))
        frames.append(tuple(aligned))
    if not crops:
        crops = [np.zeros((template.size, template.size, 3), np.float32)]
    return to_image(crops), FaceSet(frames, faces.image_sizes)


def _crop_scale(crops: torch.Tensor, items: list) -> float:
    """How much larger the crops are than the aligned crops they came from (1: same size).

    A crop enlarged by the same factor in both directions (an upscaler between Align Faces and
    Paste Faces Back) is pasted at its scale; any other size is an error."""
    h, w = int(crops.shape[1]), int(crops.shape[2])
    sizes = {tuple(f.crop_size) for _, f in items if f.crop_size is not None}
    if not sizes:
        return 1.0
    if len(sizes) > 1:
        raise ValueError(f"these FACES were aligned at several crop sizes {sorted(sizes)}: use "
                         "one Align Faces node per crop size")
    (cw, ch), = sizes
    scale = w / cw
    if abs(h / ch - scale) > 1e-6:
        raise ValueError(f"crops are {w}x{h} but Align Faces made {cw}x{ch} crops: connect the "
                         "crops of the same Align Faces node (resized crops must keep its "
                         "aspect ratio)")
    return scale


def _scaled(matrix: np.ndarray, scale: float) -> np.ndarray:
    """The frame -> crop map for the crop resized by ``scale`` (pixel centres aligned, as
    ``cv2.resize`` and most upscalers resample)."""
    if scale == 1.0:
        return matrix
    out = np.asarray(matrix, np.float32) * scale
    out[:, 2] += (scale - 1.0) / 2.0
    return out


def paste_faces_back(image: torch.Tensor, crops: torch.Tensor, faces: FaceSet, *,
                     feather: float = 16.0, crop_masks: Optional[torch.Tensor] = None,
                     loop: Loop = range) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp (processed) crops back into their frames.

    Args:
        crops: IMAGE ``[N, h, w, C]``, one per aligned face in frame-major order, of the size
            Align Faces made them or that size times one factor (e.g. an upscaler's 2x), which
            is pasted at its scale; other sizes raise ``ValueError``.
        feather: width of the edge ramp of the default crop mask, in pixels of the crops
            Align Faces made (so an upscaled crop gets the same edge in the frame).
        crop_masks: optional MASK ``[N, h, w]`` (or ``[1, h, w]`` for all) in crop space, the
            size of ``crops``, multiplied with the feathered edge; e.g. a face-oval mask.
    Returns: the IMAGE with faces pasted and the MASK of where it changed.  Pixels where the
    mask is 0 are bit-identical to the input; frames without faces pass through unchanged.
    """
    check_faces(image, faces)
    check_image(crops, "crops")
    items = [(i, f) for i, _, f in faces.items()]
    if any(f.matrix is None for _, f in items):
        raise ValueError("these FACES have no alignment matrices: connect the FACES output of "
                         "Align Faces, not of Detect Faces")
    if items and crops.shape[0] != len(items):
        raise ValueError(f"got {crops.shape[0]} crops for {len(items)} aligned faces: connect "
                         "the crops made by the same Align Faces node")
    h, w = int(crops.shape[1]), int(crops.shape[2])
    if crop_masks is not None:
        crop_masks = check_mask(crop_masks, "crop_mask")
        if crop_masks.shape[0] not in (1, len(items)):
            raise ValueError(f"crop_mask: got {crop_masks.shape[0]} crop masks for {len(items)} "
                             "faces: give one per face or one for all")
        if tuple(crop_masks.shape[1:]) != (h, w):
            raise ValueError(f"crop_mask is {crop_masks.shape[2]}x{crop_masks.shape[1]} but the "
                             f"crops are {w}x{h}: make the mask in 'aligned crop' space from the "
                             "same Align Faces node (or resize it to the crops)")
    scale = _crop_scale(crops, items)
    edge = geometry.feather_mask((w, h), feather * scale)
    per_frame: dict[int, list[int]] = {}
    for k, (i, _) in enumerate(items):
        per_frame.setdefault(i, []).append(k)
    out, masks = [], []
    for i in loop(image.shape[0]):
        frame = frame_float(image, i)
        mask = np.zeros(frame.shape[:2], np.float32)
        for k in per_frame.get(i, ()):
            crop = crops[k].detach().cpu().float().numpy()[..., :3]
            m = edge if crop_masks is None else \
                edge * crop_masks[k % crop_masks.shape[0]].detach().cpu().float().numpy()
            frame, pasted = geometry.paste_back(frame, crop, _scaled(items[k][1].matrix, scale), m)
            mask = np.maximum(mask, pasted)
        out.append(frame)
        masks.append(mask)
    return to_image(out), to_mask(masks)


def draw_faces_batch(image: torch.Tensor, faces: FaceSet, loop: Loop = range, **options) -> torch.Tensor:
    """IMAGE with boxes, landmarks, keypoints and labels drawn (see ``vision.draw``)."""
    check_faces(image, faces)
    return to_image([draw_faces(frame_uint8(image, i), faces.frames[i], **options)
                     for i in loop(image.shape[0])])
