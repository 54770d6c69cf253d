"""ONNX Runtime sessions: execution-provider choice, a session cache and unloading.

``device="auto"`` picks the first available of CUDA, CoreML, DirectML, CPU. The device combo of
every node offers only what the installed onnxruntime build has (:data:`DEVICES`). The provider
that actually runs (ONNX Runtime falls back silently when, say, CUDA libraries are missing) is
logged once per session and reported by :func:`providers_in_use`.

Sessions run with every graph optimisation and sequential execution (the face models are chains
of convolutions: parallel branches gain nothing), with one intra-op thread per CPU core this
process may use, or as many as the backend asks for: the embedded MediaPipe networks (1-5 ms
per call) run on one thread, since splitting such small graphs costs more in thread
synchronisation than it saves, and on a busy machine a call would wait for its slowest,
preempted worker (measured on 2 shared cores: mesh 1.9 ms on one thread, 3.9 ms on two).
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import onnxruntime as ort

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

SMALL_GRAPH_THREADS = 1
"""Intra-op threads for the embedded MediaPipe networks on single inputs (module docstring)."""

_sessions: dict[tuple[str, str, int], ort.InferenceSession] = {}
_seen: dict[tuple[str, str, int], ort.InferenceSession] = {}  # the same, by the path as given
_lock = threading.Lock()


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


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def session_options(threads: int = 0) -> ort.SessionOptions:
    """Options every session of the pack uses (see the module docstring); ``threads`` intra-op
    threads, 0 for one per usable core."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or cpu_cores()
    options.inter_op_num_threads = 1
    return options


def get_session(path: Path, device: str = "auto", threads: int = 0) -> ort.InferenceSession:
    """A cached ``InferenceSession`` for the model file ``path`` (``threads``: intra-op threads
    on the CPU, 0 for one per usable core).

    Raises ``ValueError`` naming the file when it is not a loadable ONNX model (corrupt,
    truncated, or another format), with the advice to delete and fetch it again.
    """
    seen = _seen.get((str(path), device, threads))  # per-frame calls: no path resolution
    if seen is not None:
        return seen
    key = (str(Path(path).resolve()), device, threads)
    providers = providers_for(device)  # an unavailable device is the device's error, not the file's
    with _lock:
        if key not in _sessions:
            try:
                session = ort.InferenceSession(key[0], session_options(threads),
                                               providers=providers)
            except Exception as exc:
                raise ValueError(f"model file {path} could not be loaded by ONNX Runtime "
                                 f"(corrupt, truncated or not an ONNX model?): {exc}. "
                                 "Delete it and download it again.") from exc
            log.info("face_pipeline: %s runs on %s", Path(path).name, session.get_providers()[0])
            _sessions[key] = session
        _seen[(str(path), device, threads)] = _sessions[key]
        return _sessions[key]


def providers_in_use(device: str = "auto") -> list[str]:
    """The execution providers that the loaded sessions requested with ``device`` really run on
    (e.g. ``["CPUExecutionProvider"]`` when a CUDA build fell back to the CPU)."""
    with _lock:
        return sorted({s.get_providers()[0] for (_, d, _), s in _sessions.items() if d == device})


def unload_all() -> int:
    """Drop every cached session (frees their memory, GPU memory included); returns how many."""
    with _lock:
        count = len(_sessions)
        _sessions.clear()
        _seen.clear()
    return count
