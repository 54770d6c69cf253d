"""Provenance of swapped frames: the invisible watermark over IMAGE batches and a text entry
for saved PNGs.

* :func:`mark_frames` adds :mod:`vision.watermark`'s mark to the chosen frames of a batch.
* :func:`detect_marks` scores every frame of a batch.
* :func:`record_swap` writes a ``face_swap`` entry into ComfyUI's ``extra_pnginfo`` (the
  dictionary SaveImage writes as PNG text chunks; it exists when the prompt was queued from
  the UI or by the pack's runner).
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch

from ..vision import watermark
from ..vision.image import check_image, frame_float

Loop = Callable[[int], Iterable[int]]
PNG_KEY = "face_swap"


def mark_frames(image: torch.Tensor, frames: Iterable[int],
                unmarked: Optional[dict] = None) -> torch.Tensor:
    """IMAGE ``image`` ``[B, H, W, C]`` (a float32 CPU tensor the caller owns: marked in
    place) with the watermark on ``frames`` (:func:`vision.watermark.embed`: at most one grey
    level, the frame rounded to 8-bit levels); returned.  ``unmarked``: per frame index a list
    of ``(box, mask)`` (``box`` ``(x0, y0, x1, y1)``, ``mask`` bool ``[y1 - y0, x1 - x0]``)
    of pixels left exactly as they were -- the occluders a swap kept in front."""
    if image.dtype != torch.float32 or image.device.type != "cpu":
        image = image.to("cpu", torch.float32)
    unmarked = unmarked or {}
    for i in frames:
        frame = image[i, ..., :3].numpy()
        kept = [(box, mask, frame[box[1]:box[3], box[0]:box[2]][mask])
                for box, mask in unmarked.get(i, ())]
        if frame.flags.c_contiguous:
            watermark.embed(frame, out=frame)
        else:   # RGBA: the colour channels are a strided view
            frame[...] = watermark.embed(frame)
        for (x0, y0, x1, y1), mask, pixels in kept:
            frame[y0:y1, x0:x1][mask] = pixels
    return image


def marked_frames(mask: torch.Tensor) -> list[int]:
    """Indices of the frames whose MASK ``[B, H, W]`` is not empty (a face was swapped)."""
    frames = mask.detach().to("cpu", torch.float32).numpy()   # numpy: no torch thread pool
    return [i for i in range(len(frames)) if frames[i].max() > 0]   # one pass, no temporary


def detect_marks(image: torch.Tensor, loop: Loop = range) -> tuple[list[bool], list[float]]:
    """Per frame: whether it carries the swap watermark, and the detection score ``z``
    (:func:`vision.watermark.score`: about N(0, 1) unmarked, above 5 marked)."""
    check_image(image)
    scores = [watermark.score(frame_float(image, i)) for i in loop(image.shape[0])]
    return [z > watermark.THRESHOLD for z in scores], scores


def record_swap(extra_pnginfo: Optional[dict], node: str, marked: bool) -> None:
    """Add the ``face_swap`` PNG text entry to ``extra_pnginfo`` (no-op when None)."""
    if isinstance(extra_pnginfo, dict):
        extra_pnginfo[PNG_KEY] = {
            "note": "This image contains a face swapped by the Face Pipeline nodes.",
            "node": node, "invisible_watermark": bool(marked),
            "detect_with": "Face Pipeline: Detect Swap Watermark"}
