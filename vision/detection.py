"""Face-detector post-processing: anchors, box decoding, NMS, thresholds, ordering, tiling.

Pure numpy: the model backends in ``models/`` run the networks and call these.  Boxes are
``[N, 4]`` ``x1, y1, x2, y2``; keypoints ``[N, K, 2]``; scores ``[N]`` in 0..1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

ORDERS = ["largest", "left_to_right", "top_to_bottom", "score"]


# --------------------------------------------------------------------------- pre-processing

@dataclass(frozen=True)
class Letterbox:
    """A frame resized into a square model input with its aspect ratio kept (padded)."""

    scale: float  # model pixels per frame pixel
    pad_x: float  # model pixels of padding on the left
    pad_y: float  # model pixels of padding on the top

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Model-input pixel coordinates ``[..., 2]`` -> frame pixels."""
        return (points - (self.pad_x, self.pad_y)) / self.scale


def letterbox(frame: np.ndarray, size: int, center: bool = True) -> tuple[np.ndarray, Letterbox]:
    """Resize ``frame`` ``[H, W, 3]`` into a ``size`` x ``size`` image, zero padded.

    ``center=True`` pads evenly (MediaPipe); ``False`` puts the image top-left (insightface).
    """
    h, w = frame.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    pad_x, pad_y = ((size - nw) // 2, (size - nh) // 2) if center else (0, 0)
    out = np.zeros((size, size, frame.shape[2]), frame.dtype)
    out[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized
    return out, Letterbox(scale, float(pad_x), float(pad_y))


# --------------------------------------------------------------------------- BlazeFace (SSD)

def ssd_anchor_centers(input_size: int, strides: list[int], anchors_per_layer: list[int]) -> np.ndarray:
    """Anchor centres ``[N, 2]`` in 0..1 for MediaPipe's fixed-size SSD anchors.

    Consecutive layers with the same stride share one feature map; every anchor at a
    location has the same centre (``fixed_anchor_size``), so only the count matters.
    """
    centers = []
    i = 0
    while i < len(strides):
        stride, count = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            count += anchors_per_layer[i]
            i += 1
        n = math.ceil(input_size / stride)
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs, ys], -1).reshape(-1, 1, 2)
        centers.append(np.repeat(grid, count, axis=1).reshape(-1, 2))
    return np.concatenate(centers).astype(np.float32)


