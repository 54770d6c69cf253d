"""Face tracks across video frames: association, adaptive smoothing, cuts and lost-frame filling.

A :class:`FaceTracker` takes the faces observed in each frame, in frame order, and returns them
with a ``track_id`` (the same person keeps the same id), their geometry smoothed over time, and
a made-up face (``filled=True``) for a track briefly lost.  Everything is causal, so a long
video can be fed in chunks and the tracker (its whole state) carried from one chunk to the next.

Conventions: time is counted in frames; a face's scale is its inter-ocular distance (IOD, pixels
between keypoints 0 and 1); speeds are IOD per frame.  Smoothed fields are ``box``,
``keypoints``, ``landmarks`` and ``matrix`` (all filtered with one gain per face, so keypoints
taken from the landmarks stay exactly consistent with them); ``pose`` is recomputed from the
smoothed landmarks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import cv2
import numpy as np

from .detection import iou
from .face import Face
from .geometry import similarity_transform, transform_points
from .landmarks import head_pose

SMOOTHED_FIELDS = ("box", "keypoints", "landmarks", "matrix")


def inter_ocular(face: Face) -> float:
    """Pixels between the two eye keypoints (at least 1)."""
    return max(float(np.linalg.norm(face.keypoints[1] - face.keypoints[0])), 1.0)


def rigid_motion(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """The least-squares similarity ``[2, 3]`` (shift, rotation, zoom) from points ``a`` to
    ``b`` (``[N, 2]``) and the RMS distance it moves the points, in pixels.  Fitting one rigid
    motion to all points averages out per-point noise, so a still head reads near 0 while
    every real head motion (rotation and zoom too) reads high."""
    m = similarity_transform(a, b)
    moved = transform_points(a, m)
    return m, float(np.sqrt(((moved - a) ** 2).sum(1).mean()))


def _gain(cutoff: float) -> float:
    """Exponential-smoothing gain of a first-order low-pass at ``cutoff`` cycles per frame."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff))


def _points(values: dict) -> np.ndarray:
    """``[N, 2]`` points that place the face: its 468 mesh points, else its 5 keypoints."""
    return values["landmarks"][:468, :2] if "landmarks" in values else values["keypoints"]


def _moved(values: dict, m: np.ndarray) -> dict:
    """Smoothed fields moved by the frame-to-frame similarity ``m`` ``[2, 3]``."""
    out = {}
    for name, value in values.items():
        if name == "box":
            out[name] = transform_points(value.reshape(2, 2), m).reshape(4)
        elif name == "matrix":  # frame -> crop map: crop = M (m^-1 frame)
            out[name] = value @ np.vstack([cv2.invertAffineTransform(m), [0, 0, 1]])
        else:
            out[name] = transform_points(value, m)
    return {k: v.astype(np.float32) for k, v in out.items()}


IDENTITY = np.eye(2, 3, dtype=np.float32)


@dataclass
class OneEuroFilter:
    """One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) around a constant-velocity
    prediction, over the arrays of one face.

    Each frame the previous estimate is moved by the head's recent frame-to-frame rigid motion
    (the prediction), then pulled toward the new measurement with a gain whose cutoff is
    ``min_cutoff + beta * speed``, speed being how far the measurement is from the prediction
    (IOD per frame, low-passed at ``speed_cutoff``).  A still or steadily moving head is
    smoothed strongly with no lag; a sudden move opens the gain at once.  Cutoffs in cycles
    per frame; ``velocity_gain``: how fast the motion estimate follows (0: no prediction).
    """

    min_cutoff: float = 0.02
    beta: float = 8.0
    speed_cutoff: float = 0.5
    velocity_gain: float = 0.5
    values: dict = field(default_factory=dict)
    motion: np.ndarray = field(default_factory=lambda: IDENTITY.copy())
    speed: float = 0.0

    def __call__(self, values: dict, scale: float) -> dict:
        """Filtered copies of ``values`` (name -> array) of a face of size ``scale`` (IOD,
        pixels); the first call, and a change of fields (e.g. landmarks appearing), restarts
        from the measurement."""
        values = {k: np.asarray(v, np.float32) for k, v in values.items()}
        same = self.values.keys() == values.keys() and all(
            self.values[k].shape == v.shape for k, v in values.items())
        if not same:
            self.values, self.motion, self.speed = values, IDENTITY.copy(), 0.0
            return {k: v.copy() for k, v in values.items()}
        predicted = _moved(self.values, self.motion)
        _, distance = rigid_motion(_points(predicted), _points(values))
        self.speed += _gain(self.speed_cutoff) * (distance / max(scale, 1.0) - self.speed)
        a = _gain(self.min_cutoff + self.beta * self.speed)
        out = {k: predicted[k] + a * (values[k] - predicted[k]) for k in values}
        step, _ = rigid_motion(_points(self.values), _points(out))
        self.motion = self.motion + self.velocity_gain * (step - self.motion)
        self.values = out
        return {k: v.copy() for k, v in out.items()}


