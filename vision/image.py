"""Conversions between ComfyUI's IMAGE/MASK tensors and the numpy frames the algorithms use.

IMAGE is a torch float32 tensor ``[B, H, W, C]`` in ``0..1``; MASK is ``[B, H, W]`` in ``0..1``.
Algorithms work on numpy ``uint8`` RGB frames ``[H, W, 3]`` (what the models and OpenCV expect)
or float32 frames in ``0..1``.

Channel handling (documented pass-through, never an error): 1 channel is repeated to RGB,
2 channels (grey + alpha) and 4 channels (RGBA) lose the alpha channel; the alpha never
influences detection.  An empty batch or a tensor of another rank raises ``ValueError``.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch


def check_image(image: torch.Tensor, name: str = "image") -> None:
    """Raise ``ValueError`` unless ``image`` is a non-empty ``[B, H, W, C]`` tensor, C in 1..4."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"{name}: expected an IMAGE tensor, got {type(image).__name__}")
    if image.ndim != 4 or image.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{name}: expected IMAGE of shape [B,H,W,C] with C in 1..4, "
                         f"got {tuple(image.shape)}")
    if image.shape[0] == 0 or image.shape[1] == 0 or image.shape[2] == 0:
        raise ValueError(f"{name}: the image batch is empty ({tuple(image.shape)})")


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
    shape = frame.shape
    frame = cv2.addWeighted(frame, 255.0, frame, 0.0, 0.0, dtype=cv2.CV_8U)  # rounds, saturates
    return np.ascontiguousarray(to_rgb(frame.reshape(shape)))


def frame_float(image: torch.Tensor, index: int) -> np.ndarray:
    """Frame ``index`` of an IMAGE as contiguous float32 RGB ``[H, W, 3]`` in ``0..1``."""
    frame = image[index].detach().to("cpu", torch.float32).numpy()
    return np.ascontiguousarray(to_rgb(frame))


def to_image(frames: list[np.ndarray]) -> torch.Tensor:
    """Same-size ``[H, W, 3]`` frames (uint8 or float 0..1) -> IMAGE ``[B, H, W, 3]``."""
    if not frames:
        raise ValueError("cannot build an IMAGE from an empty list of frames")
    arrays = [f.astype(np.float32) / 255.0 if f.dtype == np.uint8 else f.astype(np.float32)
              for f in frames]
    return torch.from_numpy(np.stack(arrays)).clamp_(0, 1)


def to_mask(masks: list[np.ndarray]) -> torch.Tensor:
    """Same-size ``[H, W]`` float masks in ``0..1`` -> MASK ``[B, H, W]``."""
    if not masks:
        raise ValueError("cannot build a MASK from an empty list")
    return torch.from_numpy(np.stack([m.astype(np.float32) for m in masks])).clamp_(0, 1)