def decode_ssd(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray, input_size: int,
               num_keypoints: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode MediaPipe SSD outputs into model-input pixels.

    Args:
        raw: ``[N, 4 + 2K]`` regressors (centre offset, size, keypoint offsets, in pixels).
        logits: ``[N]`` raw scores (clipped to +-100, then sigmoid).
        anchors: ``[N, 2]`` centres in 0..1.
    Returns: boxes ``[N, 4]``, keypoints ``[N, K, 2]``, scores ``[N]``.
    """
    centers = anchors * input_size
    cxcy = raw[:, :2] + centers
    wh = raw[:, 2:4]
    boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1)
    kps = raw[:, 4:4 + 2 * num_keypoints].reshape(-1, num_keypoints, 2) + centers[:, None]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
    return boxes, kps, scores


# --------------------------------------------------------------------------- SCRFD

def scrfd_anchor_centers(height: int, width: int, stride: int, num_anchors: int) -> np.ndarray:
    """``[H/stride * W/stride * num_anchors, 2]`` anchor centres in input pixels (row-major)."""
    fh, fw = height // stride, width // stride
    ys, xs = np.mgrid[:fh, :fw]
    centers = (np.stack([xs, ys], -1).reshape(-1, 2) * stride).astype(np.float32)
    return np.repeat(centers, num_anchors, axis=0)


def decode_scrfd(scores: np.ndarray, distances: np.ndarray, kps: np.ndarray | None,
                 centers: np.ndarray, stride: int):
    """Decode one SCRFD stride level: distances (l, t, r, b) and keypoint offsets in strides."""
    d = distances * stride
    boxes = np.concatenate([centers - d[:, :2], centers + d[:, 2:]], axis=1)
    points = None
    if kps is not None:
        points = kps.reshape(len(kps), -1, 2) * stride + centers[:, None]
    return boxes, points, scores.reshape(-1)


# --------------------------------------------------------------------------- NMS

def iou(box: np.ndarray, boxes: np.ndarray, containment: bool = False) -> np.ndarray:
    """Intersection over union of one box ``[4]`` with each of ``boxes`` ``[N, 4]``
    (over the smaller area instead when ``containment``: a box inside another scores 1)."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)
    if containment:
        return inter / np.maximum(np.minimum(area(box), area(boxes)), 1e-9)
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, iou_threshold: float,
        weighted: bool = False, containment: bool = False):
    """Non-maximum suppression, highest score first.

    ``weighted=True`` is MediaPipe's blending NMS: each kept detection's box and keypoints
    become the score-weighted mean of the detections it suppresses (steadier boxes).
    ``containment=True`` also suppresses boxes lying mostly inside a better one (merging
    detections of one face from windows of different sizes).
    Returns boxes, keypoints, scores of the kept detections, by descending score.
    """
    order = np.argsort(-scores)
    boxes, kps, scores = boxes[order], kps[order], scores[order]
    keep_b, keep_k, keep_s = [], [], []
    remaining = np.arange(len(scores))
    while remaining.size:
        top = remaining[0]
        overlap = iou(boxes[top], boxes[remaining], containment) > iou_threshold
        group = remaining[overlap]
        if weighted:
            w = scores[group][:, None]
            keep_b.append((boxes[group] * w).sum(0) / w.sum())
            keep_k.append((kps[group] * w[:, :, None]).sum(0) / w.sum())
        else:
            keep_b.append(boxes[top])
            keep_k.append(kps[top])
        keep_s.append(scores[top])
        remaining = remaining[~overlap]
    if not keep_s:
        return boxes[:0], kps[:0], scores[:0]
    return np.array(keep_b, np.float32), np.array(keep_k, np.float32), np.array(keep_s, np.float32)


# --------------------------------------------------------------------------- selection

def adaptive_threshold(threshold: float, min_side: int, floor_ratio: float = 0.6,
                       small: int = 48, large: int = 256) -> float:
    """Lower the score threshold for small images, where detectors are less confident.

    At ``large`` px (shorter side) and above the threshold is unchanged; at ``small`` px and
    below it is ``threshold * floor_ratio`` (0.5 -> 0.3 at 48x48, as the seed pipeline does);
    in between it falls linearly in log-size.
    """
    t = (math.log(large) - math.log(max(min_side, 1))) / (math.log(large) - math.log(small))
    return threshold * (1.0 - (1.0 - floor_ratio) * min(max(t, 0.0), 1.0))


