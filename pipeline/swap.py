"""The one-node face swap: find faces, swap with an engine, blend — composed from the same
functions the individual nodes call (never a second implementation)."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ..models.embedders import load_embedder
from ..models.maskers import AUTO, load_maskers
from ..models.onnx import providers_in_use
from ..models.swappers import load_swapper
from ..vision import geometry, quality, regions, skin, tracking
from ..vision.face import FaceSet
from ..vision.image import check_image, frame_float, frame_uint8, to_image, to_mask
from . import blend, provenance
from .faces import Loop, add_landmarks, check_faces, detect_faces
from .restore import DEFAULT_SOURCE_ENHANCER, prepare_source
from .swap_geometry import (MIN_FACE_CONFIDENCE, confident_faces, frame_report, mesh_warp_swap,
                            select_faces, source_face)

ENGINES = ["mesh_warp", "inswapper_128"]
SWAP_EMBEDDER = "arcface_w600k_r50"  # inswapper's latent comes from this ArcFace
BLEND_TARGET_LIGHT = 0.8
"""Face Swap's share of the target's light in the blend's coarsest band when the colour is
not matched by the skin model (other colour methods, the inswapper engine)."""


def find_faces(image: torch.Tensor, faces: Optional[FaceSet], device: str, loop: Loop,
               name: str = "image") -> FaceSet:
    """``faces`` if given (checked against ``image``, the input called ``name``, whose pixels
    the caller has checked), else detected with 478 landmarks (two passes of ``loop`` over the
    frames)."""
    if faces is None:
        return add_landmarks(image, detect_faces(image, device=device, loop=loop), device=device,
                             loop=loop)
    check_faces(image, faces, name, finite=False)
    return faces


def model_swap(source_image: torch.Tensor, source_faces: FaceSet, target_image: torch.Tensor,
               target_faces: FaceSet, *, source_index: int = 0, targets: str = "all",
               model: str = "inswapper_128", pixel_boost: int = 128, device: str = "auto",
               allow_download: Optional[bool] = None,
               min_confidence: float = MIN_FACE_CONFIDENCE,
               loop: Loop = range) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Swap with an ONNX model of inswapper's signature: each selected target face is aligned
    to ``arcface_128_v2`` at ``pixel_boost`` px, swapped to the source's ArcFace identity and
    pasted back through its face-oval mask.  Same outputs as ``mesh_warp_swap``."""
    check_faces(source_image, source_faces, "source_image")
    check_faces(target_image, target_faces, "target_image")
    swapper = load_swapper(model, device, allow_download)
    embedder = load_embedder(SWAP_EMBEDDER, device, allow_download)
    frame_index, face = source_face(source_faces, source_index)
    embedding = embedder(frame_uint8(source_image, frame_index), (face,))[0][0]
    template = geometry.Template("arcface_128_v2", pixel_boost)
    size = (pixel_boost, pixel_boost)
    edge = geometry.feather_mask(size, pixel_boost / 16)
    frames, masks, report = [], [], []
    chosen = select_faces(target_faces, targets)
    for i in loop(target_image.shape[0]):
        frame = frame_float(target_image, i)
        mask = np.zeros(frame.shape[:2], np.float32)
        done = []
        kept, skipped = confident_faces(target_faces.frames[i], chosen[i], min_confidence)
        for k in kept:
            target = target_faces.frames[i][k]
            matrix = geometry.similarity_transform(target.keypoints, template.points)
            swapped = swapper(geometry.warp_crop(frame, matrix, size), embedding)
            crop_mask = edge
            if target.landmarks is not None:
                crop_mask = edge * regions.crop_region_mask(
                    target.with_(matrix=matrix, crop_size=size), ["face"])
            frame, pasted = geometry.paste_back(frame, swapped, matrix, crop_mask)
            mask = np.maximum(mask, pasted)
            done.append(str(k))
        frames.append(frame)
        masks.append(mask)
        report.append(frame_report(i, done, skipped))
    return to_image(frames), to_mask(masks), "\n".join(report)


def color_smoothers(faces: FaceSet, targets: str) -> Optional[Callable]:
    """The gated blend's ``color_stats(frame, box)`` for tracked faces: regions blending the
    same set of tracks (the chosen faces whose centre lies in the region) share one
    :class:`vision.tracking.StatsSmoother`, so each swapped face's colour is smoothed over
    time per track (a cut starts afresh with new tracks); None for untracked faces (every
    frame measured alone)."""
    if any(f.track_id is None for _, _, f in faces.items()):
        return None
    chosen = select_faces(faces, targets)
    smoothers: dict[tuple, tracking.StatsSmoother] = {}

    def hook(frame: int, box: tuple) -> Optional[tracking.StatsSmoother]:
        x0, y0, x1, y1 = box
        key = tuple(sorted(faces.frames[frame][k].track_id for k in chosen[frame]
                           if x0 <= faces.frames[frame][k].center[0] < x1
                           and y0 <= faces.frames[frame][k].center[1] < y1))
        return smoothers.setdefault(key, tracking.StatsSmoother()) if key else None
    return hook


def face_swap_passes(target_faces: Optional[FaceSet]) -> int:
    """How many passes over the target frames :func:`face_swap` makes with its ``loop``:
    detection and landmarks (when ``target_faces`` is not given), swap, blend."""
    return 2 if target_faces is not None else 4


