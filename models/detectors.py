"""Face-detector backends: MediaPipe BlazeFace (embedded) and insightface SCRFD (ONNX slot).

A detector is called on one RGB frame ``[H, W, 3]`` (``uint8``, or float32 in ``0..1``: see
:func:`vision.image.frame_float`, no conversion of the whole frame) with a score threshold and
returns ``(boxes [N, 4], keypoints [N, 5, 2], scores [N])`` in frame pixels after NMS,
keypoints in the order documented in ``vision/face.py``.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import numpy as np

from ..vision import detection as det
from ..vision.image import ensure_finite, unit_scale
from .onnx import SMALL_GRAPH_THREADS, get_session, run_split
from .registry import ModelSpec, load_backend, resolve_files

# The mouth-corner half-spacing relative to the eye spacing in the ArcFace template
# ((70.73 - 41.55) / (73.53 - 38.29) / 2); BlazeFace gives only the mouth centre.
MOUTH_HALF_WIDTH = 0.414


def keypoints5_from_blazeface(kps6: np.ndarray) -> np.ndarray:
    """BlazeFace's 6 keypoints ``[N, 6, 2]`` (right eye, left eye, nose tip, mouth centre,
    right ear, left ear; the subject's sides) -> the 5-point order ``[N, 5, 2]``, mouth
    corners estimated from the mouth centre along the eye line."""
    right_eye, left_eye, nose, mouth = kps6[:, 0], kps6[:, 1], kps6[:, 2], kps6[:, 3]
    half = MOUTH_HALF_WIDTH * (left_eye - right_eye)
    return np.stack([right_eye, left_eye, nose, mouth - half, mouth + half], axis=1)


def _logit(probability: float) -> float:
    """The inverse sigmoid, -inf / +100 (the decoder's logit clip) at the ends."""
    if probability <= 0:
        return -np.inf
    return 100.0 if probability >= 1 else math.log(probability) - math.log1p(-probability)


@lru_cache(maxsize=32)
def _ssd_anchors(height: int, width: int, strides: tuple[int, ...], per_layer: tuple[int, ...]) -> np.ndarray:
    return det.ssd_anchor_centers(height, width, list(strides), list(per_layer))


class BlazeFaceDetector:
    """MediaPipe face detection (short or full range): a letterboxed whole-frame pass
    (``__call__``) and fully convolutional passes over tiles (``detect_batch``)."""

    # Anchor layouts from MediaPipe's face_detection_{short,full}_range graphs.
    LAYOUTS = {128: ((8, 16, 16, 16), (2, 2, 2, 2)), 192: ((4,), (1,))}
    NMS_IOU = 0.3
    BLEND_FLOOR = 0.5
    """MediaPipe's own score threshold: anchors below it are blended into a face's box only
    when no anchor of the face reaches it (the adaptive threshold admits weak small faces;
    at 0.3 its extra anchors tilted a 10 px face's keypoints until verification failed)."""

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        self.id = spec.id
        path = resolve_files(spec, allow_download)[0]
        self.session = get_session(path, device, threads=SMALL_GRAPH_THREADS)
        self.input_name = self.session.get_inputs()[0].name
        self.size = int(spec.input["size"][0])
        self.layout = self.LAYOUTS[self.size]

    def _decode(self, raw, logits, height: int, width: int, threshold: float):
        """One image's outputs -> boxes, 5 keypoints, scores in input pixels (weighted NMS)."""
        anchors = _ssd_anchors(height, width, *self.layout)
        # the sigmoid is monotonic: only anchors whose logit can reach the threshold are decoded
        # (a 384 px tile has ~9000 anchors, a handful above it)
        idx = np.flatnonzero(logits[:, 0] >= _logit(threshold) - 1e-3)
        boxes, kps, scores = det.decode_ssd(raw[idx], logits[idx, 0], anchors[idx], 6)
        keep = scores >= threshold
        boxes, kps, scores = det.nms(boxes[keep], kps[keep], scores[keep], self.NMS_IOU, weighted=True,
                                     blend_floor=self.BLEND_FLOOR)
        return boxes, keypoints5_from_blazeface(kps), scores

    def __call__(self, frame: np.ndarray, threshold: float):
        square, box = det.letterbox(frame, self.size)
        blob = ensure_finite(square[None] * np.float32(2 * unit_scale(frame)) - np.float32(1))
        raw, logits = self.session.run(None, {self.input_name: blob})
        boxes, kps, scores = self._decode(raw[0], logits[0], self.size, self.size, threshold)
        return box.to_frame(boxes.reshape(-1, 2, 2)).reshape(-1, 4), box.to_frame(kps), scores

    def detect_batch(self, images: np.ndarray, threshold: float):
        """Images ``[N, h, w, 3]`` (uint8 or float 0..1; h, w multiples of 32) at their own resolution
        -> a list of N ``(boxes, keypoints, scores)`` in image pixels (one call per image, side
        by side on the CPU cores: :func:`models.onnx.run_split`)."""
        blob = images.astype(np.float32) * np.float32(2 * unit_scale(images)) - np.float32(1.0)
        raw, logits = run_split(self.session, self.input_name, blob)
        h, w = images.shape[1:3]
        return [self._decode(r, l, h, w, threshold) for r, l in zip(raw, logits)]


class SCRFDDetector:
    """insightface SCRFD (``det_10g.onnx`` family): strides 8/16/32, 2 anchors, 5 keypoints.

    Input ``[1, 3, H, W]`` RGB, ``(x - 127.5) / 128``; outputs per stride: scores ``[N, 1]``,
    box distances ``[N, 4]`` and keypoint offsets ``[N, 10]`` (in strides), grouped
    ``scores x3, boxes x3, keypoints x3`` (a leading batch axis of 1 is accepted).
    """

    STRIDES = (8, 16, 32)
    ANCHORS = 2
    NMS_IOU = 0.4

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        self.id = spec.id
        path = resolve_files(spec, allow_download)[0]
        self.session = get_session(path, device)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape
        if len(inputs) != 1 or len(shape) != 4 or shape[1] != 3 or len(outputs) != 9:
            raise ValueError(f"{path.name} is not an SCRFD detector with keypoints: expected one "
                             f"[1,3,H,W] input and 9 outputs, got inputs "
                             f"{[i.shape for i in inputs]} and {len(outputs)} outputs")
        self.input_name = inputs[0].name
        fixed = [d for d in shape[2:] if isinstance(d, int)]
        self.size = fixed[0] if len(fixed) == 2 else int(spec.input["size"][0])

    def __call__(self, frame: np.ndarray, threshold: float):
        canvas, box = det.letterbox(frame, self.size, center=False)
        pixels = canvas.astype(np.float32) * np.float32(255 * unit_scale(frame))
        blob = ensure_finite(((pixels - 127.5) / 128.0).transpose(2, 0, 1)[None])
        outs = [o[0] if o.ndim == 3 else o for o in self.session.run(None, {self.input_name: blob})]
        boxes, kps, scores = [], [], []
        for level, stride in enumerate(self.STRIDES):
            centers = det.scrfd_anchor_centers(self.size, self.size, stride, self.ANCHORS)
            b, k, s = det.decode_scrfd(outs[level], outs[level + 3], outs[level + 6], centers, stride)
            keep = s >= threshold
            boxes.append(b[keep]), kps.append(k[keep]), scores.append(s[keep])
        boxes, kps, scores = det.nms(np.concatenate(boxes), np.concatenate(kps),
                                     np.concatenate(scores), self.NMS_IOU)
        return box.to_frame(boxes.reshape(-1, 2, 2)).reshape(-1, 4), box.to_frame(kps), scores

    def detect_batch(self, images: np.ndarray, threshold: float):
        """Tiles of the small-face scan, each letterboxed into the fixed input."""
        return [self(image, threshold) for image in images]


BACKENDS = {"mediapipe_blazeface": BlazeFaceDetector, "scrfd": SCRFDDetector}


def load_detector(model_id: str, device: str = "auto", allow_download: Optional[bool] = None):
    """The face detector for a manifest id of task ``detect``."""
    return load_backend(model_id, "detect", BACKENDS, device, allow_download)
