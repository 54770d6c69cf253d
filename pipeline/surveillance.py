"""Best frames per person over a batch of frames (video): rank every sighting, group sightings
into people by embedding, search each person in a gallery, and lay out a contact sheet.

Provenance: a person whose embeddings used enhanced pixels (``Face.enhanced``) is marked in the
JSON, the CSV, the text and the sheet's caption: enhanced images are not evidence on their own.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
import torch

from ..models.embedders import GROUP_THRESHOLDS, layer_threshold
from ..vision import identity
from ..vision.face import Face, FaceSet
from ..vision.gallery import Gallery, SearchResult
from ..vision.image import frame_uint8, to_image
from ..vision.quality import Quality, face_quality, frame_score, pose_frontality
from .faces import check_faces
from .identity import embedded_faces, layer_thresholds, resolve_threshold

TILE = 128
"""Side of one face tile of the contact sheet, pixels."""
PROVENANCE = ("ENHANCED pixels were used for identity: enhanced images are not evidence on "
              "their own; check the captured frames.")


@dataclass(frozen=True)
class Sighting:
    """One face in one frame: its quality terms measured on the captured frame, frontality,
    and reviewer rank ``score`` (``vision.quality.frame_score``)."""

    frame: int
    index: int
    face: Face
    measured: Quality
    frontality: float
    score: float


@dataclass(frozen=True)
class Person:
    """Sightings grouped as one person (best first) and the gallery's candidates for them."""

    number: int
    sightings: tuple[Sighting, ...]
    result: Optional[SearchResult]

    @property
    def enhanced(self) -> bool:
        return any(s.face.enhanced for s in self.sightings)

    @property
    def label(self) -> str:
        name = "no gallery" if self.result is None else self.result.identity
        return f"person {self.number}: {name}"


def sightings(image: torch.Tensor, faces: FaceSet) -> list[Sighting]:
    """Every embedded face with its quality terms (on the captured frame, at the captured
    width), frontality and frame score."""
    out, frames = [], {}
    for i, j, face in embedded_faces(faces):
        frame = frames.setdefault(i, frame_uint8(image, i))
        measured = face_quality(frame, face.keypoints, face.box, face.captured_width)
        front = pose_frontality(face.keypoints)
        out.append(Sighting(i, j, face, measured, front, frame_score(measured, front)))
    return out


def group_people(found: list[Sighting], gallery: Optional[Gallery], *, k: int = 3,
                 metric: str = "euclidean", threshold: float = 0.0,
                 group_threshold: float = 0.0) -> list[Person]:
    """Sightings grouped into people (``identity.cluster``, best score first; cosine limit
    ``group_threshold``, or by default each face's calibrated grouping limit at its captured
    width, ``models.embedders.GROUP_THRESHOLDS``: tiny faces all look alike), each searched in
    ``gallery`` by the score-weighted mean of its embeddings at its best sighting's width."""
    if not found:
        return []
    model = found[0].face.embedding_model
    limit = group_threshold if group_threshold > 0 else np.array(
        [layer_threshold(model, s.face.captured_width, GROUP_THRESHOLDS) for s in found])
    order = np.argsort([-s.score for s in found], kind="stable")
    labels = identity.cluster(np.stack([s.face.embedding for s in found]), limit, order)
    people = []
    for number in range(int(labels.max()) + 1):
        members = sorted((s for s, l in zip(found, labels) if l == number),
                         key=lambda s: -s.score)
        result = None
        if gallery is not None:
            weights = np.array([max(s.score, 1e-3) for s in members], np.float32)
            probe = identity.aggregate(np.stack([s.face.embedding for s in members]), "mean",
                                       weights)
            result = gallery.search(
                probe[None], resolve_threshold(threshold, gallery.model, metric), k=k,
                metric=metric, probe_widths=np.array([members[0].face.captured_width]),
                layer_thresholds=layer_thresholds(gallery, threshold, metric))[0]
        people.append(Person(number, tuple(members), result))
    return people


def report_json(people: list[Person], best: int) -> list[dict]:
    return [{"person": p.number, "identity": None if p.result is None else p.result.identity,
             "enhanced": p.enhanced, "sightings": len(p.sightings),
             "best_frames": [{"frame": s.frame, "face": s.index, "score": round(s.score, 3),
                              "quality": round(float(s.face.quality), 3),
                              "sharpness": round(s.measured.sharpness, 3),
                              "noise": round(s.measured.noise, 3),
                              "blockiness": round(s.measured.blockiness, 3),
                              "frontality": round(s.frontality, 2),
                              "captured_width": round(s.face.captured_width, 1),
                              "box": [round(float(v), 1) for v in s.face.box]}
                             for s in p.sightings[:best]],
             "matches": [] if p.result is None else
             [{"name": m.name, "distance": round(m.distance, 4), "score": round(m.score, 1)}
              for m in p.result.matches],
             "threshold": None if p.result is None else round(p.result.threshold, 4)}
            for p in people]


