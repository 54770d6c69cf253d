"""Denoise IMAGE batches (e.g. video frames) with a per-frame strength from the measured noise."""
from __future__ import annotations

from typing import Optional

import torch

from ..models.denoisers import MODELS, as_denoiser, load_denoiser
from ..models.enhancers import from_upscale_model
from ..vision.denoise import denoise, methods
from ..vision.image import check_image, frame_uint8, to_image
from .faces import Loop


def choices() -> list[str]:
    """The Denoise node's ``method`` combo: the built-in methods, then the manifest's learned
    denoisers (their files are placed by hand; see ``models.denoisers``)."""
    return methods() + MODELS


def denoise_images(image: torch.Tensor, method: str = "nlmeans", strength: float = 1.0, *,
                   denoise_model=None, device: str = "auto",
                   allow_download: Optional[bool] = None,
                   loop: Loop = range) -> tuple[torch.Tensor, str]:
    """Every frame of ``image`` ``[B, H, W, C]`` denoised (``vision.denoise.denoise``), and a
    report: one line per frame with the noise sigma measured before and after (grey levels).

    ``method``: one of :func:`choices`; ``denoise_model`` (ComfyUI's ``UPSCALE_MODEL`` of a
    scale-1 model, e.g. DnCNN or SCUNet) replaces it when connected."""
    check_image(image)
    network = None
    if denoise_model is not None:
        network = as_denoiser(from_upscale_model(denoise_model, device))
    elif method in MODELS:
        network = load_denoiser(method, device, allow_download)
    name = method if network is None else network.id
    frames, lines = [], []
    for i in loop(image.shape[0]):
        result = denoise(frame_uint8(image, i), name, strength, network=network)
        frames.append(result.frame)
        done = "clean, passed through" if result.method == "none" else \
            f"{result.method}, noise after {result.after:.1f}"
        lines.append(f"frame {i}: noise sigma {result.sigma:.1f} -> {done}")
    return to_image(frames), "\n".join(lines)
