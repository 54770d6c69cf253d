"""Stand-ins for ComfyUI's core LoadImage, SaveImage, PreviewImage and ImageScaleBy (ComfyUI's
nodes.py) and UpscaleModelLoader (comfy_extras/nodes_upscale_model.py).

Class names, input names, outputs and file naming match ComfyUI, so an API-format workflow that
uses them runs unchanged here and in ComfyUI. ComfyUI's ``folder_paths`` module is replaced by the
module-level ``FOLDERS`` object, which ``run_prompt`` configures before each run.

IMAGE tensors are float32 [B, H, W, 3] in 0..1; MASK tensors are float32 [B, H, W] in 0..1.
"""
import json
import os
import random
import re
import string
import tempfile
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from PIL import Image, ImageOps, ImageSequence
from PIL.PngImagePlugin import PngInfo


@dataclass
class Folders:
    """Directories the core nodes read from and write to (ComfyUI's input/output/temp folders)."""

    input_dir: str = "."
    output_dir: str = "output"
    temp_dir: Optional[str] = None  # None: a fresh directory under the system temp dir on first use

    def configure(self, input_dir: str, output_dir: str, temp_dir: Optional[str] = None) -> None:
        self.input_dir, self.output_dir, self.temp_dir = input_dir, output_dir, temp_dir

    def temp(self) -> str:
        if self.temp_dir is None:
            self.temp_dir = tempfile.mkdtemp(prefix="face_pipeline_preview_")
        return self.temp_dir


FOLDERS = Folders()


def _image_files(directory: str) -> list:
    """Sorted names of the files in ``directory`` that Pillow can open by extension."""
    if not os.path.isdir(directory):
        return []
    extensions = Image.registered_extensions()
    return sorted(
        name for name in os.listdir(directory)
        if os.path.isfile(os.path.join(directory, name))
        and os.path.splitext(name)[1].lower() in extensions
    )


class LoadImage:
    """Load an image file from the input directory as IMAGE [F, H, W, 3] and MASK [F, H, W].

    Every frame of a multi-frame file (GIF, APNG, TIFF) that has the first frame's size becomes one
    batch entry. The mask is 1 - alpha, or zeros [F, 64, 64] when the file has no alpha, as in ComfyUI.
    """

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (_image_files(FOLDERS.input_dir), {"image_upload": True})}}

    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"

    def load_image(self, image):
        frames, masks, size = [], [], None
        with Image.open(os.path.join(FOLDERS.input_dir, image)) as img:
            for frame in ImageSequence.Iterator(img):
                frame = ImageOps.exif_transpose(frame)
                if frame.mode == "I":  # 16-bit greyscale, scaled as ComfyUI does
                    frame = frame.point(lambda v: v * (1 / 255))
                rgb = frame.convert("RGB")
                size = size or rgb.size
                if rgb.size != size:
                    continue
                frames.append(np.asarray(rgb, dtype=np.float32) / 255.0)
                if "A" in frame.getbands() or "transparency" in frame.info:
                    alpha = np.asarray(frame.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0
                    masks.append(1.0 - alpha)
                else:
                    masks.append(np.zeros((64, 64), dtype=np.float32))
                if img.format == "MPO":  # camera multi-picture JPEG: ComfyUI keeps the first image only
                    break
        return torch.from_numpy(np.stack(frames)), torch.from_numpy(np.stack(masks))

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        if not os.path.isfile(os.path.join(FOLDERS.input_dir, image)):
            return "Invalid image file: {}".format(image)
        return True


def _save_path(filename_prefix: str, output_dir: str):
    """Split ``filename_prefix`` into (folder, name, first free counter, subfolder) like ComfyUI.

    The counter is 1 + the largest NNNNN among existing ``name_NNNNN_*`` files in the folder.
    Raises ValueError when the prefix points outside ``output_dir``.
    """
    subfolder, name = os.path.split(os.path.normpath(filename_prefix))
    root = os.path.abspath(output_dir)
    folder = os.path.abspath(os.path.join(root, subfolder))
    if os.path.commonpath((root, folder)) != root:
        raise ValueError(f"Saving image outside the output folder is not allowed: {filename_prefix!r}")
    os.makedirs(folder, exist_ok=True)
    pattern = re.compile(re.escape(name) + r"_(\d+)_")
    counters = [int(m.group(1)) for f in os.listdir(folder) if (m := pattern.match(f))]
    return folder, name, max(counters, default=0) + 1, subfolder


class SaveImage:
    """Save each image of an IMAGE batch [B, H, W, 3] as ``<prefix>_<counter:05>_.png`` in the output dir."""

    type = "output"
    prefix_append = ""
    compress_level = 4

    def directory(self) -> str:
        return FOLDERS.output_dir

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The images to save."}),
                "filename_prefix": ("STRING", {
                    "default": "ComfyUI",
                    "tooltip": "The prefix for the file to save; may include a subfolder (sub/name).",
                }),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
        }

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    CATEGORY = "image"
    DESCRIPTION = "Saves the input images to the output directory."

    def save_images(self, images, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        folder, name, counter, subfolder = _save_path(filename_prefix + self.prefix_append, self.directory())
        metadata = PngInfo()
        if prompt is not None:
            metadata.add_text("prompt", json.dumps(prompt))
        for key, value in (extra_pnginfo or {}).items():
            metadata.add_text(key, json.dumps(value))
        results = []
        for image in images:
            pixels = np.clip(255.0 * image.cpu().numpy(), 0, 255).astype(np.uint8)
            filename = f"{name}_{counter:05}_.png"
            Image.fromarray(pixels).save(
                os.path.join(folder, filename), pnginfo=metadata, compress_level=self.compress_level
            )
            results.append({"filename": filename, "subfolder": subfolder, "type": self.type})
            counter += 1
        return {"ui": {"images": results}, "result": (images,)}


class PreviewImage(SaveImage):
    """Save an IMAGE batch [B, H, W, 3] into the temp directory for viewing, like ComfyUI's preview."""

    type = "temp"
    compress_level = 1
    DESCRIPTION = "Preview the images without saving them to the output directory."

    def __init__(self):
        self.prefix_append = "_temp_" + "".join(random.choice(string.ascii_lowercase) for _ in range(5))

    def directory(self) -> str:
        return FOLDERS.temp()

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {"images": ("IMAGE",)},
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
        }


