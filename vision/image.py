"""Conversions between ComfyUI's IMAGE/MASK tensors and the numpy frames the algorithms use.

IMAGE is a torch float32 tensor ``[B, H, W, C]`` in ``0..1``; MASK is ``[B, H, W]`` in ``0..1``.
Algorithms work on numpy ``uint8`` RGB frames ``[H, W, 3]`` (what the models and OpenCV expect)
or float32 frames in ``0..1``.

Channel handling (documented pass-through, never an error): 1 channel is repeated to RGB,
2 channels (grey + alpha) and 4 channels (RGBA) lose the alpha channel; the alpha never
influences detection.  An empty batch or a tensor of another rank raises ``ValueError``.

Non-finite pixels (NaN, inf: a half-precision VAE decode can produce them) are refused at the
boundary, by :func:`check_image` and :func:`check_mask`, with an error naming the input and
the first bad frame; they are never passed to the algorithms, where one NaN spreads over a
whole face or frame.
"""
from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import torch


class NonFinitePixels(ValueError):
    """A model met NaN/inf values in its input: raised by :func:`ensure_finite`, turned into
    :func:`check_finite`'s message (naming the input and frame) by the pipeline that called."""


def ensure_finite(values: np.ndarray) -> np.ndarray:
    """``values`` (a model's small input: a letterboxed frame, crops) unchanged; raises
    :class:`NonFinitePixels` if it holds NaN or inf.  Detection and landmarks check what
    their models read instead of a whole extra pass over every frame: a letterbox carries
    every pixel of the frame into some input value (area and linear resampling propagate NaN),
    and landmarks depend only on their crops."""
    if not np.isfinite(values).all():
        raise NonFinitePixels("non-finite pixels in a model input")
    return values


def clip_unit(values: np.ndarray) -> np.ndarray:
    """``values`` (a model's small float input, e.g. crops of a float frame) clipped to ``0..1``
    in place; raises :class:`NonFinitePixels` if it holds NaN or inf (see
    :func:`ensure_finite`).  One min and one max (NaN and inf reach them) decide both, and the
    clip runs only when they fall outside ``0..1`` (interpolated IMAGE pixels rarely do)."""
    if not values.size:
        return values
    lo, hi = values.min(), values.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise NonFinitePixels("non-finite pixels in a model input")
    if lo < 0 or hi > 1:
        np.clip(values, 0, 1, out=values)
    return values


def check_image(image: torch.Tensor, name: str = "image", finite: bool = True) -> None:
    """Raise ``ValueError`` unless ``image`` is a non-empty ``[B, H, W, C]`` tensor, C in 1..4
    (and, with ``finite``, free of NaN/inf: :func:`check_finite`)."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"{name}: expected an IMAGE tensor, got {type(image).__name__}")
    if image.ndim != 4 or image.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{name}: expected IMAGE of shape [B,H,W,C] with C in 1..4, "
                         f"got {tuple(image.shape)}")
    if image.shape[0] == 0 or image.shape[1] == 0 or image.shape[2] == 0:
        raise ValueError(f"{name}: the image batch is empty ({tuple(image.shape)})")
    if finite:
        check_finite(image, name)


def check_mask(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """``mask`` as ``[B, H, W]`` (an ``[H, W]`` mask gets a batch of 1); ``ValueError`` for
    another rank, an empty mask or non-finite values."""
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a MASK of shape [B,H,W], got "
                         f"{tuple(getattr(mask, 'shape', ())) or type(mask).__name__}")
    mask = mask[None] if mask.ndim == 2 else mask
    if 0 in mask.shape:
        raise ValueError(f"{name}: the mask is empty ({tuple(mask.shape)})")
    check_finite(mask, name)
    return mask


def _all_finite(values: torch.Tensor) -> bool:
    """True when ``values`` holds no NaN or inf (False may also mean a sum overflowed).

    On the CPU the test is numpy's max and min (both propagate NaN), single-threaded and
    ~0.3 ms for a 720p frame; a torch reduction (~0.3 ms idle) wakes torch's thread pool, which
    costs several ms on a busy machine."""
    if values.device.type == "cpu" and values.dtype in (torch.float32, torch.float64, torch.float16):
        array = values.detach().numpy()
        return bool(np.isfinite(array.max()) and np.isfinite(array.min()))
    return bool(torch.isfinite(values.sum()))


def check_finite(values: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` and its first frame with NaN or inf values.

    One fast pass over the batch; the per-frame search runs only when it fails.
    """
    if not values.is_floating_point() or _all_finite(values):
        return
    bad = ~torch.isfinite(values.reshape(values.shape[0], -1)).all(dim=1)
    frames = bad.nonzero().flatten().tolist()
    if not frames:   # the sum overflowed on huge but finite values
        return
    bad_pixels = ~torch.isfinite(values[frames[0]])
    count = int((bad_pixels.any(-1) if bad_pixels.ndim == 3 else bad_pixels).sum())
    more = f" (and {len(frames) - 1} more frame(s))" if len(frames) > 1 else ""
    raise ValueError(f"{name}: frame {frames[0]} has {count} NaN/inf pixel(s){more}. A VAE "
                     "decode in half precision can produce them: decode in float32 (ComfyUI's "
                     "--fp32-vae) or repair the frames before this node")


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """``[H, W, C]`` with C in 1..4 -> ``[H, W, 3]`` (grey repeated, alpha dropped)."""
    channels = frame.shape[-1]
    if channels in (1, 2):
        return np.repeat(frame[..., :1], 3, axis=-1)
    return frame[..., :3]


