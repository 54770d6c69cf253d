"""Gated blend, Poisson composite and face quality over IMAGE / MASK batches.

``target`` is an IMAGE ``[B, H, W, C]``; ``source`` an IMAGE ``[B, H, W, C]`` or ``[1, H, W, C]``
(one source for every frame); ``mask`` a MASK ``[B, H, W]`` or ``[1, H, W]`` (or ``[H, W]``).
Sizes must match the target's; mismatches raise ``ValueError`` naming the inputs.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch

from ..vision import blend, poisson
from ..vision.face import FaceSet
from ..vision.image import check_image, check_mask, frame_float, to_image, to_mask
from ..vision.quality import Quality, crop_quality, face_quality
from .faces import check_faces

Loop = Callable[[int], Iterable[int]]


def check_inputs(target: torch.Tensor, source: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Validate shapes (module docstring); returns the mask as ``[B or 1, H, W]``."""
    check_image(target, "target")
    if source is not target:          # the same tensor is checked once
        check_image(source, "source")
    mask = check_mask(mask)
    batch, size = target.shape[0], tuple(target.shape[1:3])
    hints = {"source": "warp the source onto the target first",
             "mask": "the mask must be made on the target's frames"}
    for name, value in (("source", source), ("mask", mask)):
        if value.shape[0] not in (1, batch):
            raise ValueError(f"{name} has a batch of {value.shape[0]} but the target has "
                             f"{batch}: give one {name} for all frames or one per frame")
        if tuple(value.shape[1:3]) != size:
            raise ValueError(f"{name} is {value.shape[2]}x{value.shape[1]} but the target is "
                             f"{size[1]}x{size[0]}: {hints[name]}")
    return mask


def _mask(mask: torch.Tensor, index: int) -> np.ndarray:
    return mask[index % mask.shape[0]].detach().to("cpu", torch.float32).numpy()


def gated_blend(target: torch.Tensor, source: torch.Tensor, mask: torch.Tensor, *,
                quality: Optional[float] = None, in_place: bool = False,
                color_stats: Optional[Callable[[int, tuple], Optional[Callable]]] = None,
                target_patches: Optional[dict] = None, checked: bool = False,
                loop: Loop = range, **options
                ) -> tuple[torch.Tensor, torch.Tensor, list[float], list[float]]:
    """:func:`vision.blend.gated_blend` on every frame.

    ``quality`` overrides the estimate for all frames; without it the source's quality is
    estimated once per (source frame, mask frame) pair, so a single source with a single
    mask is measured once.  ``options``: strength, feather, color, target_light, sharpen.
    ``color_stats(frame, box)``: the hook for the colour-transfer statistics of the region
    ``box`` ``(x0, y0, x1, y1)`` of frame ``frame`` (or None), see
    :func:`vision.color.transfer_color` (Face Swap smooths them per video track).  Each
    separate part of a frame's mask (each face) is blended in its own region
    (:func:`vision.blend.mask_boxes`).
    Returns the IMAGE, the final MASK, and the quality and applied strength per frame; the
    outputs are written frame by frame into tensors allocated once (peak memory: the inputs
    plus one output batch), and only the regions around each frame's mask are blended (the
    rest of the frame is copied).  ``in_place``: ``source`` (float32 CPU ``[B, H, W, 3]``) and
    ``mask`` (``[B, H, W]``) are the caller's own scratch batches (never a node's inputs) and
    the source already holds the target's pixels outside the mask (a swap engine's output):
    the IMAGE and MASK are written into them, only around each frame's mask (each region is
    read before it is overwritten), so no batch is allocated and no whole frame copied.
    ``target_patches``: per frame index, ``((x0, y0, x1, y1), image)`` pairs (float32 RGB
    ``[y1 - y0, x1 - x0, 3]``, laid in order) that replace the target's pixels for the blend
    only, e.g. the target with its beard cleaned (:func:`swap_geometry.mesh_warp_swap`'s
    ``cleaned_boxes``), so the beard does not come back in the coarse bands; where the final
    mask is 0 the target's own pixels stay.  ``checked``: the caller has validated the inputs
    (:func:`check_inputs`; Face Swap, whose source and mask are its own finite batches), so
    they are not scanned again.
    """
    mask = mask if checked else check_inputs(target, source, mask)
    if quality is not None and not 0.0 <= quality <= 1.0:   # also refuses NaN
        raise ValueError(f"quality must be in 0..1, got {quality}: connect Face Quality's "
                         "quality output, or leave the input unconnected to estimate it")
    measured: dict[tuple[int, int], float] = {}
    batch, height, width = (int(n) for n in target.shape[:3])
    if in_place and (tuple(source.shape) != (batch, height, width, 3)
                     or tuple(mask.shape) != (batch, height, width)):
        raise ValueError("in_place needs a source and a mask with one frame per target frame")
    images = source if in_place else torch.from_numpy(np.empty((batch, height, width, 3),
                                                                np.float32))
    masks = mask if in_place else torch.from_numpy(np.zeros((batch, height, width), np.float32))
    qualities, strengths = [], []
    for i in loop(target.shape[0]):
        m = _mask(mask, i)
        boxes = blend.mask_boxes(m, blend.MARGIN)   # each face (or group of touching faces)
        tgt = _frame(target, i)
        frame = images[i].numpy()
        if not in_place:
            np.clip(tgt, 0, 1, out=frame)
        q, strength = (1.0 if quality is None else float(quality)), 0.0
        if boxes:
            src = _frame(source, i % source.shape[0])
            if quality is None:
                key = (i % source.shape[0], i % mask.shape[0])
                if key not in measured:
                    measured[key] = blend.source_quality(src, m)
                q = measured[key]
        for box in boxes:   # disjoint: each region is read before it is overwritten
            x0, y0, x1, y1 = box
            own = tgt[y0:y1, x0:x1]
            seen = _patched(own, box, (target_patches or {}).get(i, ()))
            result = blend.blend_region(seen, src[y0:y1, x0:x1], m[y0:y1, x0:x1], quality=q,
                                        color_stats=color_stats and color_stats(i, box),
                                        **options)
            np.clip(result.image if seen is own else     # 0..1 also where the target was not
                    np.where(result.mask[..., None] > 0, result.image, own), 0, 1,
                    out=frame[y0:y1, x0:x1])
            np.clip(result.mask, 0, 1, out=masks[i, y0:y1, x0:x1].numpy())
            strength = max(strength, result.strength)
        qualities.append(q)
        strengths.append(strength)
    return images, masks, qualities, strengths