class ImageScaleBy:
    """Resize an IMAGE batch by a factor, like ComfyUI's "Upscale Image By" (width and height
    rounded; torch interpolation, lanczos through Pillow)."""

    upscale_methods = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "upscale_method": (cls.upscale_methods,),
                             "scale_by": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0,
                                                    "step": 0.01})}}

    def upscale(self, image, upscale_method, scale_by):
        height, width = round(image.shape[1] * scale_by), round(image.shape[2] * scale_by)
        if upscale_method == "lanczos":
            frames = [Image.fromarray(np.clip(255.0 * f.cpu().numpy(), 0, 255).astype(np.uint8))
                      .resize((width, height), Image.Resampling.LANCZOS) for f in image]
            return (torch.from_numpy(np.stack([np.asarray(f, np.float32) / 255.0
                                               for f in frames])),)
        samples = torch.nn.functional.interpolate(image.movedim(-1, 1), size=(height, width),
                                                  mode=upscale_method)
        return (samples.movedim(1, -1),)


UPSCALE_EXTENSIONS = (".safetensors", ".pth", ".pt", ".bin")


def upscale_model_files() -> list:
    """Names of the files in ``upscale_models/`` under the pack's model folders
    (``FACE_PIPELINE_MODELS`` or ``~/.cache/face_pipeline/models``)."""
    from ..models.paths import model_dirs
    names = set()
    for base in model_dirs():
        folder = base / "upscale_models"
        if folder.is_dir():
            names.update(f.name for f in folder.iterdir()
                         if f.is_file() and f.suffix.lower() in UPSCALE_EXTENSIONS)
    return sorted(names)


class UpscaleModelLoader:
    """Load an UPSCALE_MODEL (a spandrel image model) from ``upscale_models/``, like ComfyUI's,
    but only from safetensors or weights-only files: a pickle is refused."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_name": (upscale_model_files(),)}}

    RETURN_TYPES = ("UPSCALE_MODEL",)
    FUNCTION = "load_model"
    CATEGORY = "loaders"

    def load_model(self, model_name):
        from ..models.enhancers import load_upscale_model_file
        from ..models.paths import model_dirs, safe_join
        from .torchvision_standin import ensure_torchvision
        ensure_torchvision()
        for base in model_dirs():
            path = safe_join(base / "upscale_models", model_name)
            if path.is_file():
                return (load_upscale_model_file(path),)
        raise FileNotFoundError(f"upscale model {model_name!r} is not in any upscale_models folder")


NODE_CLASS_MAPPINGS = {"LoadImage": LoadImage, "SaveImage": SaveImage, "PreviewImage": PreviewImage,
                       "ImageScaleBy": ImageScaleBy,
                       "UpscaleModelLoader": UpscaleModelLoader}
