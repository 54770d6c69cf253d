"""Learned face masks from the models folder (slots; the files are the user's): FaceFusion's
XSeg occluder and BiSeNet face parser.

Both run on a face crop aligned to the manifest's template (``ffhq_512``: the whole face,
forehead and chin) at the model's size, as FaceFusion runs them on its face crops
(``facefusion/face_masker.py``):

- ``xseg`` (``xseg_1``): input ``input`` NHWC ``[1, S, S, 3]``, the crop in OpenCV's BGR order
  scaled to 0..1; output ``[1, S, S, 1]``: 1 where the face is visible, 0 over what covers it
  (a hand, hair, a microphone) and outside the face.
- ``bisenet`` (``bisenet_resnet_34``): input ``input`` NCHW ``[1, 3, S, S]``, RGB 0..1
  normalised with ImageNet's mean and std; output ``[1, 19, S, S]`` class scores of
  face-parsing.PyTorch's classes (:data:`vision.face_parsing.CLASSES`).

A :class:`FaceMasker` maps a crop (float32 ``[S, S, 3]`` RGB 0..1) to float32 ``[S, S]``: for
``xseg`` the visible-face probability, for ``bisenet`` the class index of each pixel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import paths
from .onnx import get_session
from .registry import ModelSpec, get_spec, load_backend, model_ids, resolve_files

TASK = "face_mask"
OCCLUSION, PARSING = "occlusion", "parsing"


@dataclass(frozen=True)
class FaceMasker:
    """A learned face mask (module docstring).

    Attributes:
        id: manifest id.
        kind: :data:`OCCLUSION` (XSeg: visible-face probability) or :data:`PARSING`
            (BiSeNet: class index per pixel).
        size: the square crop size the model takes.
        template: the alignment template of the crop.
        run: crop float32 ``[size, size, 3]`` RGB 0..1 -> float32 ``[size, size]``.
    """

    id: str
    kind: str
    size: int
    template: str
    run: Callable[[np.ndarray], np.ndarray]

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        return self.run(crop)


def _session(spec: ModelSpec, device: str, allow_download: Optional[bool], layout: str):
    """The ONNX session of ``spec``, checked for a single input ``input`` of ``layout``."""
    path = resolve_files(spec, allow_download)[0]
    session = get_session(path, device)
    inputs = session.get_inputs()
    size = int(spec.input["size"][0])
    shape = inputs[0].shape if len(inputs) == 1 else []
    square = shape[1:3] if layout == "NHWC" else shape[2:4]
    channels = shape[3] if layout == "NHWC" else (shape[1] if len(shape) == 4 else None)
    if (len(inputs) != 1 or len(shape) != 4 or channels not in (3, None)
            or any(isinstance(s, int) and s != size for s in square)):
        raise ValueError(f"{path.name} is not a {spec.id} model: expected one {layout} input of "
                         f"{size}x{size} RGB, got "
                         f"{[(i.name, i.shape) for i in inputs]}. Put the file named in the "
                         "manifest in the slot, or remove it.")
    return session, inputs[0].name, size


def _xseg(spec: ModelSpec, device: str = "auto",
          allow_download: Optional[bool] = None) -> FaceMasker:
    session, name, size = _session(spec, device, allow_download, "NHWC")

    def run(crop: np.ndarray) -> np.ndarray:
        bgr = np.ascontiguousarray(crop[None, ..., ::-1], np.float32)
        out = np.asarray(session.run(None, {name: bgr})[0], np.float32)
        return np.clip(out.reshape(size, size), 0.0, 1.0)
    return FaceMasker(spec.id, OCCLUSION, size, spec.input["template"], run)


def _bisenet(spec: ModelSpec, device: str = "auto",
             allow_download: Optional[bool] = None) -> FaceMasker:
    session, name, size = _session(spec, device, allow_download, "NCHW")
    mean = np.array(spec.input["mean"], np.float32)
    std = np.array(spec.input["std"], np.float32)

    def run(crop: np.ndarray) -> np.ndarray:
        blob = ((crop - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
        scores = np.asarray(session.run(None, {name: blob})[0])[0]
        return scores.argmax(0).astype(np.float32)
    return FaceMasker(spec.id, PARSING, size, spec.input["template"], run)


BACKENDS = {"xseg": _xseg, "bisenet": _bisenet}
BACKENDS_KIND = {"xseg": OCCLUSION, "bisenet": PARSING}

AUTO, SKIN_COLOUR = "auto", "skin colour"
CHOICES = [AUTO, SKIN_COLOUR, *model_ids(TASK)]
"""The ``mask_model`` combo of the nodes: ``auto`` (every learned mask whose file is in a
models folder, else the embedded skin-colour model), ``skin colour`` (embedded, no file),
or one learned model (an error naming where to put it when it is missing)."""


def load_masker(model_id: str, device: str = "auto",
                allow_download: Optional[bool] = None) -> FaceMasker:
    """The :class:`FaceMasker` of manifest entry ``model_id`` (task ``face_mask``)."""
    return load_backend(model_id, TASK, BACKENDS, device, allow_download)


def load_maskers(choice: str, device: str = "auto", allow_download: Optional[bool] = None,
                 occlusion: bool = True) -> list[FaceMasker]:
    """The learned masks a node's ``mask_model`` choice (:data:`CHOICES`) asks for: ``auto``
    loads every one whose file is present (none: an empty list, the skin-colour model) --
    without ``occlusion`` only the face parsers (an occlusion-only model would not be used),
    ``skin colour`` none, a model id that model."""
    if choice == SKIN_COLOUR:
        return []
    if choice == AUTO:
        present = [i for i in model_ids(TASK)
                   if (occlusion or BACKENDS_KIND[get_spec(i).backend] == PARSING)
                   and all(paths.find_model_file(f.name) for f in get_spec(i).files)]
        return [load_masker(i, device, False) for i in present]
    if choice not in CHOICES:
        raise ValueError(f"mask_model {choice!r}: choose one of {CHOICES}")
    return [load_masker(choice, device, allow_download)]
