"""Denoise IMAGE batches (e.g. video frames) with a per-frame strength from the measured noise."""
from __future__ import annotations

import torch

from ..vision.denoise import denoise
from ..vision.image import check_image, frame_uint8, to_image
from .faces import Loop


def denoise_images(image: torch.Tensor, method: str = "nlmeans", strength: float = 1.0, *,
                   loop: Loop = range) -> tuple[torch.Tensor, str]:
    """Every frame of ``image`` ``[B, H, W, C]`` denoised (``vision.denoise.denoise``), and a
    report: one line per frame with the noise sigma measured before and after (grey levels)."""
    check_image(image)
    frames, lines = [], []
    for i in loop(image.shape[0]):
        result = denoise(frame_uint8(image, i), method, strength)
        frames.append(result.frame)
        done = "clean, passed through" if result.method == "none" else \
            f"{result.method}, noise after {result.after:.1f}"
        lines.append(f"frame {i}: noise sigma {result.sigma:.1f} -> {done}")
    return to_image(frames), "\n".join(lines)