@dataclass
class StatsSmoother:
    """One-Euro low-pass of a vector of per-frame statistics of one track (e.g. the colour
    transfer's L*a*b* means and standard deviations, ``[4, 3]``), so a swapped face's colour
    does not pump with lighting noise, mask jitter or flicker around it.

    The gain's cutoff is ``min_cutoff + beta * speed`` cycles per frame, ``speed`` being the
    largest component of the low-passed (at ``speed_cutoff``) signed difference between the
    measurement and the estimate, in the statistics' own units (L*a*b* for colour): flicker
    alternates in sign and averages out, so it is smoothed strongly, while a real change (a
    light switched on) keeps one sign, opens the gain and passes within a few frames.  The
    first call returns the measurement.
    """

    min_cutoff: float = 0.03
    beta: float = 0.03
    speed_cutoff: float = 0.1
    value: Optional[np.ndarray] = None
    trend: Optional[np.ndarray] = None

    def __call__(self, stats: np.ndarray) -> np.ndarray:
        stats = np.asarray(stats, np.float64)
        if self.value is None or self.value.shape != stats.shape:
            self.value, self.trend = stats.copy(), np.zeros_like(stats)
            return stats
        self.trend += _gain(self.speed_cutoff) * (stats - self.value - self.trend)
        speed = float(np.abs(self.trend).max())
        self.value = self.value + _gain(self.min_cutoff + self.beta * speed) * (stats - self.value)
        return self.value.copy()


@dataclass
class TrackerOptions:
    """Settings of :class:`FaceTracker` (the Track Faces node's inputs).

    Attributes:
        min_cutoff, beta: the One-Euro filter's (see :class:`OneEuroFilter`); ``beta = 0`` and
            ``min_cutoff >= 10`` turn smoothing off.
        max_gap: a track missed for up to this many frames is filled in; a longer loss ends it.
        max_distance: largest jump, in face widths, between a track's predicted centre and a
            face it may take.
        min_similarity: when both have embeddings, the smallest cosine similarity for a face to
            continue a track (stops ids from jumping between people at a crossing).
    """

    min_cutoff: float = 0.02
    beta: float = 8.0
    max_gap: int = 8
    max_distance: float = 0.6
    min_similarity: float = 0.3


@dataclass
class Track:
    """One person's state: last observed and last output face, filter, centre velocity."""

    id: int
    observed: Face
    output: Face
    filter: OneEuroFilter
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    missed: int = 0
    hits: int = 1

    def predicted_center(self) -> np.ndarray:
        return self.observed.center + self.velocity * (self.missed + 1)

    def predicted_box(self) -> np.ndarray:
        return self.observed.box + np.tile(self.velocity * (self.missed + 1), 2)


def shift_face(face: Face, offset: np.ndarray) -> Face:
    """``face`` moved by ``offset`` ``[2]`` pixels (box, keypoints, landmarks and matrix)."""
    changes = {"box": face.box + np.tile(offset, 2), "keypoints": face.keypoints + offset}
    if face.landmarks is not None:
        changes["landmarks"] = face.landmarks + np.array([*offset, 0], np.float32)
    if face.matrix is not None:
        m = face.matrix.copy()
        m[:, 2] -= m[:, :2] @ offset
        changes["matrix"] = m
    return face.with_(**changes)


def _with_smoothed(face: Face, values: dict) -> Face:
    changes = dict(values)
    if "landmarks" in values:
        changes["pose"] = head_pose(values["landmarks"])
    return face.with_(**changes)


