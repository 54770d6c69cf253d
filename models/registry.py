"""The model manifest (``manifest.json``) as typed records, and resolution of model files.

``resolve_files(spec)`` returns local paths for a model: embedded files from the pack,
downloadable ones from the models folders (see ``paths.py``), downloading them only when
allowed.  A missing file raises :class:`ModelUnavailableError` whose message names the file,
where to put it, where it can be downloaded and the embedded model that works instead.
"""
from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

from . import cache, paths
from .download import download, downloads_allowed

MANIFEST = Path(__file__).resolve().parent / "manifest.json"


class ModelUnavailableError(RuntimeError):
    """A model file is missing and may not (or could not) be downloaded."""


@dataclass(frozen=True)
class ModelFile:
    name: str
    urls: tuple[str, ...] = ()
    sha256: str = ""
    size: int = 0
    package: str = ""
    """Python package whose folder holds the file (``name`` is then relative to it)."""


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry: what the model does, where its files are, under which licence."""

    id: str
    task: str
    title: str
    backend: str
    embedded: bool
    files: tuple[ModelFile, ...]
    license: str
    input: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def manifest() -> dict[str, ModelSpec]:
    """All manifest entries by id, in manifest order."""
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))["models"]
    specs = {}
    for e in entries:
        files = tuple(ModelFile(f["name"], tuple(f.get("urls", ())), f.get("sha256", ""),
                                f.get("size", 0), f.get("package", "")) for f in e["files"])
        specs[e["id"]] = ModelSpec(e["id"], e["task"], e["title"], e["backend"], e["embedded"],
                                   files, e["license"], e.get("input", {}))
    return specs


def get_spec(model_id: str) -> ModelSpec:
    try:
        return manifest()[model_id]
    except KeyError:
        raise ValueError(f"unknown model {model_id!r}; known models: "
                         f"{', '.join(manifest())}") from None


def model_ids(task: str) -> list[str]:
    """Ids of every model for ``task``, embedded ones first (the first is the default)."""
    specs = [s for s in manifest().values() if s.task == task]
    return [s.id for s in sorted(specs, key=lambda s: not s.embedded)]


def _unavailable(spec: ModelSpec, file: ModelFile, reason: str) -> ModelUnavailableError:
    dest = paths.model_dirs()[0] / file.name
    alternative = next((s.id for s in manifest().values()
                        if s.task == spec.task and s.embedded), None)
    lines = [f"model '{spec.id}' needs the file '{file.name}', which {reason}.",
             f"Put it at: {dest}"]
    if file.urls:
        lines.append(f"Download it from: {file.urls[0]}  (sha256 {file.sha256})")
        lines.append("or allow downloads (the node's 'allow_download' switch or "
                     "FACE_PIPELINE_ALLOW_DOWNLOADS=1) and run again.")
    lines.append(f"Licence: {spec.license}")
    if alternative:
        lines.append(f"The embedded model '{alternative}' works offline with no download.")
    return ModelUnavailableError("\n".join(lines))


def _package_file(spec: ModelSpec, file: ModelFile) -> Path:
    """``file`` inside the installed package ``file.package`` (found without importing it)."""
    found = importlib.util.find_spec(file.package)
    if found is None or not found.submodule_search_locations:
        raise ModelUnavailableError(
            f"model '{spec.id}' needs the Python package '{file.package}': "
            f"pip install {file.package.replace('_', '-')} (it is in the pack's requirements.txt)")
    path = paths.safe_join(Path(next(iter(found.submodule_search_locations))), file.name)
    if not path.is_file():
        raise ModelUnavailableError(f"model '{spec.id}': {path} is missing from the package "
                                    f"'{file.package}'; reinstall it")
    return path


@lru_cache(maxsize=None)
def _embedded_path(name: str) -> Path:
    """Where the pack ships the embedded file ``name`` (the manifest's own name, not user
    input)."""
    return paths.EMBEDDED_DIR / name


def resolve_files(spec: ModelSpec, allow_download: Optional[bool] = None) -> list[Path]:
    """Local paths of ``spec``'s files, downloading missing ones only when allowed."""
    out = []
    for file in spec.files:
        if file.package:
            out.append(_package_file(spec, file))
            continue
        if spec.embedded:
            path = _embedded_path(file.name)
            if not os.path.isfile(path):
                path = paths.find_model_file(file.name)
            if path is None:
                raise ModelUnavailableError(
                    f"embedded model file {paths.EMBEDDED_DIR / file.name} is missing: the "
                    "pack's install is incomplete; run the pack's install.py (it fetches "
                    "install-time files such as MODNet from PyPI) or reinstall the pack, or put "
                    f"the file at {paths.model_dirs()[0] / file.name}")
            out.append(path)
            continue
        path = paths.find_model_file(file.name)
        if path is None:
            if not downloads_allowed(allow_download):
                raise _unavailable(spec, file, "is not in any models folder")
            try:
                path = download(list(file.urls), paths.model_dirs()[0] / file.name, file.sha256,
                                max_bytes=file.size)
            except RuntimeError as exc:
                raise _unavailable(spec, file, f"could not be downloaded ({exc})") from exc
        out.append(path)
    return out


def load_backend(model_id: str, task: str, backends: dict, device: str = "auto",
                 allow_download: Optional[bool] = None):
    """The backend object for manifest entry ``model_id``, which must be a ``task`` model:
    ``backends[spec.backend](spec, device, allow_download)``, made once per version of its
    files and device (cached like the models it holds: a lookup per node execution costs a
    ``stat`` per file, not a backend's construction)."""
    spec = get_spec(model_id)
    if spec.task != task:
        raise ValueError(f"model {model_id!r} is a {spec.task} model, not a {task} model")
    backend = backends[spec.backend]
    return cache.cached(cache.HANDLES, resolve_files(spec, allow_download),
                        lambda: backend(spec, device, allow_download), (model_id, device, backend))
