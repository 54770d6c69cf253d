"""Nodes that manage model files and runtimes."""
from __future__ import annotations

from ..models import onnx
from ..models.enhancers import unload_networks
from ..models.registry import get_spec, manifest, resolve_files
from ._comfy import CATEGORY


class UnloadFaceModels:
    DESCRIPTION = "Free every model session this pack holds (CPU and GPU memory)."
    CATEGORY = CATEGORY + "/models"
    FUNCTION = "unload"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("report",)
    OUTPUT_TOOLTIPS = ("How many sessions were freed.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"optional": {"trigger": ("*", {"tooltip": "Any value: unload after it is made."})}}

    @classmethod
    def IS_CHANGED(cls, **kwargs):
        return float("nan")  # run on every queue

    @classmethod
    def VALIDATE_INPUTS(cls, input_types=None, **kwargs):
        return True  # "trigger" accepts any type

    def unload(self, trigger=None):
        return (f"unloaded {onnx.unload_all() + unload_networks()} model session(s)",)


class DownloadFaceModel:
    DESCRIPTION = ("Download a model file into the models folder, verified by sha256 (runs "
                   "only when you queue it). Read the licence shown in the tooltip first.")
    CATEGORY = CATEGORY + "/models"
    FUNCTION = "download"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("Where the file is.",)

    @classmethod
    def INPUT_TYPES(cls):
        ids = [s.id for s in manifest().values() if not s.embedded]
        licences = "; ".join(f"{s.id}: {s.license}" for s in manifest().values() if not s.embedded)
        return {"required": {"model": (ids, {"tooltip": licences})}}

    def download(self, model):
        return (", ".join(str(p) for p in resolve_files(get_spec(model), allow_download=True)),)