def face_swap(source_image: torch.Tensor, target_image: torch.Tensor, *,
              source_faces: Optional[FaceSet] = None, target_faces: Optional[FaceSet] = None,
              source_index: int = 0, targets: str = "all", engine: str = "mesh_warp",
              shape_transfer: float = 0.5, keep_eyes: bool = False, keep_mouth: bool = True,
              occlusion: bool = False, keep_beard: bool = False, mask_model: str = AUTO,
              watermark: bool = True,
              pixel_boost: int = 128, strength: float = 1.0, feather: float = 15.0,
              color: str = "skin", target_light: Optional[float] = None,
              sharpen: float = 0.0,
              matte: Optional[torch.Tensor] = None, enhance_source: str = "auto",
              enhance_model: str = DEFAULT_SOURCE_ENHANCER, upscale_model=None,
              device: str = "auto", allow_download: Optional[bool] = None,
              min_confidence: float = MIN_FACE_CONFIDENCE,
              loop: Loop = range) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Swap the source face onto the selected faces of every target frame, then gated-blend.

    Target faces less confident than ``min_confidence`` are left alone and reported.
    The source's faces, landmarks and quality are computed once, whatever the number of target
    frames; so is its restoration when ``enhance_source`` asks for one
    (:func:`pipeline.restore.prepare_source`: ``auto`` restores faces up to 64 px with
    ``enhance_model``, or with ``upscale_model`` when given).  Frames where no face is swapped
    pass through unchanged; the report says, per frame, which faces were swapped, whether the
    source was enhanced, then the source quality and the blend strength applied.
    ``matte`` (a MASK of the targets, e.g. a person matte) multiplies the blend mask, so
    whatever the matte says is not the subject (background, loose hair) stays the target's.
    Tracked faces (Track Faces) have their colour statistics smoothed over time per track
    (the skin tone of ``color="skin"`` with the mesh warp, else the blend's colour transfer:
    :func:`color_smoothers`); the quality gate uses the source's quality, measured once.
    Returns the IMAGE ``[B, H, W, 3]``, the final blend MASK ``[B, H, W]`` and the report.
    With ``watermark`` every swapped frame carries the invisible swap watermark
    (:mod:`vision.watermark`; it changes the pixels of those frames by at most 1 grey level
    on 8-bit output, and leaves the occluders kept in front exactly as they were).
    ``color="skin"`` with the mesh warp matches skin tone and shading in the warp
    (:func:`swap_geometry.mesh_warp_swap`'s ``match_skin``) and blends without a second
    colour transfer or lighting band, so the target's beard does not come back as shading;
    ``mask_model`` (:data:`models.maskers.CHOICES`) picks the learned masks (XSeg, BiSeNet)
    that then say what of the source is its own face and what covers the target's.
    ``target_light`` (None: the default of each path) is the share of the target's light:
    in the skin match (:data:`vision.skin.TARGET_LIGHT`) or in the blend's coarsest band
    (:data:`BLEND_TARGET_LIGHT`) for the other colour methods and engines.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown swap engine {engine!r}; choose one of {ENGINES}")
    check_image(source_image, "source_image")
    check_image(target_image, "target_image")
    source_faces = find_faces(source_image, source_faces, device, range, "source_image")
    target_faces = find_faces(target_image, target_faces, device, loop, "target_image")
    if source_faces.count == 0:
        raise ValueError("no face found in the source image: use a clearer, larger face")
    source_image, source_faces, source_index, enhanced = prepare_source(
        source_image, source_faces, source_index, enhance_source, model=enhance_model,
        upscale_model=upscale_model, device=device, allow_download=allow_download)
    frame_index, face = source_face(source_faces, source_index)
    source_quality = quality.face_quality(frame_uint8(source_image, frame_index),
                                          face.keypoints, face.box).quality
    cleaned, kept = {}, {}
    if engine == "mesh_warp":
        skin_tone = color == "skin"
        maskers = load_maskers(mask_model, device, allow_download,
                               occlusion) if skin_tone else []
        warped, mask, report = mesh_warp_swap(
            source_image, source_faces, target_image, target_faces, source_index=source_index,
            targets=targets, shape_transfer=shape_transfer, keep_eyes=keep_eyes,
            keep_mouth=keep_mouth, match_skin=skin_tone, occlusion=occlusion,
            keep_beard=keep_beard, maskers=maskers,
            target_light=skin.TARGET_LIGHT if target_light is None else target_light,
            cleaned_boxes=cleaned, kept_boxes=kept, skin_smoothers={},
            min_confidence=min_confidence, checked=True, loop=loop)
        if skin_tone:
            color, target_light = "none", 0.0
    else:
        warped, mask, report = model_swap(
            source_image, source_faces, target_image, target_faces, source_index=source_index,
            targets=targets, model=engine, pixel_boost=pixel_boost, device=device,
            allow_download=allow_download, min_confidence=min_confidence, loop=loop)
    if target_light is None:
        target_light = BLEND_TARGET_LIGHT
    if matte is not None:
        mask = mask * blend.check_inputs(target_image, target_image, matte)
    image, final_mask, _, strengths = blend.gated_blend(  # in place: the engines' batches
        target_image, warped, mask, quality=source_quality, strength=strength, feather=feather,
        color=color, target_light=target_light, sharpen=sharpen,  # are ours and hold the target
        in_place=matte is None,  # outside the mask, unless a matte took part of it away
        color_stats=color_smoothers(target_faces, targets),
        target_patches=cleaned,  # the blend's coarse bands near the edge: not the beard
        checked=True, loop=loop)
    report += (f"\n{enhanced}" if enhanced else "") + \
        (f"\nsource quality {source_quality:.2f}, blend strength {max(strengths):.2f}"
         f"\nmodels ran on: {', '.join(providers_in_use(device)) or 'no ONNX model'}")
    if watermark:
        image = provenance.mark_frames(image, provenance.marked_frames(final_mask), kept)
        report += "\ninvisible swap watermark added (Detect Swap Watermark finds it)"
    return image, final_mask, report
