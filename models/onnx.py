"""ONNX Runtime sessions: execution-provider choice, a session cache and unloading.

``device="auto"`` picks the first available of CUDA, CoreML, DirectML, CPU. The device combo of
every node offers only what the installed onnxruntime build has (:data:`DEVICES`). The provider
that actually runs (ONNX Runtime falls back silently when, say, CUDA libraries are missing) is
logged once per session and reported by :func:`providers_in_use`.
"""
from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from . import cache

log = logging.getLogger("face_pipeline")

PROVIDERS = {
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEVICES = ["auto", *(d for d, p in PROVIDERS.items() if p in ort.get_available_providers()
                    or d == "cpu")]
"""Device choices this onnxruntime build can honour ("auto" first, "cpu" always)."""

def providers_for(device: str = "auto") -> list[str]:
    """Execution providers to request for ``device`` (always ending with CPU)."""
    available = ort.get_available_providers()
    if device == "auto":
        chosen = [p for p in PROVIDERS.values() if p in available]
    elif device in PROVIDERS:
        if PROVIDERS[device] not in available:
            raise ValueError(f"device '{device}' is not available in this onnxruntime build "
                             f"(it offers: {', '.join(DEVICES)}); choose one of those, or install "
                             "the onnxruntime variant for that device (e.g. onnxruntime-gpu for "
                             "cuda) in place of the current one")
        chosen = [PROVIDERS[device]]
    else:
        raise ValueError(f"unknown device {device!r}; choose one of {DEVICES}")
    return chosen + ([] if "CPUExecutionProvider" in chosen else ["CPUExecutionProvider"])


def get_session(path: Path, device: str = "auto") -> ort.InferenceSession:
    """A cached ``InferenceSession`` for the model file ``path`` (a new one when the file
    changed on disk, see :mod:`models.cache`).

    Raises ``ValueError`` naming the file when it is not a loadable ONNX model (corrupt,
    truncated, or another format), with the advice to delete and fetch it again.
    """
    providers = providers_for(device)  # an unavailable device is the device's error, not the file's

    def load() -> ort.InferenceSession:
        try:
            session = ort.InferenceSession(str(Path(path).resolve()), providers=providers)
        except Exception as exc:
            raise ValueError(f"model file {path} could not be loaded by ONNX Runtime "
                             f"(corrupt, truncated or not an ONNX model?): {exc}. "
                             "Delete it and download it again.") from exc
        log.info("face_pipeline: %s runs on %s", Path(path).name, session.get_providers()[0])
        return session
    return cache.cached("ONNX session", [path], load, device)


def providers_in_use(device: str = "auto") -> list[str]:
    """The execution providers that the loaded sessions requested with ``device`` really run on
    (e.g. ``["CPUExecutionProvider"]`` when a CUDA build fell back to the CPU)."""
    return sorted({s.get_providers()[0] for s in cache.loaded("ONNX session", device)})


def unload_all() -> int:
    """Drop every cached model (ONNX sessions, dlib networks, latent maps; frees their memory,
    GPU memory included); returns how many."""
    return sum(cache.clear().values())
