"""Loaded models (ONNX sessions, dlib and enhancer networks, latent maps), keyed by the files
they came from.

A key holds each file's absolute path, modification time (ns) and size, so a file replaced on
disk (a newer download, another model under the same name) is loaded afresh instead of being
served stale, and the stale entry is dropped.  :func:`clear` (Unload Face Models) frees
everything.  Thread-safe; a model is loaded once even when several threads ask at once.
"""
from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Callable, Hashable, Sequence, TypeVar

T = TypeVar("T")

HANDLES = "model handle"
"""Kind of the cached backend objects (:func:`models.registry.load_backend`): they only hold
models cached here under their own kinds, so :func:`clear` drops them without counting them."""

_entries: dict[tuple, object] = {}
_lock = threading.RLock()
_inherited: list[dict] = []


def _after_fork_in_child() -> None:
    """A forked process does not inherit the threads of the models loaded before the fork
    (ONNX Runtime's intra-op pools) nor a lock another thread held: it loads its own models.
    The inherited ones are kept referenced, never freed (their destructors would wait for
    threads that no longer exist)."""
    global _entries, _lock
    _inherited.append(_entries)
    _entries, _lock = {}, threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def file_key(paths: Sequence[Path]) -> tuple:
    """``((absolute path, mtime_ns, size), ...)`` of existing files (``OSError`` if missing).

    One ``stat`` per file and no path resolution: this runs on every model lookup, i.e. on
    every node execution (the registry hands in paths it has already resolved)."""
    key = []
    for path in paths:
        stat = os.stat(path)
        name = os.fspath(path)
        key.append((name if os.path.isabs(name) else os.path.abspath(name), stat.st_mtime_ns,
                    stat.st_size))
    return tuple(key)


def cached(kind: str, paths: Sequence[Path], load: Callable[[], T], extra: Hashable = None) -> T:
    """``load()``'s result for ``kind`` made from the files ``paths`` (and ``extra``, e.g. the
    device), computed once per version of those files."""
    files = file_key(paths)
    key = (kind, files, extra)
    with _lock:
        if key not in _entries:
            names = [f[0] for f in files]
            for old in [k for k in _entries
                        if k[0] == kind and k[2] == extra and [f[0] for f in k[1]] == names]:
                del _entries[old]   # the same files, changed on disk
            _entries[key] = load()
        return _entries[key]


def loaded(kind: str) -> list[tuple]:
    """``(extra, value)`` of every cached value of ``kind``."""
    with _lock:
        return [(k[2], v) for k, v in _entries.items() if k[0] == kind]


def clear() -> Counter:
    """Drop every cached model; returns how many of each kind were dropped."""
    with _lock:
        counts = Counter(k[0] for k in _entries if k[0] != HANDLES)
        _entries.clear()
    return counts