MAX_SIZE_CHANGE = 1.4
"""Largest change of face width between a track and the face that continues it (a half-hidden
face's mesh comes out about half as wide: it must not pull the track)."""
CONFIRM_HITS = 3
"""A track seen in fewer frames is tentative: when lost it ends at once instead of being filled."""


def _without_duplicates(faces: Sequence[Face]) -> list[Face]:
    """Drop a face that covers (IoU > 0.5) one earlier in the order: hinted faces of older
    tracks first, then faces without a hint."""
    order = sorted(faces, key=lambda f: (f.track_id is None, f.track_id or 0))
    kept: list[Face] = []
    for face in order:
        if not kept or iou(face.box, np.stack([f.box for f in kept])).max() <= 0.5:
            kept.append(face)
    return kept


class FaceTracker:
    """Gives faces track ids, smooths them and fills short losses; feed frames in order.

    Association: each face continues the track whose constant-velocity prediction of the
    centre is nearest (within ``max_distance`` face widths, similar size), greedily by
    distance; when both have embeddings, a face of another identity (cosine similarity under
    ``min_similarity``) never continues the track and one of the same identity may come from
    three times further (people who swapped places behind an occlusion keep their ids).  A face
    that passes a ``track_id`` hint (from landmark tracking) continues that track.  Unmatched
    faces start new tracks.
    """

    def __init__(self, options: Optional[TrackerOptions] = None):
        self.options = options or TrackerOptions()
        self.tracks: list[Track] = []
        self.next_id = 0

    def end_all(self) -> None:
        """End every track (a scene cut): no smoothing or filling across it; ids are not reused."""
        self.tracks = []

    def _cost(self, track: Track, face: Face) -> float:
        width = max(track.observed.width, 1.0)
        cost = float(np.linalg.norm(face.center - track.predicted_center())) / width
        if not 1 / MAX_SIZE_CHANGE < face.width / width < MAX_SIZE_CHANGE:
            return math.inf
        reach = self.options.max_distance
        a, b = track.observed.embedding, face.embedding
        if a is not None and b is not None and a.shape == b.shape:
            similarity = float(a @ b)
            if similarity < self.options.min_similarity:
                return math.inf
            reach *= 3  # the same person by identity: may have moved further (an occlusion)
            cost *= 1.0 - 0.5 * similarity
        if cost > reach and iou(face.box, track.predicted_box()[None])[0] < 0.3:
            return math.inf
        return cost

    def _assign(self, faces: Sequence[Face]) -> dict[int, Track]:
        """Face index -> track it continues (faces that are part of a lost track's face are
        mapped to None: a half-hidden face must not start a new track)."""
        by_id = {t.id: t for t in self.tracks}
        matched: dict[int, Track] = {}
        for k, face in enumerate(faces):
            if face.track_id is not None and face.track_id in by_id:
                matched[k] = by_id.pop(face.track_id)
        pairs = sorted((self._cost(t, f), k, t.id) for k, f in enumerate(faces) if k not in matched
                       for t in by_id.values())
        for cost, k, tid in pairs:
            if math.isfinite(cost) and k not in matched and tid in by_id:
                matched[k] = by_id.pop(tid)
        lost = [t.predicted_box() for t in by_id.values() if t.hits >= CONFIRM_HITS]
        for k, face in enumerate(faces):
            if k not in matched and lost and iou(face.box, np.stack(lost), True).max() > 0.5:
                matched[k] = None
        return matched

    def update(self, faces: Sequence[Face]) -> tuple[Face, ...]:
        """The next frame's faces -> the same faces with ``track_id`` and smoothed geometry,
        plus a filled face for every confirmed track missed for at most ``max_gap`` frames
        (none while it is hidden behind another face: nothing of it is visible to replace);
        sorted by track id.  Of two faces on the same spot (IoU > 0.5) the older track's
        is kept."""
        opts = self.options
        faces = _without_duplicates(faces)
        matched = self._assign(faces)
        out, alive = [], []
        for k, face in enumerate(faces):
            if k in matched and matched[k] is None:
                continue
            track = matched.get(k)
            values = {n: getattr(face, n) for n in SMOOTHED_FIELDS if getattr(face, n) is not None}
            if track is None:
                track = Track(self.next_id, face, face, OneEuroFilter(opts.min_cutoff, opts.beta))
                self.next_id += 1
                track.filter(values, inter_ocular(face))
                smoothed = face
            else:
                smoothed = _with_smoothed(face, track.filter(values, inter_ocular(face)))
                step = (smoothed.center - track.output.center) / (track.missed + 1)
                track.velocity = track.velocity + 0.5 * (step - track.velocity)
                track.hits += 1
            track.observed, track.missed = face, 0
            track.output = smoothed.with_(track_id=track.id, filled=False)
            out.append(track.output)
            alive.append(track)
        taken = {id(t) for t in matched.values()}
        for track in self.tracks:
            if id(track) in taken:
                continue
            track.missed += 1
            if track.missed > opts.max_gap or track.hits < CONFIRM_HITS:
                continue
            filled = shift_face(track.output, track.velocity).with_(filled=True)
            track.output = filled
            out.append(filled)
            alive.append(track)
        self.tracks = alive
        real = [f.box for f in out if not f.filled]
        out = [f for f in out if not (f.filled and real and
                                      iou(f.box, np.stack(real), True).max() > 0.5)]
        return tuple(sorted(out, key=lambda f: f.track_id))


