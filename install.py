"""Install step run by ComfyUI-Manager after ``requirements.txt`` (and by the README's setup).

OpenCV, ONNX Runtime and dlib each come in several distributions that install the same import
folder (``cv2``; ``onnxruntime``; ``dlib``): installing a second one over a user's existing one
(say ``opencv-python`` over ``opencv-contrib-python``, or ``onnxruntime`` over
``onnxruntime-gpu``) breaks it.  So each is installed only when no distribution of it is present; any of them
satisfies the pack, which uses only their core API.
"""
import importlib.metadata
import subprocess
import sys

ALTERNATIVES = {
    "opencv-python-headless>=4.8,<5": ("opencv-python", "opencv-python-headless",
                                    "opencv-contrib-python", "opencv-contrib-python-headless"),
    "onnxruntime>=1.16": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml",
                          "onnxruntime-silicon", "onnxruntime-openvino", "onnxruntime-rocm"),
    "dlib-bin>=19.24": ("dlib", "dlib-bin"),
}


def installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def missing() -> list[str]:
    """Requirements none of whose distributions is installed."""
    return [req for req, names in ALTERNATIVES.items() if not any(map(installed, names))]


if __name__ == "__main__":
    if missing():
        subprocess.check_call([sys.executable, "-m", "pip", "install", *missing()])
