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
Several inputs of one such network (the small-face scan's tiles, the mesh crops of a frame)
instead run as separate one-thread calls side by side, one per core (:func:`run_split`).
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

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

SMALL_GRAPH_THREADS = 1
"""Intra-op threads for the embedded MediaPipe networks on single inputs (module docstring)."""


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


def session_options(threads: int = 0, spinning: bool = True) -> ort.SessionOptions:
    """Options every session of the pack uses (see the module docstring); ``threads`` intra-op
    threads, 0 for one per usable core; ``spinning=False`` lets idle intra-op threads sleep
    instead of busy-waiting between operators (for long-running networks such as MODNet:
    on a busy 2-core machine, 0.84 s instead of 1.01 s and less CPU per 512 px matte)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or cpu_cores()
    options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def get_session(path: Path, device: str = "auto", threads: int = 0,
                spinning: bool = True) -> ort.InferenceSession:
    """A cached ``InferenceSession`` for the model file ``path`` (``threads``: intra-op threads
    on the CPU, 0 for one per usable core; ``spinning``: see :func:`session_options`; a new
    session when the file changed on disk, see :mod:`models.cache`).

    Raises ``ValueError`` naming the file when it is not a loadable ONNX model (corrupt,
    truncated, or another format), with the advice to delete and fetch it again.
    """
    providers = providers_for(device)  # an unavailable device is the device's error, not the file's

    def load() -> ort.InferenceSession:
        try:
            session = ort.InferenceSession(str(Path(path).resolve()),
                                           session_options(threads, spinning), providers=providers)
        except Exception as exc:
            raise ValueError(f"model file {path} could not be loaded by ONNX Runtime "
                             f"(corrupt, truncated or not an ONNX model?): {exc}. "
                             "Delete it and download it again.") from exc
        log.info("face_pipeline: %s runs on %s", Path(path).name, session.get_providers()[0])
        return session
    return cache.cached("ONNX session", [path], load, (device, threads, spinning))


@lru_cache(maxsize=1)
def _helpers() -> ThreadPoolExecutor:
    """One helper thread per usable core but one (the calling thread is the last worker; ONNX
    Runtime releases the GIL while it runs, and one session serves concurrent calls)."""
    return ThreadPoolExecutor(max_workers=max(1, cpu_cores() - 1),
                              thread_name_prefix="face_pipeline_onnx")


# A forked process (multiprocessing's fork, a test runner's workers) inherits the pool but not
# its threads: work handed to it would wait forever, so the child starts a pool of its own.
os.register_at_fork(after_in_child=_helpers.cache_clear)


def run_split(session: ort.InferenceSession, name: str, batch: np.ndarray) -> list[np.ndarray]:
    """``session``'s outputs for the input ``name`` = ``batch`` ``[N, ...]``.  On the CPU the
    N items run as separate calls side by side, one per core (the calling thread takes items
    too, so two items cost one hand-off to another thread), and the outputs are
    concatenated: a one-thread session's calls scale with the cores where its intra-op threads
    do not, and a batch of large tiles outgrows the CPU caches (448x512 tiles: 132 against 90
    ms of one core per megapixel, measured here).  On other devices: one batched call."""
    if len(batch) < 2 or cpu_cores() < 2 or session.get_providers()[0] != "CPUExecutionProvider":
        return session.run(None, {name: batch})
    outputs: list = [None] * len(batch)
    pending = iter(range(len(batch)))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            outputs[i] = session.run(None, {name: batch[i:i + 1]})
    helpers = [_helpers().submit(work) for _ in range(min(cpu_cores(), len(batch)) - 1)]
    work()
    for helper in helpers:
        helper.result()
    return [np.concatenate(parts) for parts in zip(*outputs)]


def providers_in_use(device: str = "auto") -> list[str]:
    """The execution providers that the loaded sessions requested with ``device`` really run on
    (e.g. ``["CPUExecutionProvider"]`` when a CUDA build fell back to the CPU)."""
    return sorted({s.get_providers()[0] for (d, *_), s in cache.loaded("ONNX session")
                   if d == device})


def unload_all() -> int:
    """Drop every cached model (ONNX sessions, dlib and enhancer networks, latent maps; frees
    their memory, GPU memory included); returns how many."""
    return sum(cache.clear().values())
