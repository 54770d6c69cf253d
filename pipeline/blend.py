"""Gated blend, Poisson composite and face quality over IMAGE / MASK batches.

``target`` is an IMAGE ``[B, H, W, C]``; ``source`` an IMAGE ``[B, H, W, C]`` or ``[1, H, W, C]``
(one source for every frame); ``mask`` a MASK ``[B, H, W]`` or ``[1, H, W]`` (or ``[H, W]``).
Sizes must match the target's; mismatches raise ``ValueError`` naming the inputs.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import numpy as np
import torch

from ..vision import blend, poisson
from ..vision.face import FaceSet
from ..vision.image import check_image, frame_float, to_image, to_mask
from ..vision.quality import Quality, crop_quality, face_quality
from .faces import check_faces

Loop = Callable[[int], Iterable[int]]


def _mask_batch(mask: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        raise ValueError(f"mask: expected a MASK of shape [B,H,W], got "
                         f"{tuple(getattr(mask, 'shape', ())) or type(mask).__name__}")
    return mask[None] if mask.ndim == 2 else mask


def check_inputs(target: torch.Tensor, source: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Validate shapes (module docstring); returns the mask as ``[B or 1, H, W]``."""
    check_image(target, "target")
    check_image(source, "source")
    mask = _mask_batch(mask)
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
                quality: Optional[float] = None, out: Optional[torch.Tensor] = None,
                loop: Loop = range, **options
                ) -> tuple[torch.Tensor, torch.Tensor, list[float], list[float]]:
    """:func:`vision.blend.gated_blend` on every frame.

    ``quality`` overrides the estimate for all frames; without it the source's quality is
    estimated once per (source frame, mask frame) pair, so a single source with a single
    mask is measured once.  ``options``: strength, feather, color, target_light, sharpen.
    Returns the IMAGE, the final MASK, and the quality and applied strength per frame; the
    outputs are written frame by frame into tensors allocated once (peak memory: the inputs
    plus one output batch).  ``out``: a float32 CPU ``[B, H, W, 3]`` batch of the caller's own
    (never a node's input) to write the IMAGE into instead, e.g. ``source`` itself when it is
    a scratch batch: each frame is read before it is overwritten, so no batch is allocated.
    """
    mask = check_inputs(target, source, mask)
    measured: dict[tuple[int, int], float] = {}
    batch, height, width = (int(n) for n in target.shape[:3])
    if out is not None and tuple(out.shape) != (batch, height, width, 3):
        raise ValueError(f"out must be a [{batch}, {height}, {width}, 3] batch, got {tuple(out.shape)}")
    images = torch.empty((batch, height, width, 3)) if out is None else out
    masks = torch.empty((batch, height, width))
    qualities, strengths = [], []
    for i in loop(target.shape[0]):
        src, m = frame_float(source, i % source.shape[0]), _mask(mask, i)
        q = quality
        if q is None:
            key = (i % source.shape[0], i % mask.shape[0])
            if key not in measured:
                measured[key] = blend.source_quality(src, m)
            q = measured[key]
        result = blend.gated_blend(frame_float(target, i), src, m, quality=q, **options)
        np.clip(result.image, 0, 1, out=images[i].numpy())
        np.clip(result.mask, 0, 1, out=masks[i].numpy())
        qualities.append(result.quality)
        strengths.append(result.strength)
    return images, masks, qualities, strengths


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
        return [crop_quality(frame_float(image, i)) for i in loop(image.shape[0])]
    check_faces(image, faces)
    found = []
    for i in loop(image.shape[0]):
        frame = frame_float(image, i) if faces.frames[i] else None
        found.extend(face_quality(frame, f.keypoints, f.box) for f in faces.frames[i])
    return found
