"""Where model files live, and safe resolution of model names coming from workflows.

Inside ComfyUI the pack registers the model folder ``face_pipeline`` (default
``ComfyUI/models/face_pipeline``; ``extra_model_paths.yaml`` may add more) and also looks in
``ComfyUI/models/insightface`` and ``ComfyUI/models/facerestore_models`` (GFPGAN, GPEN and
CodeFormer files of other face-restore packs) so files users already have are found.
Outside ComfyUI the folders are the ``FACE_PIPELINE_MODELS`` environment variable
(``os.pathsep``-separated) or else ``~/.cache/face_pipeline/models``.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePath

try:  # ComfyUI is optional: the pack also runs headless and in tests.
    import folder_paths
except ImportError:
    folder_paths = None

FOLDER_NAME = "face_pipeline"
MODEL_EXTENSIONS = {".onnx", ".safetensors"}
EMBEDDED_DIR = Path(__file__).resolve().parent
"""Models that ship inside the pack (``models/mediapipe/*.onnx``)."""


def register_comfy_folder() -> None:
    """Register ``models/face_pipeline`` with ComfyUI's ``folder_paths`` (no-op without it)."""
    if folder_paths is None or FOLDER_NAME in folder_paths.folder_names_and_paths:
        return
    default = os.path.join(folder_paths.models_dir, FOLDER_NAME)
    folder_paths.folder_names_and_paths[FOLDER_NAME] = ([default], set(MODEL_EXTENSIONS))


def model_dirs() -> list[Path]:
    """Folders searched for downloadable models, in order; the first receives downloads."""
    if folder_paths is not None:
        dirs = [Path(p) for p in folder_paths.get_folder_paths(FOLDER_NAME)]
        insightface = Path(folder_paths.models_dir) / "insightface"
        dirs += [insightface, insightface / "models" / "buffalo_l",
                 Path(folder_paths.models_dir) / "facerestore_models"]
        return dirs
    env = os.environ.get("FACE_PIPELINE_MODELS")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".cache" / "face_pipeline" / "models"]


def safe_join(base: Path, name: str) -> Path:
    """``base / name`` if ``name`` is a relative path that stays inside ``base``.

    Raises ``ValueError`` for absolute paths, drive letters, ``..`` components, empty names and
    symbolic links that lead outside ``base``: a model name from a workflow can never reach a
    file outside the models folder.
    """
    if not name or "\x00" in name:
        raise ValueError(f"invalid model file name {name!r}")
    pure = PurePath(name.replace("\\", "/"))
    if pure.is_absolute() or pure.drive or ".." in pure.parts or name.startswith(("/", "\\")):
        raise ValueError(f"model file name {name!r} must be a plain name inside the models "
                         f"folder ({base}); absolute paths and '..' are not allowed")
    path = (base / pure).resolve()
    if not path.is_relative_to(base.resolve()):
        raise ValueError(f"model file name {name!r} resolves outside the models folder {base}")
    return path


def find_model_file(name: str) -> Path | None:
    """The first existing file called ``name`` in :func:`model_dirs`, or None."""
    for base in model_dirs():
        path = safe_join(base, name)
        if path.is_file():
            return path
    return None


register_comfy_folder()
