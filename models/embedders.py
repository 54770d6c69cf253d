"""Face embedders: a frame and its detected faces in, one identity vector per face out.

Every backend is called as ``embedder(frame, faces) -> (embeddings [N, D] float32 unit rows,
chips: N aligned uint8 RGB crops)``; the chips are what the network saw (used for quality).

- ``dlib_resnet``: dlib's 5-point shape predictor placed in each detected box, dlib's own face
  chip (150 px, padding 0.25), the ResNet descriptor (128-d).  Runs on the CPU via dlib.
- ``arcface``: insightface's signature: 5 keypoints aligned to ``arcface_112_v2`` (112 px),
  RGB, ``(x - 127.5) / 127.5``, NCHW; output ``[N, 512]``.  ONNX Runtime.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..vision.face import Face
from ..vision.geometry import Template, similarity_transform, warp_crop
from ..vision.identity import convert_distance, normalize
from . import cache
from .onnx import get_session
from .registry import ModelSpec, ModelUnavailableError, load_backend, resolve_files

THRESHOLDS = {
    "dlib_resnet_v1": 0.093,
    "arcface_w600k_r50": 0.6,
}
"""Default "same person" cosine distance per model, for L2-normalised embeddings.

dlib: its documented 0.6 euclidean on raw descriptors, divided by their typical norm (1.36-1.45,
measured 1.39), gives 0.43 euclidean = 0.093 cosine; on the test images same-person pairs
measure <= 0.34 euclidean and different people >= 0.48 (bench/results_identity.md).
ArcFace: FaceFusion's reference_face_distance 0.6 (cosine, ArcFace 512-d); not measured here.
"""


EMBEDDING_SIZES = {"dlib_resnet_v1": 128, "arcface_w600k_r50": 512}
"""Dimension of each model's embeddings (stored galleries and face models are checked)."""


def embedding_size(model_id: str) -> Optional[int]:
    """The dimension of ``model_id``'s embeddings, or None for a model not known here."""
    return EMBEDDING_SIZES.get(model_id)


LAYER_THRESHOLDS = {
    "dlib_resnet_v1": {16: 0.058, 20: 0.063, 24: 0.067},
}
"""Cosine "same person" limits per gallery layer width (px), per model: calibrated by
``tools/calibrate_layers.py`` on scikit-image's lfw_subset (1 % false accepts per impostor pair
of 20 px probes with noise and JPEG; see there).  Low-resolution faces all look alike, so the
full-resolution limit (0.093) would name most impostors: at 16-24 px their median distance is
0.106-0.120.  Widths between calibrated ones, and up to 4 x the largest (where the full
default applies), interpolate in log width; models without a table use the full default."""


GROUP_THRESHOLDS = {
    "dlib_resnet_v1": {16: 0.048, 20: 0.050, 24: 0.053},
}
"""Cosine limits for grouping two *degraded* sightings as one person, per captured width (px),
per model: calibrated by ``tools/calibrate_layers.py`` with the same rule as
:data:`LAYER_THRESHOLDS` (1 % false accepts per impostor pair) on pairs of degraded probes
(two noise seeds) instead of probe and clean layer.  Two noisy tiny faces look more alike than a
noisy one and a clean one: with the layer limits 5 % of impostor pairs would be grouped.  The
cost: 12-24 % of pairs of two degraded copies of one photo fall apart (median distance
0.035-0.039), more for different photos of one person.  Interpolated like the layer limits."""


def layer_threshold(model_id: str, width: float, table: Optional[dict] = None) -> float:
    """Cosine "same person" limit for a gallery layer embedded at ``width`` px (``table``:
    :data:`LAYER_THRESHOLDS` by default, or :data:`GROUP_THRESHOLDS`)."""
    full = default_threshold(model_id, "cosine")
    table = (LAYER_THRESHOLDS if table is None else table).get(model_id, {})
    if not table:
        return full
    known = sorted(table)
    if width >= 4 * known[-1]:
        return full
    points = known + [4 * known[-1]]
    values = [table[w] for w in known] + [full]
    return float(np.interp(np.log(max(width, 1.0)), np.log(points), values))


