"""Explicit, verified, atomic model downloads.

A download happens only when the caller passes ``allow=True`` (a node's "allow download"
switch, or ``FACE_PIPELINE_ALLOW_DOWNLOADS=1``).  The file is streamed to a temporary file in
the destination folder, its sha256 is checked, and only then is it renamed into place, so a
broken or tampered download never leaves a file that looks valid.

A download is bounded: it stops past ``max_bytes`` (the manifest's file size when known, else
:data:`MAX_BYTES`), past a wall-clock ``deadline`` and when cancelled.  Progress and cancel go
through hooks the node layer installs (:func:`set_hooks`: ComfyUI's progress bar and its
Cancel button), so this module needs no ComfyUI import.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable, Optional

CHUNK = 1 << 20
MAX_BYTES = 4 << 30      # no model this pack knows is larger than 4 GiB
DEADLINE = 3600.0        # seconds for one file, all mirrors together


class DownloadCancelled(RuntimeError):
    """The user cancelled a download (ComfyUI's Cancel button); no file was written."""


_progress_factory: Optional[Callable[[str], Callable[[int, int], None]]] = None
_cancelled: Optional[Callable[[], bool]] = None


def set_hooks(progress: Optional[Callable[[str], Callable[[int, int], None]]] = None,
              cancelled: Optional[Callable[[], bool]] = None) -> None:
    """Default progress reporting and cancel check for downloads.

    ``progress(file_name)`` returns a ``(done_bytes, total_bytes)`` callback (total 0 when
    unknown); ``cancelled()`` is polled per chunk and stops the download when it is True.
    """
    global _progress_factory, _cancelled
    _progress_factory, _cancelled = progress, cancelled


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
             progress: Optional[Callable[[int, int], None]] = None, timeout: float = 30.0, *,
             max_bytes: int = 0, deadline: float = DEADLINE,
             cancelled: Optional[Callable[[], bool]] = None) -> Path:
    """Fetch the first URL that works into ``dest``, verified against ``sha256``.

    ``progress(done_bytes, total_bytes)`` is called per chunk (total 0 if unknown; default:
    the installed hook).  ``timeout`` bounds each network read, ``deadline`` the whole
    download (seconds), ``max_bytes`` its size (0: :data:`MAX_BYTES`); ``cancelled()``
    (default: the installed hook) is polled per chunk.  Raises ``RuntimeError`` naming every
    URL tried when none yields a file with the hash, :class:`DownloadCancelled` when cancelled.
    """
    if not sha256:
        raise RuntimeError(f"refusing to download {dest.name}: the manifest has no sha256 for it")
    limit = max_bytes or MAX_BYTES
    progress = progress or (_progress_factory(dest.name) if _progress_factory else None)
    cancelled = cancelled or _cancelled
    stop_at = time.monotonic() + deadline
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total, done = int(resp.headers.get("Content-Length") or 0), 0
                if total > limit:
                    raise ValueError(f"the server offers {total} bytes, more than the "
                                     f"{limit} expected")
                for block in iter(lambda: resp.read(CHUNK), b""):
                    if cancelled is not None and cancelled():
                        raise DownloadCancelled(f"download of {dest.name} cancelled; no file "
                                                "was written")
                    done += len(block)
                    if done > limit:
                        raise ValueError(f"more than the {limit} bytes expected")
                    if time.monotonic() > stop_at:
                        raise ValueError(f"not finished after {deadline:.0f} s")
                    out.write(block)
                    digest.update(block)
                    if progress:
                        progress(done, total)
            if digest.hexdigest() != sha256.lower():
                raise ValueError(f"sha256 mismatch (got {digest.hexdigest()})")
            os.replace(tmp, dest)
            return dest
        except DownloadCancelled:
            raise
        except Exception as exc:  # try the next mirror, report all at the end
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        if time.monotonic() > stop_at:
            break
    raise RuntimeError(f"could not download {dest.name}:\n  " + "\n  ".join(errors))
