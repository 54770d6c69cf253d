"""Identity maths on face embeddings: distances, verdicts, averaging, quality and 1:N search.

Pure numpy.  Embeddings are float32 ``[D]`` or ``[N, D]`` rows, L2-normalised by
:func:`normalize`.  For unit vectors the two metrics are tied: ``euclidean = sqrt(2 * cosine)``
with ``cosine = 1 - a.b``; both are distances (0 identical, cosine <= 2, euclidean <= 2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS = ["cosine", "euclidean"]
AGGREGATES = ["mean", "median"]
UNKNOWN = "unknown"


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (``[..., D]``) scaled to unit length, as float32 (zero rows stay zero)."""
    x = np.asarray(x, np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")


def to_distance(similarity: np.ndarray, metric: str) -> np.ndarray:
    """Cosine similarities of unit vectors (any shape) -> distances in ``metric``."""
    check_metric(metric)
    cosine = np.clip(1.0 - np.asarray(similarity, np.float32), 0.0, 2.0)
    return cosine if metric == "cosine" else np.sqrt(2.0 * cosine)


def convert_distance(value: float, src: str, dst: str) -> float:
    """A distance between unit vectors expressed in metric ``src`` -> the same in ``dst``."""
    check_metric(src)
    cosine = value if src == "cosine" else value * value / 2.0
    return float(to_distance(1.0 - cosine, dst))


def distances(a: np.ndarray, b: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Pairwise distances ``[N, M]`` between ``a`` ``[N, D]`` and ``b`` ``[M, D]`` (one matmul)."""
    return to_distance(normalize(np.atleast_2d(a)) @ normalize(np.atleast_2d(b)).T, metric)


def match_score(distance: float, threshold: float) -> float:
    """A readable 0..100 score: 100 identical, 50 exactly at the threshold, 0 at twice it."""
    return float(np.clip(100.0 * (1.0 - distance / (2.0 * threshold)), 0.0, 100.0))


@dataclass(frozen=True)
class Verdict:
    """Whether two faces are one person: ``same`` when ``distance <= threshold``."""

    distance: float
    threshold: float
    metric: str

    @property
    def same(self) -> bool:
        return self.distance <= self.threshold

    @property
    def score(self) -> float:
        return match_score(self.distance, self.threshold)

    @property
    def text(self) -> str:
        sign = "<=" if self.same else ">"
        return (f"{'same person' if self.same else 'different people'}: {self.metric} distance "
                f"{self.distance:.3f} {sign} threshold {self.threshold:.3f} "
                f"(match {self.score:.0f}/100)")


def verify(a: np.ndarray, b: np.ndarray, threshold: float, metric: str = "cosine") -> Verdict:
    """The :class:`Verdict` for two embeddings ``[D]``."""
    return Verdict(float(distances(a, b, metric)[0, 0]), float(threshold), metric)


def aggregate(embeddings: np.ndarray, method: str = "mean",
              weights: np.ndarray | None = None) -> np.ndarray:
    """One unit embedding ``[D]`` from ``[K, D]`` ones: the (weighted) mean or the element-wise
    median of the normalised rows, normalised again.  ``weights`` ``[K]`` (e.g. quality) only
    affect the mean."""
    rows = normalize(np.atleast_2d(embeddings))
    if not len(rows):
        raise ValueError("no embeddings to combine")
    if method == "mean":
        w = np.ones(len(rows), np.float32) if weights is None else np.asarray(weights, np.float32)
        combined = (w[:, None] * rows).sum(0) / max(float(w.sum()), 1e-12)
    elif method == "median":
        combined = np.median(rows, axis=0)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {AGGREGATES}")
    return normalize(combined)


def top_k(probes: np.ndarray, gallery: np.ndarray, k: int,
          groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar gallery rows for every probe, best first.

    Args:
        probes: ``[P, D]`` unit embeddings.  gallery: ``[N, D]`` unit embeddings.
        groups: optional ``[G]`` start offsets of runs of rows that belong to one identity
            (rows sorted by identity): each identity then counts once, by its best row.
    Returns:
        ``(indices [P, k'], similarities [P, k'])`` with ``k' = min(k, N or G)``: indices are
        gallery rows (or group numbers when ``groups`` is given), similarities are cosines.
    """
    sims = np.atleast_2d(probes).astype(np.float32) @ np.asarray(gallery, np.float32).T
    return top_k_of(sims, k, groups)


def top_k_of(sims: np.ndarray, k: int,
             groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` from a precomputed similarity matrix ``[P, N]``."""
    if groups is not None:
        sims = np.maximum.reduceat(sims, groups, axis=1)
    k = min(int(k), sims.shape[1])
    if k <= 0:
        empty = np.zeros((sims.shape[0], 0))
        return empty.astype(np.int64), empty.astype(np.float32)
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    part_sims = np.take_along_axis(sims, part, axis=1)
    order = np.argsort(-part_sims, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_sims, order, axis=1)


# --------------------------------------------------------------------------- quality flags

SMALL_FACE = 40.0
"""Faces narrower than this (pixels) are flagged ``small``: the embedder sees upscaled blur."""
BLURRY = 0.35
"""A sharpness term (``vision.quality``) below this is flagged ``blurry``."""


def quality_flags(face_width: float, sharpness: float) -> tuple[str, ...]:
    """What makes a face unreliable for identity: ``small`` (< :data:`SMALL_FACE` px wide),
    ``blurry`` (the quality measure's sharpness term below :data:`BLURRY`)."""
    return tuple(name for name, bad in (("small", face_width < SMALL_FACE),
                                        ("blurry", sharpness < BLURRY)) if bad)


GATE_EPS = 0.05
"""Added to both qualities in :func:`fusion_gate`: two near-zero qualities (tiny faces) give an
even split instead of a ratio of noise."""


def fusion_gate(raw_quality: float, enhanced_quality: float) -> float:
    """Weight ``g`` of the raw face in ``g * raw + (1 - g) * enhanced`` (:func:`fuse`):
    ``g = (q_raw + eps) / (q_raw + q_enh + 2 eps)`` with ``eps`` = :data:`GATE_EPS`.

    The qualities are ``vision.quality`` scores (0..1) of the captured face and of the
    enhanced face, the latter measured with the captured face width as its resolution (so
    upscaling earns nothing; only sharpness, noise and blockiness can favour it).  Equal
    qualities give 0.5; the better face always gets the larger weight."""
    raw, enhanced = max(float(raw_quality), 0.0), max(float(enhanced_quality), 0.0)
    return (raw + GATE_EPS) / (raw + enhanced + 2 * GATE_EPS)


def fuse(raw: np.ndarray, enhanced: np.ndarray, gate: float) -> np.ndarray:
    """``normalize(g * raw + (1 - g) * enhanced)`` of two unit embeddings ``[D]``."""
    return normalize(gate * normalize(raw) + (1.0 - gate) * normalize(enhanced))


FULL_LAYER_SPAN = 2.0
"""The full-resolution layer counts as embedded at this multiple of the largest stored width
(96 px for widths up to 48): probes at least that wide use it alone."""


def layer_weights(widths: tuple[int, ...], face_width: float) -> list[tuple[int, float]]:
    """Which gallery layers a probe ``face_width`` px wide (as captured) is compared with, and
    how much each counts: ``[(layer, weight), ...]``, weights summing to 1, layer -1 = full
    resolution.

    Rule: the layers sit at their face widths on a log scale (the full layer at
    :data:`FULL_LAYER_SPAN` x the largest); a probe between two neighbours gets both, weighted
    by linear interpolation in log width (the nearer counts more); narrower than the smallest
    layer uses it alone; at or above the full layer's width, full resolution alone.  Gallery
    search combines cosine distances, and the "unknown" thresholds, with these weights."""
    if not widths:
        return [(-1, 1.0)]
    nominal = [float(w) for w in widths] + [FULL_LAYER_SPAN * max(widths)]
    layers = list(range(len(widths))) + [-1]
    width = max(float(face_width), 1.0)
    if width >= nominal[-1]:
        return [(-1, 1.0)]
    if width <= nominal[0]:
        return [(0, 1.0)]
    j = int(np.searchsorted(nominal, width, side="right")) - 1
    share = float(np.log(width / nominal[j]) / np.log(nominal[j + 1] / nominal[j]))
    return [(layers[j], 1.0 - share), (layers[j + 1], share)]


def cluster(embeddings: np.ndarray, threshold, order: np.ndarray | None = None) -> np.ndarray:
    """Group unit embeddings ``[N, D]`` into people: ``[N]`` group numbers (0, 1, ... in order
    of first appearance along ``order``, default row order).

    Greedy leader clustering: rows are visited in ``order`` (e.g. best first); a row joins the
    group whose leader (its first row) is nearest, if within the stricter of the two rows'
    ``threshold`` (cosine distance; a scalar or ``[N]``, e.g. stricter for tiny faces), else it
    starts a new group.  Rows left out of ``order`` are labelled -1.  Deterministic;
    ``O(N x groups)``."""
    rows = normalize(np.atleast_2d(embeddings))
    limits = np.broadcast_to(np.asarray(threshold, np.float32), (len(rows),))
    order = np.arange(len(rows)) if order is None else np.asarray(order)
    labels = np.full(len(rows), -1, np.int64)
    leaders: list[int] = []
    for row in order:
        if leaders:
            dist = 1.0 - rows[leaders] @ rows[row]
            best = int(np.argmin(dist))
            if dist[best] <= min(limits[row], limits[leaders[best]]):
                labels[row] = best
                continue
        labels[row] = len(leaders)
        leaders.append(int(row))
    return labels