def default_threshold(model_id: str, metric: str = "cosine") -> float:
    """The "same person" distance for embeddings of ``model_id``, in ``metric``."""
    if model_id not in THRESHOLDS:
        raise ValueError(f"no default threshold for embedding model {model_id!r}; set one")
    return convert_distance(THRESHOLDS[model_id], "cosine", metric)


def _dlib_models(predictor_path: str, descriptor_path: str):
    """dlib and its shape predictor and ResNet, cached per version of the two files."""
    return cache.cached("dlib model", [predictor_path, descriptor_path],
                        lambda: _load_dlib(predictor_path, descriptor_path))


def _load_dlib(predictor_path: str, descriptor_path: str):
    try:
        import dlib
    except ImportError as exc:
        raise ModelUnavailableError("the embedded face embedder needs dlib: pip install dlib-bin "
                                    "(a prebuilt wheel; any dlib build works)") from exc
    return dlib, dlib.shape_predictor(predictor_path), dlib.face_recognition_model_v1(descriptor_path)


class DlibEmbedder:
    """dlib's ResNet face descriptor on dlib-aligned 150 px chips (CPU, ~0.2 s a face)."""

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        predictor, descriptor = resolve_files(spec, allow_download)
        self.id = spec.id
        self.chip_size = spec.input["size"][0]
        self.padding = spec.input["padding"]
        self.dlib, self.predictor, self.net = _dlib_models(str(predictor), str(descriptor))

    def __call__(self, frame: np.ndarray, faces: tuple[Face, ...]):
        """``frame``: uint8 RGB ``[H, W, 3]``.  Returns ``([N, 128], N chips [150, 150, 3])``."""
        if not faces:
            return np.zeros((0, 128), np.float32), []
        shapes = self.dlib.full_object_detections()
        for face in faces:
            x1, y1, x2, y2 = (int(round(v)) for v in face.box)
            shapes.append(self.predictor(frame, self.dlib.rectangle(x1, y1, x2, y2)))
        chips = self.dlib.get_face_chips(frame, shapes, self.chip_size, self.padding)
        vectors = self.net.compute_face_descriptor(chips)
        return normalize(np.array(vectors, np.float32)), [np.asarray(c) for c in chips]


class ArcFaceEmbedder:
    """An ONNX model with insightface's ArcFace signature (e.g. ``w600k_r50.onnx``)."""

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        (path,) = resolve_files(spec, allow_download)
        self.id = spec.id
        self.session = get_session(path, device)
        self.input = self.session.get_inputs()[0]
        self.template = Template(spec.input["template"], spec.input["size"][0])
        self.mean, self.std = spec.input["mean"], spec.input["std"]

    def __call__(self, frame: np.ndarray, faces: tuple[Face, ...]):
        """``frame``: uint8 RGB ``[H, W, 3]``.  Returns ``([N, D], N chips [112, 112, 3])``."""
        size = (self.template.size, self.template.size)
        chips = [warp_crop(frame, similarity_transform(f.keypoints, self.template.points), size)
                 for f in faces]
        if not chips:
            return np.zeros((0, 0), np.float32), []
        blob = ((np.stack(chips).astype(np.float32) - self.mean) / self.std).transpose(0, 3, 1, 2)
        fixed_batch = self.input.shape[0] == 1  # some exports fix the batch at 1
        batches = [blob[i:i + 1] for i in range(len(blob))] if fixed_batch else [blob]
        out = np.concatenate([self.session.run(None, {self.input.name: b})[0] for b in batches])
        return normalize(out.reshape(len(chips), -1)), chips


BACKENDS = {"dlib_resnet": DlibEmbedder, "arcface": ArcFaceEmbedder}


def load_embedder(model_id: str, device: str = "auto", allow_download: Optional[bool] = None):
    """The embedder for a manifest id of task ``embed``."""
    return load_backend(model_id, "embed", BACKENDS, device, allow_download)