def report_csv(people: list[Person]) -> str:
    """One row per sighting: person, rank, frame, face, width, quality, frontality, score,
    identity, best match, its distance, enhanced."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["person", "rank", "frame", "face", "captured_width", "quality",
                     "frontality", "score", "identity", "best_match", "distance", "enhanced"])
    for p in people:
        best = p.result.matches[0] if p.result is not None and p.result.matches else None
        for rank, s in enumerate(p.sightings):
            writer.writerow([p.number, rank, s.frame, s.index, f"{s.face.captured_width:.1f}",
                             f"{s.face.quality:.3f}", f"{s.frontality:.2f}", f"{s.score:.3f}",
                             "" if p.result is None else p.result.identity,
                             "" if best is None else best.name,
                             "" if best is None else f"{best.distance:.4f}", s.face.enhanced])
    return out.getvalue()


def report_text(people: list[Person], best: int) -> str:
    lines = []
    for p in people:
        top = "" if p.result is None or not p.result.matches else \
            ", candidates " + ", ".join(f"{m.name} {m.distance:.3f}" for m in p.result.matches)
        frames_ = ", ".join(f"frame {s.frame} ({s.score:.2f})" for s in p.sightings[:best])
        lines.append(f"{p.label} in {len(p.sightings)} sighting(s){top}; best: {frames_}")
    if any(p.enhanced for p in people):
        lines.append(PROVENANCE)
    return "\n".join(lines) or "no faces"


def _tile(frame: np.ndarray, face: Face) -> np.ndarray:
    """A square crop 1.5 x the face's size around it, resized to TILE (nearest neighbour for
    small faces, so the reviewer sees the captured pixels, not invented ones)."""
    cx, cy = face.center
    half = 0.75 * max(face.width, face.height)
    h, w = frame.shape[:2]
    x0, y0 = int(round(cx - half)), int(round(cy - half))
    pad = int(2 * half) + 2
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
    crop = padded[y0 + pad:y0 + pad + int(2 * half), x0 + pad:x0 + pad + int(2 * half)]
    small = crop.shape[0] < TILE
    return cv2.resize(crop, (TILE, TILE),
                      interpolation=cv2.INTER_NEAREST if small else cv2.INTER_AREA)


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], color=(255, 255, 255),
          scale: float = 0.45) -> None:
    for thickness, ink in ((3, (0, 0, 0)), (1, color)):
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thickness,
                    cv2.LINE_AA)


def contact_sheet(image: torch.Tensor, people: list[Person], best: int) -> torch.Tensor:
    """IMAGE ``[1, H, W, 3]``: one row per person -- label and candidates, then the best
    sightings as tiles captioned with frame and score; a red provenance line when enhanced
    pixels were used.  Tiles show the captured frames (``image``)."""
    header, caption, footer = 22, 18, 24
    rows = max(len(people), 1)
    columns = max(1, min(best, max((len(p.sightings) for p in people), default=1)))
    width = max(columns * TILE, 640)
    sheet = np.full((rows * (header + TILE + caption) + footer, width, 3), 32, np.uint8)
    for r, p in enumerate(people):
        top = r * (header + TILE + caption)
        known = p.result is not None and p.result.identity != identity.UNKNOWN
        best_match = "" if p.result is None or not p.result.matches else \
            f"  (best {p.result.matches[0].name} {p.result.matches[0].distance:.3f}" \
            f" / limit {p.result.threshold:.3f})"
        _text(sheet, p.label + best_match, (4, top + 16),
              (0, 220, 90) if known else (255, 120, 90))
        for c, s in enumerate(p.sightings[:columns]):
            tile = _tile(frame_uint8(image, s.frame), s.face)
            sheet[top + header:top + header + TILE, c * TILE:(c + 1) * TILE] = tile
            _text(sheet, f"f{s.frame} {s.score:.2f}", (c * TILE + 4, top + header + TILE + 14))
    note = PROVENANCE.split(":")[0] + ": not evidence on their own" if any(
        p.enhanced for p in people) else "captured pixels only"
    _text(sheet, note, (4, sheet.shape[0] - 8),
          (255, 80, 60) if any(p.enhanced for p in people) else (200, 200, 200))
    return to_image([sheet])


def surveillance_report(image: torch.Tensor, faces: FaceSet, gallery: Optional[Gallery] = None,
                        *, k: int = 3, best: int = 4, metric: str = "euclidean",
                        threshold: float = 0.0,
                        group_threshold: float = 0.0) -> tuple[str, str, str, torch.Tensor]:
    """Text, JSON, CSV and contact sheet of the best ``best`` sightings per person."""
    check_faces(image, faces)
    people = group_people(sightings(image, faces), gallery, k=k, metric=metric, threshold=threshold,
                          group_threshold=group_threshold)
    return (report_text(people, best), json.dumps(report_json(people, best), indent=1),
            report_csv(people), contact_sheet(image, people, best))
