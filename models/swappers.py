"""ONNX face swappers with inswapper_128's signature (a model slot: the files are the user's).

Inputs ``target`` ``[1, 3, 128, 128]`` (a face aligned with the ``arcface_128_v2`` template,
RGB in 0..1) and ``source`` ``[1, 512]`` (the source identity latent); output
``[1, 3, 128, 128]`` RGB in 0..1.  The latent is the source's normalised ArcFace embedding
mapped through the matrix stored as the model's last initializer and normalised again
(insightface's ``INSwapper``).

Pixel boost (as FaceFusion does it): a crop of ``k * 128`` pixels is split into ``k * k``
interleaved 128-pixel sub-images (``crop[dy::k, dx::k]``), each is swapped, and the results are
woven back together, so the swap keeps ``k`` times the resolution.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from .onnx import get_session
from .registry import ModelSpec, load_backend, resolve_files

BOOSTS = (1, 2, 4)
"""Pixel-boost factors: crops of 128, 256 or 512 pixels."""


@lru_cache(maxsize=4)
def latent_map(path: Path) -> np.ndarray:
    """The ``[D, D]`` embedding -> latent matrix: the last initializer of the ONNX file.

    Reading initializers needs the ``onnx`` package (``requirements.txt`` installs it); it is
    imported here, not at module level, so the pack loads even where it is broken or missing.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise ImportError("the inswapper-style swap engine needs the 'onnx' package to read the "
                          "model's embedding map: pip install onnx") from exc
    graph = onnx.load(str(path)).graph
    if not graph.initializer:
        raise ValueError(f"{Path(path).name} has no initializers: not an inswapper-style model")
    matrix = numpy_helper.to_array(graph.initializer[-1]).astype(np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{Path(path).name}: the last initializer is {matrix.shape}, not the "
                         "square embedding map of an inswapper-style model")
    return matrix


def explode(crop: np.ndarray, k: int) -> np.ndarray:
    """``[k*s, k*s, C]`` -> ``[k*k, s, s, C]``: sub-image ``dy * k + dx`` is ``crop[dy::k, dx::k]``."""
    s = crop.shape[0] // k
    return crop.reshape(s, k, s, k, -1).transpose(1, 3, 0, 2, 4).reshape(k * k, s, s, -1)


def implode(tiles: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`explode`: ``[k*k, s, s, C]`` -> ``[k*s, k*s, C]``."""
    s = tiles.shape[1]
    return tiles.reshape(k, k, s, s, -1).transpose(2, 0, 3, 1, 4).reshape(k * s, k * s, -1)


class InswapperSwapper:
    """Swaps the identity of aligned face crops (``arcface_128_v2`` template)."""

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        self.id = spec.id
        path = resolve_files(spec, allow_download)[0]
        self.session = get_session(path, device)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if set(inputs) != {"target", "source"}:
            raise ValueError(f"{path.name} is not an inswapper-style model: expected inputs "
                             f"'target' and 'source', got {sorted(inputs)}")
        self.size = int(inputs["target"].shape[2])
        self.emap = latent_map(path)

    def latent(self, embedding: np.ndarray) -> np.ndarray:
        """``[1, D]`` float32 latent from a source embedding ``[D]`` (normalised here)."""
        emb = np.asarray(embedding, np.float64).reshape(1, -1)
        if emb.shape[1] != self.emap.shape[0]:
            raise ValueError(f"{self.id} needs a {self.emap.shape[0]}-d embedding (ArcFace "
                             f"w600k_r50), got {emb.shape[1]}-d")
        emb /= np.linalg.norm(emb) + 1e-12
        latent = emb @ self.emap
        return (latent / (np.linalg.norm(latent) + 1e-12)).astype(np.float32)

    def __call__(self, crop: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """Swap one aligned crop float32 ``[S, S, 3]`` (RGB 0..1, S = size x boost, boost in
        :data:`BOOSTS`) to the identity of ``embedding`` ``[D]``; returns ``[S, S, 3]`` 0..1."""
        k = crop.shape[0] // self.size
        if crop.shape[:2] != (k * self.size, k * self.size) or k not in BOOSTS:
            raise ValueError(f"{self.id} swaps square crops of {self.size} px times "
                             f"{BOOSTS}, got {crop.shape[1]}x{crop.shape[0]}")
        latent = self.latent(embedding)
        tiles = explode(np.asarray(crop, np.float32)[..., :3], k)
        out = np.empty_like(tiles)
        for t, tile in enumerate(tiles):
            blob = np.ascontiguousarray(tile.transpose(2, 0, 1)[None])
            result = self.session.run(None, {"target": blob, "source": latent})[0]
            out[t] = result[0].transpose(1, 2, 0)
        return np.clip(implode(out, k), 0.0, 1.0)


def load_swapper(model_id: str = "inswapper_128", device: str = "auto",
                 allow_download: Optional[bool] = None) -> InswapperSwapper:
    """The swapper for a manifest id of task ``swap`` (missing files raise
    :class:`registry.ModelUnavailableError` saying where to put them)."""
    return load_backend(model_id, "swap", {"inswapper": InswapperSwapper}, device, allow_download)
