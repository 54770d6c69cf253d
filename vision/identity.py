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


def width_layer(widths: tuple[int, ...], face_width: float) -> int:
    """Index of the stored face width to compare a probe ``face_width`` px wide with, or -1 for
    the full-resolution layer (probe wider than 1.5x the largest stored width).  The nearest
    width on a log scale wins."""
    if not widths or face_width > 1.5 * max(widths):
        return -1
    return int(np.argmin(np.abs(np.log(np.asarray(widths, np.float64) / max(face_width, 1.0)))))
