"""Enhance faces, upscale whole frames, retry detection on an enhanced image, and restore a swap
source -- over IMAGE batches and FACES (see :mod:`vision.restore` for the algorithms).

Every function takes an *enhancer* (:class:`models.enhancers.Enhancer`, from
:func:`get_enhancer`) and records what it enhanced in plain-text report lines, which the nodes
return and the headless runner writes into saved PNGs.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ..models.enhancers import Enhancer, from_upscale_model, load_enhancer
from ..models.registry import get_spec, model_ids
from ..vision import geometry, regions
from ..vision.detection import PRESENCE_THRESHOLD
from ..vision.face import Face, FaceSet
from ..vision.image import check_image, frame_float, to_image, to_mask
from ..vision.restore import (FACE_SIZE, enhance_face, magnification, sharpened, should_enhance,
                              tiled_upscale, upscale_face_regions)
from .faces import Loop, add_landmarks, check_faces, faces_on_frames
from .swap_geometry import source_face

ENHANCE_MODELS = model_ids("enhance")
UPSCALERS = [m for m in ENHANCE_MODELS if get_spec(m).input.get("scale", 1) > 1]
"""The engines that enlarge whole images (the others restore aligned faces only)."""
DEFAULT_ENHANCER = "esrgan_slim_x4"
"""Enhance Faces' and Upscale Frames' default: the fastest embedded engine, and on faces shrunk
to 32-128 px the closest to the original (BRISQUE, dlib identity, PSNR) of the fast ones."""
DEFAULT_SOURCE_ENHANCER = "realesr_animevideov3_x4"
"""The swaps' ``enhance_source`` default.  With the source's structure kept (calibration pairs
of :data:`SOURCE_SHARPEN`, 32 px sources) it and esrgan_slim end equally close to the source
(mean dlib distance 0.416 both), it closer than the unrestored swap in 8 of 8 pairs and
sharper in 7 (esrgan_slim: 7 and 6)."""
BLEND = 0.8
"""FaceFusion's default face-enhancer blend: 80% restored, 20% the original pixels."""
SOURCE_POLICIES = ["auto", "always", "off"]
"""``enhance_source``: ``auto`` follows the size policy (faces under 64 px), ``always``
restores any source, ``off`` never (a source under :data:`SHARP_SOURCE_BELOW` is still
enlarged sharply: :func:`prepare_source`)."""
SHARP_SOURCE_BELOW = 48.0
"""Face width (px) under which an unrestored swap source is still enlarged sharply on its
aligned crop.  Calibration (the 8 pairs of :data:`SOURCE_SHARPEN`): at 32 px the sharp
enlargement brings the swap closer to the source than to the target in 7 of 8 pairs instead
of 4; at 64 px it changes nothing (7 of 8 either way), so 64 px sources stay as captured and
``enhance_source`` alone decides whether they are restored."""
SOURCE_SHARPEN = 1.0
""":func:`vision.restore.sharpened`'s amount for a small swap source's enlargement, under the
restorer's detail or alone.  Calibration (swaps among Obama 2/3, Biden, astronaut, Grace
Hopper, 8 ordered pairs, not the tests' astronaut <-> Hopper; sources shrunk to 32 px; dlib):
the swap is closer to the source than to the target in 4 of 8 unrestored and 4 of 8 restored
as before; enlarged sharply 6 of 8 (amount 2: 7, but no longer behind the restored swaps),
restored with the structure kept and sharpened 7 of 8, each closer to the source than the
sharp enlargement alone (8 of 8)."""


def get_enhancer(model: str = DEFAULT_ENHANCER, upscale_model=None, device: str = "auto",
                 allow_download: Optional[bool] = None, fidelity: float = 0.5) -> Enhancer:
    """The engine to use: ComfyUI's ``UPSCALE_MODEL`` when one is connected, else the manifest
    model ``model``."""
    if upscale_model is not None:
        return from_upscale_model(upscale_model, device)
    return load_enhancer(model, device, allow_download, fidelity)


def face_mask(face: Face, matrix: np.ndarray) -> np.ndarray:
    """Crop-space paste mask ``[512, 512]``: the feathered crop edge, times the face oval when
    the face has landmarks."""
    size = (FACE_SIZE, FACE_SIZE)
    edge = geometry.feather_mask(size, FACE_SIZE / 16)
    if face.landmarks is None:
        return edge
    oval = regions.crop_region_mask(face.with_(matrix=matrix, crop_size=size), ["face"])
    return edge * oval


