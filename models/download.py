"""Explicit, verified, atomic model downloads.

A download happens only when the caller passes ``allow=True`` (a node's "allow download"
switch, or ``FACE_PIPELINE_ALLOW_DOWNLOADS=1``).  The file is streamed to a temporary file in
the destination folder, its sha256 is checked, and only then is it renamed into place, so a
broken or tampered download never leaves a file that looks valid.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Callable, Optional

CHUNK = 1 << 20


def downloads_allowed(flag: Optional[bool] = None) -> bool:
    """``flag`` if given, else the ``FACE_PIPELINE_ALLOW_DOWNLOADS`` environment variable."""
    if flag is not None:
        return bool(flag)
    return os.environ.get("FACE_PIPELINE_ALLOW_DOWNLOADS", "").lower() in ("1", "true", "yes")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(urls: list[str], dest: Path, sha256: str,
             progress: Optional[Callable[[int, int], None]] = None, timeout: float = 30.0) -> Path:
    """Fetch the first URL that works into ``dest``, verified against ``sha256``.

    ``progress(done_bytes, total_bytes)`` is called per chunk (total 0 if unknown).
    Raises ``RuntimeError`` naming every URL tried when none yields a file with the hash.
    """
    if not sha256:
        raise RuntimeError(f"refusing to download {dest.name}: the manifest has no sha256 for it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total, done = int(resp.headers.get("Content-Length") or 0), 0
                for block in iter(lambda: resp.read(CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
            if digest.hexdigest() != sha256.lower():
                raise ValueError(f"sha256 mismatch (got {digest.hexdigest()})")
            os.replace(tmp, dest)
            return dest
        except Exception as exc:  # try the next mirror, report all at the end
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise RuntimeError(f"could not download {dest.name}:\n  " + "\n  ".join(errors))
