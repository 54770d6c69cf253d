"""Install step run by ComfyUI-Manager after ``requirements.txt`` (and by the README's setup).

OpenCV, ONNX Runtime and dlib each come in several distributions that install the same import
folder (``cv2``; ``onnxruntime``; ``dlib``): installing a second one over a user's existing one
(say ``opencv-python`` over ``opencv-contrib-python``, or ``onnxruntime`` over
``onnxruntime-gpu``) breaks it.  So each is installed only when no distribution of it is
present; any of them satisfies the pack, which uses only their core API.  Where ONNX Runtime is
missing and PyTorch sees a CUDA GPU, the GPU build (``onnxruntime-gpu``) is the one installed.
"""
import importlib.metadata
import subprocess
import sys

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


if __name__ == "__main__":
    needed = missing(cuda_available())
    if needed:
        subprocess.check_call([sys.executable, "-m", "pip", "install", *needed])