def enhance_faces(image: torch.Tensor, faces: FaceSet, enhancer: Enhancer, *,
                  blend: float = BLEND, size_policy: str = "auto", small: float = 64.0,
                  large: float = 128.0, keep_structure: bool = True, loop: Loop = range
                  ) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Restore every face the size policy selects and paste it back.

    Each face is restored on its FFHQ-512 crop (:func:`vision.restore.enhance_face`; with
    ``keep_structure`` an upscaler only adds detail to the face's own structure) and
    pasted back through :func:`vision.geometry.paste_back` with its face-oval mask (the crop
    square's feathered edge without landmarks) times ``blend``.
    Returns the IMAGE, the MASK of where it changed and the report (one line per face: its
    width and whether and by which model it was enhanced).  Pixels where the mask is 0 are
    bit-identical to the input.
    """
    check_faces(image, faces)
    out, masks, lines = [], [], []
    for i in loop(image.shape[0]):
        frame = frame_float(image, i)
        mask = np.zeros(frame.shape[:2], np.float32)
        for j, face in enumerate(faces.frames[i]):
            if not should_enhance(face.width, size_policy, small, large):
                lines.append(f"frame {i} face {j} ({face.width:.0f} px): not enhanced "
                             f"(size policy {size_policy})")
                continue
            restored, _, matrix = enhance_face(frame, face.keypoints, enhancer,
                                               structure=keep_structure)
            frame, pasted = geometry.paste_back(frame, restored, matrix,
                                                float(blend) * face_mask(face, matrix))
            mask = np.maximum(mask, pasted)
            kept = ", own structure kept" if keep_structure and not enhancer.input_size else ""
            lines.append(f"frame {i} face {j} ({face.width:.0f} px): enhanced with "
                         f"{enhancer.id}, blend {blend:.2f}{kept}")
        out.append(frame)
        masks.append(mask)
    return to_image(out), to_mask(masks), "\n".join(lines) or "no faces"


def upscale_image(image: torch.Tensor, enhancer: Enhancer, *, tile: int = 256,
                  overlap: int = 32, faces: Optional[FaceSet] = None,
                  loop: Loop = range) -> torch.Tensor:
    """Every frame upscaled by ``enhancer.scale`` (:func:`vision.restore.tiled_upscale`), one
    frame in memory at a time besides the output batch.  With ``faces`` (of these frames or a
    resized copy) only the regions around the faces go through the network and the rest is
    bicubic (:func:`vision.restore.upscale_face_regions`); a frame without faces is all
    bicubic."""
    check_image(image)
    if enhancer.face_only:
        raise ValueError(f"{enhancer.id} restores aligned faces only; for whole frames choose "
                         f"an upscaler ({', '.join(UPSCALERS)}) "
                         "or connect a non-face upscale model")
    if faces is not None:
        faces = faces_on_frames(image, faces)
        frames = [upscale_face_regions(frame_float(image, i), [f.box for f in faces.frames[i]],
                                       enhancer, enhancer.scale, tile=tile, overlap=overlap)
                  for i in loop(image.shape[0])]
    else:
        frames = [tiled_upscale(frame_float(image, i), enhancer, enhancer.scale, tile, overlap)
                  for i in loop(image.shape[0])]
    return to_image(frames)


RETRY_PRESENCE_THRESHOLD = 0.1
"""Face-presence limit (``Face.landmark_score``, when the detection is verified) for a face
found on the retry's enlargement that is narrower than :data:`RETRY_SMALL_FACE` in the original
pixels; wider ones keep :data:`vision.detection.PRESENCE_THRESHOLD`.  The mesh's presence
score of a 16-20 px face in a noisy, compressed capture is often under 0.1 (the limit of 0.5
drops up to half of such faces), and on the x4 enlargement mostly well above it.  Calibrated
with ``tools/calibrate_retry_presence.py`` (scikit-image's ``lfw_subset``: 100 face and 100
non-face crops in 80 x 60-like frames, noise sigma 10, JPEG 30, realesr_animevideov3_x4; no
test identity).  Of the faces found on the enlargement, the limit keeps 60/90 at 20 px and
35/74 at 16 px (0.5 keeps 42 and 22), and 1 of 71 false detections (presence <= 0.072 at
20 px; at 16 px 1 of 40 over 0.1, at 0.17)."""
RETRY_SMALL_FACE = 32.0
"""Width in original pixels under which :data:`RETRY_PRESENCE_THRESHOLD` applies."""


def detect_with_retry(image: torch.Tensor, detect: Callable[..., FaceSet],
                      enhancer: Enhancer, *, weak: float = 0.6, max_side: int = 512,
                      loop: Loop = range) -> tuple[FaceSet, str]:
    """``detect(image)``, then for each frame with no face (or only faces scoring under
    ``weak``) whose longer side is at most ``max_side`` px: upscale the frame with
    ``enhancer`` (tiled), detect again with the presence limit lowered to
    :data:`RETRY_PRESENCE_THRESHOLD` for faces under :data:`RETRY_SMALL_FACE` px, and map the
    boxes and keypoints back to the original pixels.  The retry's faces replace the first
    ones when they are more or score higher.

    ``detect(image, presence_threshold=...)`` takes an IMAGE and returns its FACES (e.g. a
    ``functools.partial`` of :func:`pipeline.faces.detect_faces`).  Returns the FACES and a
    report line per retried frame.
    """
    check_image(image)
    if enhancer.face_only:
        raise ValueError(f"{enhancer.id} restores aligned faces only and cannot enlarge a "
                         "frame for detection: choose an upscaler")
    found = detect(image)
    frames, lines = list(found.frames), []
    for i in loop(image.shape[0]):
        first = frames[i]
        best = max((f.score for f in first), default=0.0)
        if best >= weak or max(image.shape[1:3]) > max_side:
            continue
        big = tiled_upscale(frame_float(image, i), enhancer, enhancer.scale)
        again = detect(to_image([big]), presence_threshold=RETRY_PRESENCE_THRESHOLD).frames[0]
        s = float(enhancer.scale)
        mapped = tuple(f.with_(box=f.box / s, keypoints=f.keypoints / s,
                               detector=f"{f.detector}+{enhancer.id}") for f in again
                       if f.width < RETRY_SMALL_FACE * s or f.landmark_score is None
                       or f.landmark_score >= PRESENCE_THRESHOLD)
        better = len(mapped) > len(first) or max((f.score for f in mapped), default=0.0) > best
        if better:
            frames[i] = mapped
        lines.append(f"frame {i}: retried on a x{enhancer.scale} {enhancer.id} enlargement: "
                     f"{len(first)} -> {len(mapped)} faces" + ("" if better else " (kept the first)"))
    return FaceSet(frames, found.image_sizes), "\n".join(lines)


def restore_source(image: torch.Tensor, faces: FaceSet, frame_index: int, face: Face,
                   enhancer: Optional[Enhancer], *, blend: float = BLEND, device: str = "auto"
                   ) -> tuple[torch.Tensor, FaceSet, str]:
    """A swap source face prepared once on its FFHQ-512 crop, as a one-image IMAGE
    ``[1, 512, 512, 3]`` with its FACES (the face mapped into the crop and landmarked again
    there; ``source_width`` keeps its width as captured).

    The crop is enlarged sharply (:func:`vision.restore.sharpened` by :data:`SOURCE_SHARPEN`);
    with an ``enhancer`` an upscaler adds its detail on top of that structure
    (:func:`vision.restore.keep_structure`; a face restorer replaces it), mixed ``blend``
    restored + the rest the sharp enlargement (so the restored source holds everything the
    unrestored one does, plus ``blend`` of the detail)."""
    check_faces(image, faces, "source_image")
    restored, original, matrix = enhance_face(frame_float(image, frame_index), face.keypoints,
                                              enhancer, sharpen=SOURCE_SHARPEN)
    if enhancer is None:   # enhance_face's plain crop, already sharpened
        crop = restored
    else:
        plain = sharpened(original, magnification(matrix), SOURCE_SHARPEN)
        crop = blend * restored + (1.0 - blend) * plain
    mapped = Face(box=geometry.transform_points(face.box.reshape(2, 2), matrix).reshape(4),
                  score=face.score, keypoints=geometry.transform_points(face.keypoints, matrix),
                  detector=face.detector, source_width=face.captured_width)
    crop_image = to_image([crop])
    crop_faces = add_landmarks(crop_image, FaceSet(((mapped,),), ((FACE_SIZE, FACE_SIZE),)),
                               device=device)
    if not crop_faces.frames[0]:
        crop_faces = FaceSet(((mapped,),), ((FACE_SIZE, FACE_SIZE),))
    if enhancer is None:
        note = f"source face ({face.width:.0f} px) enlarged sharply (no restorer: enhance_source off)"
    else:
        note = f"source face ({face.width:.0f} px) enhanced with {enhancer.id}, blend {blend:.2f}"
    return crop_image, crop_faces, note


def wants_source_enhancement(policy: str, face_width: float, small: float = 64.0) -> bool:
    """``enhance_source`` decision (:data:`SOURCE_POLICIES`)."""
    if policy not in SOURCE_POLICIES:
        raise ValueError(f"enhance_source must be one of {SOURCE_POLICIES}, got {policy!r}")
    return policy == "always" or (policy == "auto" and should_enhance(face_width, "auto", small))


def prepare_source(source_image: torch.Tensor, source_faces: FaceSet, source_index: int,
                   enhance_source: str = "auto", *, model: str = DEFAULT_SOURCE_ENHANCER,
                   upscale_model=None, small: float = 64.0, device: str = "auto",
                   allow_download: Optional[bool] = None
                   ) -> tuple[torch.Tensor, FaceSet, int, str]:
    """The swap source to use: ``(image, faces, source_index, note)``.

    When ``enhance_source`` asks for it (:func:`wants_source_enhancement`), the chosen source
    face is restored once (:func:`restore_source`) and the swap uses the restored 512 px crop
    (face index 0) for every target frame.  A source face under :data:`SHARP_SOURCE_BELOW` px
    that is not restored is still prepared on that crop, enlarged sharply without a network, so
    the warp does not stretch its few pixels bilinearly.  Otherwise the inputs come back
    unchanged and the note is empty.
    """
    frame_index, face = source_face(source_faces, source_index)
    restore = wants_source_enhancement(enhance_source, face.width, small)
    if not restore and round(face.width) >= SHARP_SOURCE_BELOW:
        return source_image, source_faces, source_index, ""
    enhancer = get_enhancer(model, upscale_model, device, allow_download) if restore else None
    image, faces, note = restore_source(source_image, source_faces, frame_index, face, enhancer,
                                        device=device)
    return image, faces, 0, note