def order_indices(boxes: np.ndarray, scores: np.ndarray, order: str) -> np.ndarray:
    """Indices sorting detections by ``order`` (one of :data:`ORDERS`)."""
    if order == "largest":
        key = -(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    elif order == "left_to_right":
        key = boxes[:, 0] + boxes[:, 2]
    elif order == "top_to_bottom":
        key = boxes[:, 1] + boxes[:, 3]
    elif order == "score":
        key = -scores
    else:
        raise ValueError(f"unknown face order {order!r}; choose one of {ORDERS}")
    return np.argsort(key, kind="stable")


# --------------------------------------------------------------------------- tiling

def tile_pyramid(height: int, width: int, min_tile: int, levels: int = 2) -> list[tuple[int, int, int, int]]:
    """Square windows ``(x0, y0, x1, y1)`` at sizes 1/2, 1/4, ... of the frame's longer side
    (down to ``min_tile``, at most ``levels`` sizes), each overlapping its neighbours by half.

    A face of width ``s`` then lies whole inside some window 2-4 ``s`` wide, where it is
    25-50% of the model's input: the range BlazeFace was trained for.  Whole-frame detection
    alone sees a 720p frame at 128-192 px and misses faces under about 96 px.
    """
    windows = []
    tile = max(height, width) // 2
    while tile >= min_tile and levels > 0:
        step = tile // 2
        ys = sorted({*range(0, max(height - tile, 0) + 1, step), max(height - tile, 0)})
        xs = sorted({*range(0, max(width - tile, 0) + 1, step), max(width - tile, 0)})
        windows += [(x, y, min(x + tile, width), min(y + tile, height)) for y in ys for x in xs]
        tile //= 2
        levels -= 1
    return windows


# --------------------------------------------------------------------------- whole search

SCANS = ["auto", "whole_frame", "whole_frame+tiles"]
MIN_TILE = 256
"""Smallest window of the tile pyramid (see :func:`tile_pyramid`)."""


def _tile_detections(frame: np.ndarray, detect, threshold: float):
    """Detections from overlapping tiles, dropping those cut by an inner tile edge."""
    h, w = frame.shape[:2]
    found = []
    for x0, y0, x1, y1 in tile_pyramid(h, w, MIN_TILE):
        boxes, kps, scores = detect(frame[y0:y1, x0:x1], threshold)
        inner = np.array([x0 > 0, y0 > 0, x1 < w, y1 < h])
        cut = ((boxes[:, :2] <= 1) & inner[:2]).any(1) | \
              ((boxes[:, 2:] >= (x1 - x0 - 1, y1 - y0 - 1)) & inner[2:]).any(1)
        offset = np.array([x0, y0], np.float32)
        found.append((boxes[~cut] + np.tile(offset, 2), kps[~cut] + offset, scores[~cut]))
    return found


def find_faces(frame: np.ndarray, detect, *, threshold: float = 0.5, adaptive: bool = True,
               max_faces: int = 0, order: str = "largest", min_size: float = 0.0,
               scan: str = "auto"):
    """Detect faces in one ``uint8`` RGB frame ``[H, W, 3]``.

    Args:
        detect: a detector, ``detect(frame, threshold) -> (boxes, keypoints, scores)``.
        threshold: minimum score in 0..1; lowered for small frames when ``adaptive``
            (:func:`adaptive_threshold`).
        max_faces: keep at most this many after ordering (0 keeps all).
        order: one of :data:`ORDERS`.
        min_size: drop faces whose box is narrower than this many pixels.
        scan: ``whole_frame`` (fastest); ``whole_frame+tiles`` also scans a pyramid of
            overlapping windows for small faces (:func:`tile_pyramid`, merged by NMS);
            ``auto`` scans the windows only when the whole frame gave no face and the frame's
            longer side exceeds 512 px (no extra cost whenever a face is found).

    Returns: boxes ``[N, 4]``, keypoints ``[N, 5, 2]``, scores ``[N]``; N may be 0.
    """
    if scan not in SCANS:
        raise ValueError(f"unknown scan {scan!r}; choose one of {SCANS}")
    h, w = frame.shape[:2]
    if adaptive:
        threshold = adaptive_threshold(threshold, min(h, w))
    found = [detect(frame, threshold)]
    if scan == "whole_frame+tiles" or (scan == "auto" and not len(found[0][2]) and max(h, w) > 512):
        found += _tile_detections(frame, detect, threshold)
    boxes, kps, scores = (np.concatenate(parts).astype(np.float32) for parts in zip(*found))
    if len(found) > 1:
        boxes, kps, scores = nms(boxes, kps, scores, 0.3, containment=True)
    keep = (boxes[:, 2] - boxes[:, 0]) >= min_size
    boxes, kps, scores = boxes[keep], kps[keep], scores[keep]
    idx = order_indices(boxes, scores, order)
    if max_faces > 0:
        idx = idx[:max_faces]
    return boxes[idx], kps[idx], scores[idx]
