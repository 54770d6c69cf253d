"""Face-region masks and the mesh-warp swap over whole IMAGE batches.

The source face is prepared once per call (visibility, mirror choice, pyramid) and warped onto
every selected target face of every frame; frames without a selected face pass through.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch

from ..vision import face_parsing, meshwarp, regions, skin, tracking
from ..vision.face import Face, FaceSet
from ..vision.image import frame_float, to_mask
from .faces import check_faces

Loop = Callable[[int], Iterable[int]]
TARGET_SELECTORS = ("all", "largest")
"""Besides these, a comma-separated list of face indices (e.g. ``0,2``) per frame."""
MIN_FACE_CONFIDENCE = 0.75
"""Default floor on a target face's confidence (its landmark score, else its detector score)
below which it is not swapped.  Calibration (``shared/testdata``: Biden, Obama 1-3, the
astronaut, ``lowres/*``, each upright and rotated 180 degrees; not Grace Hopper, which the
tests assert on): every face whose landmarks fit scores 0.979 or more; a face found at the
detector's edge with a mesh that does not fit scores about 0.5."""


OCCLUDERS = "occluders"
"""A region found in the pixels, not the landmarks: what covers each face (a hand, thick
hair), by learned masks or the face's own skin colour (:func:`vision.skin.occlusion_mask`);
image space only."""
REGION_NAMES = (*regions.REGIONS, OCCLUDERS)


def parse_regions(text: str) -> list[str]:
    """``"skin, lips"`` -> ``["skin", "lips"]``; ``ValueError`` naming an unknown region."""
    names = [n.strip().lower() for n in text.replace(";", ",").split(",") if n.strip()]
    unknown = [n for n in names if n not in REGION_NAMES]
    if unknown:
        raise ValueError(f"unknown face region(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(REGION_NAMES)}")
    return names


def _require_landmarks(faces: FaceSet, what: str) -> None:
    if any(f.landmarks is None for _, _, f in faces.items()):
        raise ValueError(f"{what} needs 478 landmarks: connect the FACES output of Face Landmarks")


def face_region_masks(image: torch.Tensor, faces: FaceSet, add: Sequence[str],
                      subtract: Sequence[str] = (), *, maskers: Sequence = (),
                      loop: Loop = range, **options) -> torch.Tensor:
    """MASK ``[B, H, W]``: the regions of every face per frame (zeros where a frame has none).

    ``options``: ``grow``, ``blur``, ``forehead`` (see :func:`vision.regions.region_mask`).
    ``maskers``: learned masks for the ``occluders`` region (``models.maskers``; none: the
    skin-colour model).
    """
    check_faces(image, faces)
    _require_landmarks(faces, "Face Region Mask")
    shape = (int(image.shape[1]), int(image.shape[2]))
    drawn = lambda names: [n for n in names if n != OCCLUDERS]
    masks = []
    for i in loop(len(faces)):
        mask = regions.faces_region_mask(faces.frames[i], shape, drawn(add), drawn(subtract),
                                         **options)
        if OCCLUDERS in add or OCCLUDERS in subtract:
            frame = frame_float(image, i)
            found = np.zeros(shape, np.float32)
            for face in faces.frames[i]:
                np.maximum(found, skin.occlusion_mask(frame, face.landmarks, maskers),
                           out=found)
            mask = np.maximum(mask, found) if OCCLUDERS in add else mask * (1.0 - found)
        masks.append(mask)
    return to_mask(masks)


def crop_region_masks(faces: FaceSet, add: Sequence[str], subtract: Sequence[str] = (),
                      **options) -> torch.Tensor:
    """MASK ``[N, h, w]``: the regions in each aligned crop (faces of Align Faces, frame-major
    order, as Paste Faces Back's crop_mask); one empty 64x64 mask when there is no face."""
    _require_landmarks(faces, "Face Region Mask")
    if OCCLUDERS in (*add, *subtract):
        raise ValueError("the occluders region is found in the image: use space 'image'")
    items = [f for _, _, f in faces.items()]
    if any(f.matrix is None for f in items):
        raise ValueError("crop-space masks need aligned faces: connect the FACES output of "
                         "Align Faces (after Face Landmarks)")
    masks = [regions.crop_region_mask(f, add, subtract, **options) for f in items]
    return to_mask(masks or [np.zeros((64, 64), np.float32)])


def select_faces(faces: FaceSet, selector: str) -> list[list[int]]:
    """Indices of the faces chosen by ``selector`` in each frame: ``all``, ``largest`` or
    comma-separated indices (those beyond a frame's faces are skipped).

    Tracked faces (``track_id`` set, e.g. by Track Faces) are chosen per track, so the choice
    holds for a whole video: indices are track ids, and ``largest`` is the track with the
    largest mean face area (it does not flip between people when their sizes cross).
    """
    selector = selector.strip().lower()
    tracked = any(f.track_id is not None for _, _, f in faces.items())
    if selector == "all":
        return [list(range(len(fs))) for fs in faces.frames]
    if selector == "largest":
        if not tracked:
            return [[int(np.argmax([f.area for f in fs]))] if fs else [] for fs in faces.frames]
        areas: dict[int, list[float]] = {}
        for _, _, f in faces.items():
            areas.setdefault(f.track_id, []).append(f.area)
        wanted = [max(areas, key=lambda t: np.mean(areas[t]))]
    else:
        try:
            wanted = [int(s) for s in selector.split(",") if s.strip()]
        except ValueError:
            raise ValueError(f"target selection {selector!r}: use 'all', 'largest' or indices "
                             "like '0,2'") from None
    if tracked:
        return [[j for j, f in enumerate(fs) if f.track_id in wanted] for fs in faces.frames]
    return [[k for k in dict.fromkeys(wanted) if 0 <= k < len(fs)] for fs in faces.frames]


def face_confidence(face: Face) -> float:
    """The face mesh's confidence when the face has landmarks, else the detector's score."""
    return float(face.score if face.landmark_score is None else face.landmark_score)


def confident_faces(faces: tuple[Face, ...], chosen: list[int],
                    floor: float) -> tuple[list[int], list[str]]:
    """``chosen`` indices split by :func:`face_confidence` ``>= floor``: the kept indices and
    one note per skipped face, e.g. ``face 1 (confidence 0.51 < 0.75)``."""
    kept = [k for k in chosen if face_confidence(faces[k]) >= floor]
    skipped = [f"face {k} (confidence {face_confidence(faces[k]):.2f} < {floor:.2f})"
               for k in chosen if k not in kept]
    return kept, skipped


def frame_report(index: int, done: list[str], skipped: list[str]) -> str:
    """One report line: which faces of frame ``index`` were swapped and which were skipped
    for low confidence."""
    line = f"frame {index}: " + (f"swapped face {', '.join(done)}" if done
                                  else "no face swapped (unchanged)")
    return line + (f"; skipped for low confidence: {', '.join(skipped)}" if skipped else "")


def source_face(faces: FaceSet, index: int) -> tuple[int, Face]:
    """``(frame, face)`` of the ``index``-th face of a source batch, frame-major."""
    items = [(i, f) for i, _, f in faces.items()]
    if not items:
        raise ValueError("no face was found in the source image")
    if not 0 <= index < len(items):
        raise ValueError(f"source face index {index} is out of range: the source has "
                         f"{len(items)} face(s)")
    return items[index]


def mesh_warp_swap(source_image: torch.Tensor, source_faces: FaceSet,
                   target_image: torch.Tensor, target_faces: FaceSet, *, source_index: int = 0,
                   targets: str = "all", shape_transfer: float = 0.5, keep_eyes: bool = False,
                   keep_mouth: bool = True, match_skin: bool = True, occlusion: bool = False,
                   keep_beard: bool = False, target_light: float = skin.TARGET_LIGHT,
                   maskers: Sequence = (), cleaned_boxes: Optional[dict] = None,
                   kept_boxes: Optional[dict] = None, skin_smoothers: Optional[dict] = None,
                   min_confidence: float = MIN_FACE_CONFIDENCE, checked: bool = False,
                   loop: Loop = range) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Warp one source face onto the selected faces of every target frame.

    With ``match_skin`` (:func:`vision.skin.skin_swap`) the warped face takes the target's
    skin tone and shading from skin-only pixels (``target_light``: the share of the target's
    lightness shading), source pixels that are not skin (hair, glasses frames; light frames
    too when the source wears glasses: :func:`vision.skin.wears_glasses`, decided once per
    source whose face was captured at least :data:`vision.skin.GLASSES_MIN_WIDTH` px wide) take the target's skin shading, and with ``occlusion`` whatever covers the
    target's face (a hand, hair strands) stays in front -- the target's beard too when
    ``keep_beard``.  Learned
    ``maskers`` (``models.maskers.load_maskers``) take over from the skin colour: a face
    parser (BiSeNet) says what of the warped source is its own face, and every model says
    what covers the target's face (with ``occlusion``).  Blend the
    result without a second colour transfer or lighting band (Gated Blend: color none,
    target_light 0).  ``cleaned_boxes``, a dict, receives per frame index a list of
    ``(box, image)``: the target's face boxes with the facial hair replaced by skin shading
    (for the blend's target, so that the beard does not return as shading).
    ``kept_boxes``, a dict, receives per frame index a list of ``(box, mask)``: the target
    pixels kept exactly in front (bool ``mask`` over the face ``box``: occluders, a kept
    beard), which the watermark leaves alone (:func:`pipeline.provenance.mark_frames`).
    ``skin_smoothers``, a dict, holds one :class:`vision.tracking.StatsSmoother` per track
    id (filled as tracks appear; pass it on to carry them over): the skin-tone statistics of
    tracked faces are smoothed over time per track, so the face's tone does not pump with
    noise or flicker (untracked faces, or None: every frame measured alone).

    Selected target faces whose :func:`face_confidence` is below ``min_confidence`` are not
    swapped (a mesh that does not fit mangles the face) and are listed in the report.

    Returns the IMAGE (target frames with the warped source laid in through the mask), the
    MASK ``[B, H, W]`` of warped pixels (0..1, soft toward kept eyes/mouth) and a report with
    one line per frame naming the faces swapped and skipped.  Frames without a selected face
    pass through bit-identical (RGB) with an empty mask.  ``checked``: the caller has already
    checked the target's pixels for NaN/inf (:func:`vision.image.check_image`).
    """
    check_faces(source_image, source_faces, "source_image")   # small, and maybe restored
    check_faces(target_image, target_faces, "target_image", finite=not checked)
    _require_landmarks(source_faces, "Mesh-Warp Swap")
    _require_landmarks(target_faces, "Mesh-Warp Swap")
    frame_index, face = source_face(source_faces, source_index)
    source_frame = frame_float(source_image, frame_index)
    source = meshwarp.prepare_source(source_frame, face.landmarks)
    glasses = None if not match_skin or any(m.kind == "parsing" for m in maskers) \
        or face.captured_width < skin.GLASSES_MIN_WIDTH \
        else skin.wears_glasses(source_frame, face.landmarks)   # (a parser finds them itself)
    shape = (int(target_image.shape[1]), int(target_image.shape[2]))
    out = rgb_copy(target_image)
    masks = torch.from_numpy(np.zeros(out.shape[:3], np.float32))  # lazily zeroed pages
    frames, mask_frames = out.numpy(), masks.numpy()  # views: written in place
    report, chosen = [], select_faces(target_faces, targets)
    for i in loop(out.shape[0]):
        done = []
        kept, skipped = confident_faces(target_faces.frames[i], chosen[i], min_confidence)
        for k in kept:
            own = target_faces.frames[i][k].landmarks
            mesh = meshwarp.transfer_shape(own, face.landmarks, shape_transfer)
            warped = meshwarp.warp_face(source, mesh, shape, keep_eyes=keep_eyes,
                                        keep_mouth=keep_mouth, keep_landmarks=own)
            if warped is None:
                continue
            if match_skin:
                track = target_faces.frames[i][k].track_id
                hook = None if skin_smoothers is None or track is None else \
                    skin_smoothers.setdefault(track, tracking.StatsSmoother())
                warped = _skin_swap(warped, frames[i], own, target_light, occlusion,
                                    keep_beard, glasses, maskers, cleaned_boxes, kept_boxes,
                                    i, hook)
            meshwarp.composite(frames[i], warped)
            x0, y0, x1, y1 = warped.box
            np.maximum(mask_frames[i, y0:y1, x0:x1], warped.mask,
                       out=mask_frames[i, y0:y1, x0:x1])
            done.append(str(k))
        report.append(frame_report(i, done, skipped))
    return out, masks, "\n".join(report)


def _skin_swap(warped: meshwarp.WarpedFace, frame: np.ndarray, landmarks: np.ndarray,
               light: float, occlusion: bool, keep_beard: bool, glasses: Optional[np.ndarray],
               maskers: Sequence,
               cleaned_boxes: Optional[dict], kept_boxes: Optional[dict], index: int,
               stats=None) -> meshwarp.WarpedFace:
    """The warp recoloured to the target's skin, its mask cut by the occlusion; the cleaned
    target box added to ``cleaned_boxes[index]`` and the pixels kept in front to
    ``kept_boxes[index]`` when given."""
    x0, y0, x1, y1 = warped.box
    local = landmarks.copy()
    local[:, :2] -= (x0, y0)
    parsers = [m for m in maskers if m.kind == "parsing"]
    source_face = target_visible = None
    if parsers:   # parsed on the warped source laid over the frame (the parser sees context)
        laid = frame.copy()
        meshwarp.composite(laid, warped)
        source_face = face_parsing.visible_face(laid, landmarks, parsers, warped.box)
    if occlusion and maskers:
        target_visible = face_parsing.visible_face(frame, landmarks, maskers, warped.box)
    done = skin.skin_swap(warped.image, frame[y0:y1, x0:x1], warped.mask, local, light=light,
                          occlusion=occlusion, keep_beard=keep_beard, glasses=glasses,
                          source_face=source_face,
                          target_visible=target_visible, stats=stats)
    if done is None:
        return warped
    if cleaned_boxes is not None and done.target is not None:
        cleaned_boxes.setdefault(index, []).append((warped.box, done.target))
    if kept_boxes is not None and done.occlusion.max() >= 1:
        kept_boxes.setdefault(index, []).append((warped.box, done.occlusion >= 1))
    return meshwarp.WarpedFace(warped.box, done.image, warped.mask * (1.0 - done.occlusion))


def rgb_copy(image: torch.Tensor) -> torch.Tensor:
    """A float32 RGB copy ``[B, H, W, 3]`` of an IMAGE on the CPU (grey repeated, alpha
    dropped, as ``vision.image.to_rgb`` does per frame).  Copied by numpy, several times
    faster than torch's ``clone`` of a large batch on the 2-core benchmark machine."""
    x = image.detach().to("cpu", torch.float32)
    x = x[..., :1].expand(-1, -1, -1, 3) if x.shape[-1] in (1, 2) else x[..., :3]
    return torch.from_numpy(np.array(x.numpy(), np.float32, order="C"))
