"""Face-detector post-processing: anchors, box decoding, NMS, thresholds, ordering, tiling.

Pure numpy: the model backends in ``models/`` run the networks and call these.  Boxes are
``[N, 4]`` ``x1, y1, x2, y2``; keypoints ``[N, K, 2]``; scores ``[N]`` in 0..1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .image import as_uint8, shrink_area, unit_scale

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
    if scale < 1:
        resized = shrink_area(frame, (nw, nh))
    else:
        resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = ((size - nw) // 2, (size - nh) // 2) if center else (0, 0)
    out = np.zeros((size, size, frame.shape[2]), frame.dtype)
    out[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized
    return out, Letterbox(scale, float(pad_x), float(pad_y))


# --------------------------------------------------------------------------- BlazeFace (SSD)

def ssd_anchor_centers(height: int, width: int, strides: list[int],
                       anchors_per_layer: list[int]) -> np.ndarray:
    """Anchor centres ``[N, 2]`` in input pixels for MediaPipe's fixed-size SSD anchors on an
    input of ``height`` x ``width`` (the native 128x128 / 192x192 or any multiple of 32: the
    detectors run fully convolutionally).

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
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid((np.arange(ny) + 0.5) * height / ny, (np.arange(nx) + 0.5) * width / nx,
                             indexing="ij")
        grid = np.stack([xs, ys], -1).reshape(-1, 1, 2)
        centers.append(np.repeat(grid, count, axis=1).reshape(-1, 2))
    return np.concatenate(centers).astype(np.float32)


