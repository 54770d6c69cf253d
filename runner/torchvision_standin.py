"""A minimal ``torchvision`` for loading upscale models with spandrel outside ComfyUI.

spandrel imports two names from ``torchvision.transforms.functional`` at import time (for its
LaMa and RestoreFormer architectures).  Inside ComfyUI the real torchvision is there; the
headless runner may lack it, or have a build that does not match the installed torch (PyPI's
torchvision is a CUDA build that fails to import with a CPU torch).  Only then
:func:`ensure_torchvision` registers this stand-in: ``normalize`` works, ``rotate`` (LaMa's
test-time augmentation) raises.
"""
import enum
import sys
import types


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean) / std`` per channel of a ``[..., C, H, W]`` tensor."""
    import torch
    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    return tensor.sub_(mean).div_(std) if inplace else (tensor - mean) / std


def rotate(*args, **kwargs):
    raise NotImplementedError("torchvision is not installed: install a torchvision that matches "
                              "your torch to rotate images (LaMa inpainting models)")


def ensure_torchvision() -> bool:
    """Import torchvision, or register the stand-in when it cannot be imported; returns True
    when the real one is used."""
    try:
        import torchvision  # noqa: F401
        return True
    except Exception:  # missing, or a build for another torch (RuntimeError)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    package = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode, functional.normalize, functional.rotate = \
        InterpolationMode, normalize, rotate
    package.__path__, transforms.__path__ = [], []
    package.transforms, transforms.functional = transforms, functional
    sys.modules.update({"torchvision": package, "torchvision.transforms": transforms,
                        "torchvision.transforms.functional": functional})
    return False