def _patched(region: np.ndarray, box: tuple[int, int, int, int], patches) -> np.ndarray:
    """``region`` (the frame's pixels in ``box``) with the parts of ``patches`` (``(box,
    image)`` pairs in frame coordinates) inside it laid over a copy; ``region`` itself when
    none overlaps."""
    x0, y0, x1, y1 = box
    out = region
    for (px0, py0, px1, py1), patch in patches:
        ix0, iy0, ix1, iy1 = max(px0, x0), max(py0, y0), min(px1, x1), min(py1, y1)
        if ix0 < ix1 and iy0 < iy1:
            out = region.copy() if out is region else out
            out[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = \
                patch[iy0 - py0:iy1 - py0, ix0 - px0:ix1 - px0]
    return out


def _frame(image: torch.Tensor, index: int) -> np.ndarray:
    """Frame ``index`` as float32 RGB ``[H, W, 3]``: a view when the IMAGE already is one
    (CPU float32 RGB), else a converted copy (:func:`vision.image.frame_float`)."""
    frame = image[index]
    if frame.dtype == torch.float32 and frame.device.type == "cpu" and frame.shape[-1] == 3:
        return frame.detach().numpy()
    return frame_float(image, index)


def poisson_composite(target: torch.Tensor, source: torch.Tensor, mask: torch.Tensor,
                      mode: str = "normal", loop: Loop = range) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`vision.poisson.poisson_clone` on every frame; returns the IMAGE and the solved
    region as a MASK (outside it every frame is bit-identical to the target)."""
    mask = check_inputs(target, source, mask)
    images, regions = [], []
    for i in loop(target.shape[0]):
        image, region = poisson.poisson_clone(frame_float(target, i),
                                              frame_float(source, i % source.shape[0]),
                                              _mask(mask, i), mode)
        images.append(image)
        regions.append(region)
    return to_image(images), to_mask(regions)


def face_qualities(image: torch.Tensor, faces: Optional[FaceSet] = None,
                   loop: Loop = range) -> list[Quality]:
    """Quality of every face.

    Without ``faces`` every image of the batch is one aligned face crop
    (:func:`vision.quality.crop_quality`); with ``faces`` the images are the frames they were
    found on and each face is measured there (:func:`vision.quality.face_quality`), in
    frame-major order.
    """
    check_image(image)
    if faces is None:
        h, w = int(image.shape[1]), int(image.shape[2])
        if max(h, w) > 2 * min(h, w):
            raise ValueError(f"image is {w}x{h}, not an aligned face crop: without faces every "
                             "image must be a crop from Align Faces; connect the faces found "
                             "on these images to measure faces on whole frames")
        return [crop_quality(frame_float(image, i)) for i in loop(image.shape[0])]
    check_faces(image, faces)
    found = []
    for i in loop(image.shape[0]):
        frame = frame_float(image, i) if faces.frames[i] else None
        found.extend(face_quality(frame, f.keypoints, f.box) for f in faces.frames[i])
    return found