def decode_ssd(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
               num_keypoints: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode MediaPipe SSD outputs into model-input pixels.

    Args:
        raw: ``[N, 4 + 2K]`` regressors (centre offset, size, keypoint offsets, in pixels).
        logits: ``[N]`` raw scores (clipped to +-100, then sigmoid).
        anchors: ``[N, 2]`` centres in input pixels (:func:`ssd_anchor_centers`).
    Returns: boxes ``[N, 4]``, keypoints ``[N, K, 2]``, scores ``[N]``.
    """
    cxcy = raw[:, :2] + anchors
    wh = raw[:, 2:4]
    boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1)
    kps = raw[:, 4:4 + 2 * num_keypoints].reshape(-1, num_keypoints, 2) + anchors[:, None]
    clipped = np.minimum(np.maximum(logits.astype(np.float64), -100.0), 100.0)  # np.clip, cheaper
    scores = 1.0 / (1.0 + np.exp(-clipped))
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
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)  # np.clip's wrapper costs more
    area = lambda b: np.maximum(b[..., 2] - b[..., 0], 0) * np.maximum(b[..., 3] - b[..., 1], 0)
    if containment:
        return inter / np.maximum(np.minimum(area(box), area(boxes)), 1e-9)
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def nms_indices(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
                containment: bool = False) -> np.ndarray:
    """Indices of the detections plain NMS keeps, by descending score (``containment``: see
    :func:`nms`)."""
    if len(scores) < 2:
        return np.arange(len(scores))
    remaining = np.argsort(-scores, kind="stable")
    keep = []
    while remaining.size:
        keep.append(remaining[0])
        remaining = remaining[iou(boxes[remaining[0]], boxes[remaining], containment) <= iou_threshold]
    return np.array(keep, np.int64)


def nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, iou_threshold: float,
        weighted: bool = False, containment: bool = False, blend_floor: float = 0.0):
    """Non-maximum suppression, highest score first.

    ``weighted=True`` is MediaPipe's blending NMS: each kept detection's box and keypoints
    become the score-weighted mean of the detections it suppresses (steadier boxes), of those
    scoring at least ``blend_floor`` when the kept one does (so a threshold lowered to admit
    weak faces does not move the boxes of confident ones).
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
            if scores[top] >= blend_floor:
                group = group[scores[group] >= blend_floor]
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


# --------------------------------------------------------------------------- search

SCANS = ["auto", "whole_frame", "whole_frame+tiles"]
ROTATIONS = ["0", "0,180", "0,90,270", "0,90,180,270"]
FACE_RANGE = (16, 100)
"""Face widths (model-input pixels) MediaPipe's short-range detector finds reliably when it
runs at a frame's own resolution: 16 px at 92%, 24-100 px at 100% (calibration: the six test
portraits pasted into flat and synthetic busy 1280x720 frames, seed 7; not the asserted
frames).  The whole-frame pass sees the same range at ``size / longer side`` scale."""
TILE_OVERLAP = 64
"""Tile overlap in model pixels: a face up to this wide lies whole in some tile; wider ones
are found whole at the next, coarser level."""
MAX_TILE = 384
"""Largest tile side (model pixels).  Each tile is one call (on the CPU), so tiles are sized
for the CPU caches: 384 px tiles cost 35% less than 512 px ones on a 720p level (one
core's time, measured here) although they overlap more."""
SCAN_PAD = 32
"""Mirror padding (model pixels) around each scan level: a face cut by the frame edge becomes
whole with its mirror image (faces are nearly symmetric); up to 64 px at a level, wider ones
at a coarser level."""
EDGE_PAD = 0.25
"""Mirror padding, as a fraction of the longer side, of the edge pass (the whole-frame pass on
the padded frame) for faces too large for the scan, e.g. a selfie's foreground face."""
EDGE_MIN_WIDTH = 0.1
"""Edge-pass faces narrower than this fraction of the longer side are dropped (smaller cut
faces are the scan's; mirror symmetry makes small false faces)."""
NMS_OVERLAP = 0.3
"""Detections of the passes overlapping more than this (intersection over the smaller box) are
one face: the higher-priority pass's (whole frame, then edge, then scan) is kept."""
PRESENCE_THRESHOLD = 0.5
"""Verified candidates need at least this face-presence probability."""
SCAN_ACCEPT = 0.6
"""Detector score x presence probability a candidate of the edge pass or the small-face scan
needs (those passes look at ~10x more windows than the whole-frame pass, so they need firmer
evidence).  Fitted on calibration frames (tests/scenes.py crowd frames, seeds 300-464, and
busy face-free 720p frames, seeds 7000-7024 and 9000-9039; the tests assert on other seeds):
real faces of 16-64 px scored >= 0.63, false candidates <= 0.59."""
EDGE_ACCEPT = 0.8
"""The same for candidates reaching past the frame border: their outside half is a mirror
image, and mirror symmetry alone makes face-like patterns (a collar badge cut by the frame
edge scored 0.62 in a calibration portrait; a half face cut by the edge scored 0.89, as Obama 3
cut at the left edge does; the test asserts on Grace Hopper cut at either edge, 0.95 / 0.85)."""
FLAT_STD = 2.0
"""Tiles whose grey level varies less than this (std, in 0..255 levels) hold no face and are
skipped."""


LEVEL_STEP = 4
"""Scale ratio between scan levels.  A level sees faces of :data:`FACE_RANGE` (16-100 model
pixels, a 6x span), so levels 4x apart still overlap (a face of 64-100 px at one level is
16-25 px at the next) and every face size is seen at a size the detector finds reliably; a
halving pyramid looked at 1.33x the pixels of the full-resolution level for nothing."""
SMALLEST_FACE_FRACTION = 1 / 120
"""Beyond 1920 px the scan looks for faces down to this fraction of the longer side (not
16 px): a 16 px face in a 4096 px photo would cost 4.5x the pixels of a 1080p frame."""


def scan_scales(height: int, width: int, input_size: int) -> list[float]:
    """Scales of the pyramid levels a frame needs beyond the whole-frame pass: 1, 1/4, 1/16,
    ... (:data:`LEVEL_STEP`; starting lower for frames over 1920 px, :data:`SMALLEST_FACE_FRACTION`) until a
    level sees every face size the whole-frame pass (``input_size`` / longer side) cannot.
    ``[]`` when the whole-frame pass already sees faces of 16 px."""
    longest = max(height, width)
    whole = input_size / longest
    scale = 1.0
    while scale * longest * SMALLEST_FACE_FRACTION > 2 * FACE_RANGE[0]:
        scale /= 2
    scales = []
    while scale > whole:
        scales.append(scale)
        if FACE_RANGE[1] / scale >= FACE_RANGE[0] / whole:
            break
        scale /= LEVEL_STEP
    return scales


def _axis_tiles(length: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """Tile side (a multiple of ``multiple``, at most :data:`MAX_TILE` unless one tile covers
    the axis) and origins covering ``length`` with at least ``overlap`` between neighbours."""
    count = max(1, math.ceil((length - overlap) / (MAX_TILE - overlap)))
    side = math.ceil((length + (count - 1) * overlap) / count / multiple) * multiple
    if count == 1:
        return side, [0]
    return side, [round(v) for v in np.linspace(0, length - side, count)]


def level_tiles(height: int, width: int, multiple: int = 32) -> tuple[int, int, list[tuple[int, int]]]:
    """Equal tiles over a ``height`` x ``width`` image: ``(tile_h, tile_w, [(x0, y0), ...])``.
    Tiles may reach past the image (zero padded) when it is smaller than one tile."""
    tile_h, ys = _axis_tiles(height, TILE_OVERLAP, multiple)
    tile_w, xs = _axis_tiles(width, TILE_OVERLAP, multiple)
    return tile_h, tile_w, [(x, y) for y in ys for x in xs]


def _cut_by_inner_edge(boxes: np.ndarray, x0: int, y0: int, tile_w: int, tile_h: int,
                       width: int, height: int) -> np.ndarray:
    """Detections touching a tile edge that is not the image's edge (cut faces: a
    neighbouring tile holds them whole)."""
    inner = np.array([x0 > 0, y0 > 0, x0 + tile_w < width, y0 + tile_h < height])
    return ((boxes[:, :2] <= 1) & inner[:2]).any(1) | \
           ((boxes[:, 2:] >= (tile_w - 1, tile_h - 1)) & inner[2:]).any(1)


def _covered(x0, y0, x1, y1, boxes: np.ndarray) -> bool:
    return bool(((boxes[:, 0] <= x0) & (boxes[:, 1] <= y0) &
                 (boxes[:, 2] >= x1) & (boxes[:, 3] >= y1)).any()) if len(boxes) else False


def scan_pyramid(frame: np.ndarray, detector, threshold: float, skip_boxes=None, skip_flat=False):
    """Small-face scan: the frame at each of :func:`scan_scales`, mirror-padded by
    :data:`SCAN_PAD` (so a face cut by the frame edge is completed by its mirror image) and
    cut into equal tiles, every level's tiles in one ``detector.detect_batch`` call
    (fully convolutional).  Detections centred outside the frame (mirror images) are dropped.

    ``skip_boxes`` ``[M, 4]``: tiles lying inside these (already verified) faces are skipped;
    ``skip_flat``: so are tiles without texture.  Returns a list of (boxes, keypoints, scores)
    in frame pixels, one per level.
    """
    h, w = frame.shape[:2]
    flat_std = FLAT_STD / 255 / unit_scale(frame)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if skip_flat else None
    found = []
    for scale in scan_scales(h, w, detector.size):
        lh, lw = max(1, round(h * scale)), max(1, round(w * scale))
        level = frame if scale == 1.0 else cv2.resize(frame, (lw, lh), interpolation=cv2.INTER_AREA)
        pad = min(SCAN_PAD, lh - 1, lw - 1)
        level = cv2.copyMakeBorder(level, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        tile_h, tile_w, origins = level_tiles(lh + 2 * pad, lw + 2 * pad)
        kept, batch = [], []
        for x0, y0 in origins:
            fx0, fy0 = max(x0 - pad, 0) / scale, max(y0 - pad, 0) / scale
            fx1, fy1 = min(x0 + tile_w - pad, lw) / scale, min(y0 + tile_h - pad, lh) / scale
            if skip_boxes is not None and _covered(fx0, fy0, fx1, fy1, skip_boxes):
                continue
            if grey is not None and grey[int(fy0):int(fy1), int(fx0):int(fx1)].std() < flat_std:
                continue
            tile = np.zeros((tile_h, tile_w, 3), frame.dtype)
            part = level[y0:y0 + tile_h, x0:x0 + tile_w]
            tile[:part.shape[0], :part.shape[1]] = part
            kept.append((x0, y0))
            batch.append(tile)
        if not batch:
            continue
        parts = []
        for (x0, y0), (boxes, kps, scores) in zip(kept, detector.detect_batch(np.stack(batch), threshold)):
            # faces cut by a tile edge are whole in a neighbour; faces beyond this level's
            # range are the next level's (or the whole-frame pass's)
            keep = ~_cut_by_inner_edge(boxes, x0, y0, tile_w, tile_h, lw + 2 * pad, lh + 2 * pad) & \
                (boxes[:, 2] - boxes[:, 0] <= 2 * FACE_RANGE[1])
            offset = np.array([x0 - pad, y0 - pad], np.float32)
            b, k = (boxes[keep] + np.tile(offset, 2)) / scale, (kps[keep] + offset) / scale
            cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
            inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
            parts.append((b[inside], k[inside], scores[keep][inside]))
        found.append(tuple(np.concatenate(p) for p in zip(*parts)))
    return found


def edge_pass(frame: np.ndarray, detector, threshold: float):
    """Faces cut by the frame edge: the whole-frame pass on the frame mirror-padded by
    :data:`EDGE_PAD` of its longer side; only detections crossing the frame border and
    centred inside it are kept (the rest are mirror images or found by the other passes).
    The frame is shrunk to the detector's scale before it is padded (the padded frame at full
    resolution would be 2.25x the frame's bytes, only to be shrunk)."""
    h, w = frame.shape[:2]
    pad = max(1, round(EDGE_PAD * max(h, w)))
    scale = min(1.0, detector.size / (max(h, w) + 2 * pad))
    small_pad = max(1, round(pad * scale))
    small = frame if scale == 1.0 else cv2.resize(
        frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    padded = cv2.copyMakeBorder(small, small_pad, small_pad, small_pad, small_pad,
                                cv2.BORDER_REFLECT_101)
    boxes, kps, scores = detector(padded, threshold)
    sx, sy = w / small.shape[1], h / small.shape[0]
    boxes = (boxes - small_pad) * np.array([sx, sy, sx, sy], np.float32)
    kps = (kps - small_pad) * np.array([sx, sy], np.float32)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    keep = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h) & \
           ((boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > w) | (boxes[:, 3] > h)) & \
           (boxes[:, 2] - boxes[:, 0] >= EDGE_MIN_WIDTH * max(h, w))
    return boxes[keep], kps[keep], scores[keep]


def rotate_frame(frame: np.ndarray, angle: int) -> np.ndarray:
    """``frame`` turned clockwise by ``angle`` (0, 90, 180, 270) degrees."""
    return np.ascontiguousarray(np.rot90(frame, -(angle // 90)))


def unrotate_points(points: np.ndarray, angle: int, height: int, width: int) -> np.ndarray:
    """Points ``[..., 2]`` in a frame turned clockwise by ``angle`` (:func:`rotate_frame`)
    -> the original ``height`` x ``width`` frame's pixels."""
    x, y = points[..., 0], points[..., 1]
    if angle == 90:    # rotated (x, y) = (H - y0, x0)
        x, y = y, height - x
    elif angle == 180:
        x, y = width - x, height - y
    elif angle == 270:  # rotated (x, y) = (y0, W - x0)
        x, y = width - y, x
    return np.stack([x, y], -1).astype(np.float32)


def _unrotate(parts, angle: int, height: int, width: int):
    boxes, kps, scores = parts
    corners = unrotate_points(boxes.reshape(-1, 2, 2), angle, height, width)
    boxes = np.concatenate([corners.min(1), corners.max(1)], 1)
    return boxes, unrotate_points(kps, angle, height, width), scores


def parse_rotations(rotations: str) -> list[int]:
    """``"0,90,270"`` -> ``[0, 90, 270]``; raises ``ValueError`` naming the input otherwise."""
    try:
        angles = [int(a) for a in str(rotations).split(",") if a.strip()]
    except ValueError:
        angles = []
    if not angles or any(a not in (0, 90, 180, 270) for a in angles):
        raise ValueError(f"rotations: expected angles from 0, 90, 180, 270 separated by commas "
                         f"(e.g. {ROTATIONS[-1]!r}), got {rotations!r}")
    return sorted(set(angles))


def find_faces(frame: np.ndarray, detector, *, threshold: float = 0.5, adaptive: bool = True,
               max_faces: int = 0, order: str = "largest", min_size: float = 0.0,
               scan: str = "auto", rotations: str = "0", verify=None,
               presence_threshold: float = PRESENCE_THRESHOLD):
    """Detect faces in one RGB frame ``[H, W, 3]`` (``uint8``, or float32 in ``0..1``).

    Args:
        detector: ``detector(frame, threshold) -> (boxes, keypoints, scores)`` (whole frame,
            letterboxed to its input ``detector.size``); for the small-face scan also
            ``detector.detect_batch(images [N, h, w, 3], threshold)`` -> one such triple per
            image, run fully convolutionally (h, w multiples of 32).
        threshold: minimum score in 0..1; lowered for small frames when ``adaptive``
            (:func:`adaptive_threshold`).
        max_faces: keep at most this many after ordering (0 keeps all).
        order: one of :data:`ORDERS`.
        min_size: drop faces whose box is narrower than this many pixels.
        scan: ``whole_frame``: one letterboxed pass (finds faces wider than about 1/8 of the
            frame's longer side). ``auto`` (default): that pass, its candidates verified, then
            an edge pass for faces cut by the frame border (:func:`edge_pass`) and the
            small-face scan (:func:`scan_pyramid`) over the scales the frame's size hides
            from the whole-frame pass, skipping tiles inside verified faces and tiles without
            texture; found faces never stop the scan (a small second face may be anywhere).
            ``whole_frame+tiles``: the same without skipping any tile.
        rotations: one of :data:`ROTATIONS` (or any comma list of 0/90/180/270): also search
            the frame turned by these angles, for sideways or upside-down images; keypoints
            come back in the original frame, in the documented order for the upright face.
        verify: optional ``verify(boxes, keypoints) -> (probabilities [N], extras list)``, a
            second opinion per candidate (the face mesh's presence score); candidates below
            ``presence_threshold`` (default :data:`PRESENCE_THRESHOLD`) are dropped, and
            those of the edge pass and the scan unless detector score x presence reaches
            :data:`SCAN_ACCEPT` (:data:`EDGE_ACCEPT` past the frame border).  The extras (e.g.
            the mesh it placed) are returned per face.

    Detections of one face from several passes are merged by NMS (overlap or containment):
    the whole-frame pass's detection wins, then the edge pass's, then the scan's; within a
    pass the higher detector score x presence probability.

    Returns: boxes ``[N, 4]``, keypoints ``[N, 5, 2]``, scores ``[N]``, extras (list of N,
    ``None`` without ``verify``); N may be 0.
    """
    if scan not in SCANS:
        raise ValueError(f"unknown scan {scan!r}; choose one of {SCANS}")
    angles = parse_rotations(rotations)
    h, w = frame.shape[:2]
    if adaptive:
        threshold = adaptive_threshold(threshold, min(h, w))
    boxes, kps, scores, extras, rank = [], [], [], [], []

    def add(parts, priority: float, accept: float = 0.0):
        b, k, s = (np.asarray(p, np.float32) for p in parts)
        if accept:
            outside = (b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 2] > w) | (b[:, 3] > h)
            accept = np.where(outside, EDGE_ACCEPT, accept)
        else:
            accept = np.zeros(len(s), np.float32)
        firm = s >= accept  # presence <= 1: a weaker candidate cannot reach ``accept``
        # a candidate that a kept face of a higher-priority pass covers loses the final NMS to
        # it whatever its presence: no need to verify it (a large face yields many such parts)
        outranking = np.array([box for box, r in zip(boxes, rank) if r >= priority + 1])
        for i in np.flatnonzero(firm) if len(outranking) else ():
            firm[i] = (iou(b[i], outranking, containment=True) <= NMS_OVERLAP).all()
        b, k, s, accept = b[firm], k[firm], s[firm], accept[firm]
        if not len(s):
            return
        if verify is None:
            presence, found = np.ones(len(s), np.float32), [None] * len(s)
        else:
            presence, found = verify(b, k)
            presence = np.asarray(presence, np.float32)
        keep = (presence >= (presence_threshold if verify else 0)) & (s * presence >= accept)
        for i in np.flatnonzero(keep):
            boxes.append(b[i]), kps.append(k[i]), scores.append(s[i])
            extras.append(found[i]), rank.append(priority + s[i] * presence[i])

    for angle in angles:
        view = rotate_frame(frame, angle)
        back = (lambda parts, a=angle: _unrotate(parts, a, h, w)) if angle else (lambda parts: parts)
        add(back(detector(view, threshold)), 2.0)
        if scan == "whole_frame":
            continue
        view = as_uint8(view)  # the scan pads and resizes whole frames: a quarter of the bytes
        add(back(edge_pass(view, detector, threshold)), 1.0, SCAN_ACCEPT)
        skip = None
        if scan == "auto" and boxes:
            skip = _rotate_boxes(np.array(boxes), angle, h, w)
        for parts in scan_pyramid(view, detector, threshold, skip_boxes=skip, skip_flat=scan == "auto"):
            add(back(parts), 0.0, SCAN_ACCEPT)
    if not scores:
        return np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), \
            np.zeros(0, np.float32), []
    boxes, kps, scores, rank = np.array(boxes), np.array(kps), np.array(scores), np.array(rank)
    idx = nms_indices(boxes, rank, NMS_OVERLAP, containment=True)
    idx = idx[(boxes[idx, 2] - boxes[idx, 0]) >= min_size]
    idx = idx[order_indices(boxes[idx], scores[idx], order)]
    if max_faces > 0:
        idx = idx[:max_faces]
    return boxes[idx], kps[idx], scores[idx], [extras[i] for i in idx]


def _rotate_boxes(boxes: np.ndarray, angle: int, height: int, width: int) -> np.ndarray:
    """Frame boxes -> boxes in the frame turned clockwise by ``angle`` (inverse of
    :func:`_unrotate` for boxes)."""
    if not angle:
        return boxes
    corners = boxes.reshape(-1, 2, 2)
    x, y = corners[..., 0], corners[..., 1]
    if angle == 90:
        x, y = height - y, x
    elif angle == 180:
        x, y = width - x, height - y
    else:
        x, y = y, width - x
    pts = np.stack([x, y], -1)
    return np.concatenate([pts.min(1), pts.max(1)], 1)