def frame_uint8(image: torch.Tensor, index: int) -> np.ndarray:
    """Frame ``index`` of an IMAGE as contiguous ``uint8`` RGB ``[H, W, 3]`` (values rounded,
    clipped to 0..255).  One OpenCV pass over the frame (~2 ms at 1080p, a tenth of the
    float arithmetic it replaces); call it once per frame and reuse the result."""
    frame = np.ascontiguousarray(image[index].detach().to("cpu", torch.float32).numpy())
    return np.ascontiguousarray(to_rgb(as_uint8(frame)))


def as_uint8(frame: np.ndarray) -> np.ndarray:
    """A float frame in ``0..1`` (any shape) as ``uint8`` (rounded, clipped to 0..255); a
    ``uint8`` frame as it is.  One OpenCV pass."""
    if frame.dtype == np.uint8:
        return frame
    shape = frame.shape
    frame = np.ascontiguousarray(frame, np.float32)
    return cv2.addWeighted(frame, 255.0, frame, 0.0, 0.0, dtype=cv2.CV_8U).reshape(shape)  # rounds, saturates


@lru_cache(maxsize=64)
def _area_rows(height: int, out_height: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's INTER_AREA weights along one axis (its ``computeResizeAreaTab``): for each output
    row the first source row ``[out_height]`` and the weights of the ``ceil(scale) + 1`` source
    rows from there ``[out_height, span]`` (summing to 1)."""
    scale = height / out_height
    span = math.ceil(scale) + 1
    starts = np.empty(out_height, np.int64)
    weights = np.zeros((out_height, span), np.float64)
    for d in range(out_height):
        f1, f2 = d * scale, (d + 1) * scale
        cell = min(scale, height - f1)
        s1, s2 = min(math.ceil(f1), height - 1), min(math.floor(f2), height)
        start = max(0, min(s1 - 1 if s1 - f1 > 1e-3 else s1, height - span))
        if s1 - f1 > 1e-3:
            weights[d, s1 - 1 - start] = (s1 - f1) / cell
        weights[d, s1 - start:s2 - start] = 1 / cell
        if f2 - s2 > 1e-3 and s2 < height:
            weights[d, s2 - start] = min(f2 - s2, 1.0, cell) / cell
        starts[d] = start
    return starts, weights.astype(np.float32)


def shrink_area(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.resize(frame, size, interpolation=cv2.INTER_AREA)`` for shrinking (``size`` =
    ``(width, height)`` no larger than the frame); same result up to float rounding (~3e-7).

    For a float32 frame ``[H, W, C]`` at least 4x taller than the output, the vertical pass runs
    as BLAS products of each output row's area weights with the source rows (one batched
    product when the height is a multiple), and OpenCV shrinks only the few remaining rows
    horizontally: the area weights are separable.  OpenCV's own float area resize walks every
    pixel in scalar code (1080p to 128x72: 2.3 ms, 1.5 ms this way; 720p 0.7 -> 0.35 ms)."""
    h, w = frame.shape[:2]
    out_w, out_h = size
    if frame.dtype != np.float32 or frame.ndim != 3 or h < 4 * out_h or out_w > w:
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    rows = frame.reshape(h, -1)
    if h % out_h == 0:
        k = h // out_h
        shrunk = np.matmul(np.full((1, k), 1 / k, np.float32), rows.reshape(out_h, k, -1))
    else:
        starts, weights = _area_rows(h, out_h)
        shrunk = np.empty((out_h, rows.shape[1]), np.float32)
        for d, start in enumerate(starts):
            np.matmul(weights[d], rows[start:start + weights.shape[1]], out=shrunk[d])
    shrunk = shrunk.reshape(out_h, w, frame.shape[2])
    return shrunk if out_w == w else cv2.resize(shrunk, size, interpolation=cv2.INTER_AREA)


def frame_float(image: torch.Tensor, index: int) -> np.ndarray:
    """Frame ``index`` of an IMAGE as contiguous float32 RGB ``[H, W, 3]`` in ``0..1`` (for a
    3-channel float32 IMAGE on the CPU a read-only view of its memory: no copy)."""
    if image.device.type == "cpu" and image.dtype == torch.float32:
        frame = image.detach().numpy()[index]  # numpy indexing costs less than torch's
    else:
        frame = image[index].detach().to("cpu", torch.float32).numpy()
    frame = np.ascontiguousarray(to_rgb(frame))
    frame.flags.writeable = False
    return frame


def unit_scale(frame: np.ndarray) -> float:
    """The factor taking ``frame``'s values to ``0..1``: 1/255 for ``uint8``, 1 for float
    frames (already ``0..1``).  Lets the detectors and landmarkers take either."""
    return 1 / 255 if frame.dtype == np.uint8 else 1.0


def to_image(frames: list[np.ndarray]) -> torch.Tensor:
    """Same-size ``[H, W, 3]`` frames (uint8 or float 0..1) -> IMAGE ``[B, H, W, 3]``."""
    if not frames:
        raise ValueError("cannot build an IMAGE from an empty list of frames")
    arrays = [f.astype(np.float32) / 255.0 if f.dtype == np.uint8 else f.astype(np.float32)
              for f in frames]
    return torch.from_numpy(np.stack(arrays)).clamp_(0, 1)


def empty_image(batch: int, height: int, width: int, channels: int = 3) -> torch.Tensor:
    """An uninitialised float32 IMAGE ``[B, H, W, C]`` for a node to write its frames into.

    Allocated by numpy (which asks Linux for transparent huge pages on large arrays) and
    shared with torch: writing a 1080p video batch into it takes about a third of the time
    of a ``torch.empty`` tensor, whose 4 KB pages each fault on first touch."""
    return torch.from_numpy(np.empty((batch, height, width, channels), np.float32))


def empty_mask(batch: int, height: int, width: int) -> torch.Tensor:
    """An uninitialised float32 MASK ``[B, H, W]`` (see :func:`empty_image`)."""
    return torch.from_numpy(np.empty((batch, height, width), np.float32))


def to_mask(masks: list[np.ndarray]) -> torch.Tensor:
    """Same-size ``[H, W]`` float masks in ``0..1`` -> MASK ``[B, H, W]``."""
    if not masks:
        raise ValueError("cannot build a MASK from an empty list")
    return torch.from_numpy(np.stack([m.astype(np.float32) for m in masks])).clamp_(0, 1)
