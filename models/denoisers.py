"""Learned denoisers: any single-image model that spandrel recognises at scale 1 (DnCNN,
DRUNet, SCUNet, NAFNet, FBCNN for JPEG blocking, ...), from the models folder (manifest task
``denoise``, backend ``spandrel``) or ComfyUI's ``UPSCALE_MODEL`` (core "Load Upscale Model").

Files load as ``models.enhancers.load_upscale_model_file`` loads them: safetensors, or
``torch.load(weights_only=True)`` -- never unpickled code.  A denoiser is an
:class:`models.enhancers.Enhancer` with ``scale`` 1: float32 ``[H, W, 3]`` RGB 0..1 in and out.
"""
from __future__ import annotations

from typing import Optional

from . import cache
from .enhancers import Enhancer, from_upscale_model, load_upscale_model_file
from .registry import ModelSpec, load_backend, model_ids, resolve_files

TASK = "denoise"


def as_denoiser(enhancer: Enhancer, what: str = "denoise_model") -> Enhancer:
    """``enhancer`` if it keeps the image size; ``ValueError`` naming ``what`` otherwise."""
    if enhancer.face_only or enhancer.scale != 1:
        kind = "restores aligned faces" if enhancer.face_only else f"upscales x{enhancer.scale}"
        raise ValueError(f"{what}: {enhancer.id} {kind}; a denoiser keeps the image size "
                         "(e.g. DnCNN, DRUNet, SCUNet, NAFNet, FBCNN loaded by 'Load Upscale "
                         "Model')")
    return enhancer


def _spandrel(spec: ModelSpec, device: str = "auto",
              allow_download: Optional[bool] = None) -> Enhancer:
    from ..runner.torchvision_standin import ensure_torchvision
    ensure_torchvision()   # spandrel imports torchvision; outside ComfyUI it may be missing
    path = resolve_files(spec, allow_download)[0]
    model = cache.cached("denoise", [path], lambda: load_upscale_model_file(path))
    return as_denoiser(from_upscale_model(model, device), spec.id)


BACKENDS = {"spandrel": _spandrel}
MODELS = model_ids(TASK)
"""Manifest denoisers (slots: the files are fetched with allow_download or placed by hand)."""


def load_denoiser(model_id: str, device: str = "auto",
                  allow_download: Optional[bool] = None) -> Enhancer:
    """The denoiser of manifest entry ``model_id`` (task ``denoise``)."""
    return load_backend(model_id, TASK, BACKENDS, device, allow_download)