def _lerp_face(a: Face, b: Face, t: float, template: Face) -> Face:
    changes = {}
    for name in SMOOTHED_FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        if va is not None and vb is not None and va.shape == vb.shape:
            changes[name] = (1 - t) * va + t * vb
    return _with_smoothed(template, changes)


def interpolate_gaps(frames: Sequence[tuple[Face, ...]]) -> list[tuple[Face, ...]]:
    """Replace extrapolated (``filled``) faces that have a real face of the same track on both
    sides within ``frames`` by the linear interpolation between those two faces (offline
    batches: both sides are known).  Fills at the start or end of ``frames`` stay extrapolated."""
    frames = [list(f) for f in frames]
    where: dict[int, list[tuple[int, int]]] = {}
    for i, faces in enumerate(frames):
        for j, face in enumerate(faces):
            if face.track_id is not None:
                where.setdefault(face.track_id, []).append((i, j))
    for spots in where.values():
        real = [n for n, (i, j) in enumerate(spots) if not frames[i][j].filled]
        for lo, hi in zip(real, real[1:]):
            (i0, j0), (i1, j1) = spots[lo], spots[hi]
            for n in range(lo + 1, hi):
                i, j = spots[n]
                t = (i - i0) / (i1 - i0)
                frames[i][j] = _lerp_face(frames[i0][j0], frames[i1][j1], t, frames[i][j])
    return [tuple(f) for f in frames]


GRID = 4


def frame_signature(frame: np.ndarray) -> np.ndarray:
    """Colour histograms (4 x 4 x 4 bins, each summing to 1) of a 4 x 4 grid of cells of a
    ``uint8`` RGB frame: ``[16, 64]``, for :func:`is_cut`."""
    small = cv2.resize(frame[..., :3], (16 * GRID, 16 * GRID), interpolation=cv2.INTER_AREA)
    bins = (small // 64).astype(np.int64)
    codes = (bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2])
    cells = codes.reshape(GRID, 16, GRID, 16).transpose(0, 2, 1, 3).reshape(GRID * GRID, -1)
    hist = np.stack([np.bincount(c, minlength=64) for c in cells]).astype(np.float32)
    return hist / hist.sum(1, keepdims=True)


CUT_THRESHOLD = 0.75
"""Fraction of grid cells whose colours changed (Bhattacharyya distance > 0.5) above which a
cut is declared: camera motion changes few cells, a hand or a half-hidden face about half,
a cut nearly all (calibrated on pans, zooms and noise of the Grace Hopper portrait and on
Grace Hopper -> astronaut cuts; the tests assert on astronaut pans and a cut to Obama 2)."""


def cut_score(previous: np.ndarray, current: np.ndarray) -> float:
    """Fraction of grid cells whose colour histogram changed between two signatures."""
    distance = np.sqrt(np.clip(1 - np.sqrt(previous * current).sum(1), 0, 1))
    return float((distance > 0.5).mean())


def is_cut(previous: Optional[np.ndarray], current: np.ndarray,
           threshold: float = CUT_THRESHOLD) -> bool:
    """True when two frame signatures differ like a scene cut rather than camera motion."""
    return previous is not None and cut_score(previous, current) > threshold
