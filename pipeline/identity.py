"""Identity over IMAGE batches and FACES: embed, compare, face models, galleries, search,
reference selection, and the files they are stored in.

Faces are addressed by a global index: their position in ``FaceSet.items()`` (frame-major,
each frame in its detection order).  Threshold arguments of 0 mean the embedding model's
default (``models.embedders.default_threshold``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from ..models import paths
from ..models.embedders import default_threshold, load_embedder
from ..models.registry import model_ids
from ..vision import identity
from ..vision.quality import face_quality
from ..vision.face import Face, FaceSet
from ..vision.gallery import FaceModel, Gallery, SearchResult, check_same_model
from ..vision.image import frame_uint8, to_image
from .faces import DEFAULT_DETECTOR, Loop, check_faces, detect_faces

log = logging.getLogger("face_pipeline")

DEFAULT_EMBEDDER = model_ids("embed")[0]
GALLERY_WIDTHS = (16, 24, 32, 48)
"""Face widths (px) a gallery entry is also embedded at, for small probes (see the notes)."""
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
STORE = {"face_model": "faces", "gallery": "galleries"}
"""Subfolder of the first models folder per stored kind."""


# --------------------------------------------------------------------------- embedding

def _embed(embedder, frame: np.ndarray, faces: tuple[Face, ...]) -> tuple[tuple[Face, ...], list[str]]:
    """Faces of one uint8 frame with embedding, model id and quality; one note per flagged face."""
    vectors, _ = embedder(frame, faces)
    out, notes = [], []
    for face, vector in zip(faces, vectors):
        measured = face_quality(frame, face.keypoints, face.box)
        quality, flags = measured.quality, identity.quality_flags(face.width, measured.sharpness)
        out.append(face.with_(embedding=vector, embedding_model=embedder.id, quality=quality))
        if flags:
            notes.append(f"{face.width:.0f} px face, quality {quality:.2f}: flagged "
                         f"{' + '.join(flags)}; its identity results are unreliable")
    return tuple(out), notes


def embed_faces(image: torch.Tensor, faces: FaceSet, model: str = DEFAULT_EMBEDDER, *,
                device: str = "auto", allow_download: Optional[bool] = None,
                loop: Loop = range) -> tuple[FaceSet, str]:
    """``faces`` with ``embedding`` ([D] unit float32), ``embedding_model`` and ``quality``
    (0..1) filled, and a report: one line per face, flagged ones (small, blurry) marked."""
    check_faces(image, faces)
    embedder = load_embedder(model, device, allow_download)
    frames, lines = [], []
    for i in loop(len(faces)):
        embedded, notes = _embed(embedder, frame_uint8(image, i), faces.frames[i]) \
            if faces.frames[i] else ((), [])
        frames.append(embedded)
        for note in notes:
            log.warning("face_pipeline: frame %d: %s", i, note)
            lines.append(f"frame {i}: WARNING {note}")
    result = FaceSet(frames, faces.image_sizes)
    lines += [f"frame {i} face {j}: {f.width:.0f} px, quality {f.quality:.2f}"
              for i, j, f in result.items()]
    return result, "\n".join(lines) or "no faces"


def _embed_at_widths(embedder, frame: np.ndarray, face: Face, widths: tuple[int, ...],
                     full: np.ndarray) -> np.ndarray:
    """``[len(widths), D]``: ``face`` re-embedded after shrinking its surroundings until it is
    ``w`` px wide (the way a small probe reaches the embedder); ``full`` where ``w`` >= its width."""
    x1, y1, x2, y2 = face.box
    pad = face.width
    left, top = int(max(x1 - pad, 0)), int(max(y1 - pad, 0))
    region = frame[top:int(min(y2 + pad, frame.shape[0])), left:int(min(x2 + pad, frame.shape[1]))]
    layers = []
    for width in widths:
        scale = width / face.width
        if scale >= 1.0:
            layers.append(full)
            continue
        small = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        moved = face.with_(box=(face.box - [left, top, left, top]) * scale,
                           keypoints=(face.keypoints - [left, top]) * scale)
        layers.append(embedder(small, (moved,))[0][0])
    return np.stack(layers)


@dataclass(frozen=True)
class _Entry:
    name: str
    source: str
    face: Face
    layers: Optional[np.ndarray]


def _gallery(embedder, entries: list[_Entry], widths: tuple[int, ...]) -> Gallery:
    if not entries:
        raise ValueError("no face could be embedded: the gallery would be empty")
    return Gallery(embedder.id, tuple(e.name for e in entries),
                   np.stack([e.face.embedding for e in entries]),
                   [e.face.quality for e in entries], tuple(e.source for e in entries), widths,
                   np.stack([e.layers for e in entries], axis=1) if widths else None)


def _entry(embedder, frame: np.ndarray, face: Face, name: str, source: str,
           widths: tuple[int, ...]) -> tuple[_Entry, list[str]]:
    (embedded,), notes = _embed(embedder, frame, (face,))
    layers = _embed_at_widths(embedder, frame, embedded, widths, embedded.embedding) \
        if widths else None
    return _Entry(name, source, embedded, layers), [f"{source}: {n}" for n in notes]


def load_image_file(path: Path) -> np.ndarray:
    """An image file as uint8 RGB ``[H, W, 3]`` (EXIF rotation applied)."""
    with Image.open(path) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


def gallery_from_folder(folder: Path, model: str = DEFAULT_EMBEDDER, *,
                        widths: tuple[int, ...] = (), detector: str = DEFAULT_DETECTOR,
                        device: str = "auto", allow_download: Optional[bool] = None,
                        loop: Loop = range) -> tuple[Gallery, str]:
    """A gallery from ``folder/<name>/<photo>``: the largest face of every photo becomes an entry
    called ``<name>``.  Photos without a face are skipped and reported."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"gallery folder {folder} does not exist")
    files = [(person.name, f) for person in sorted(p for p in folder.iterdir() if p.is_dir())
             for f in sorted(person.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ValueError(f"{folder} holds no photos in per-person subfolders "
                         "(expected <folder>/<name>/<photo>.jpg)")
    embedder = load_embedder(model, device, allow_download)
    entries, lines = [], []
    for k in loop(len(files)):
        name, path = files[k]
        source = f"{name}/{path.name}"
        frame = load_image_file(path)
        found = detect_faces(to_image([frame]), detector, max_faces=1, device=device,
                             allow_download=allow_download).frames[0]
        if not found:
            lines.append(f"{source}: no face found, skipped")
            continue
        entry, notes = _entry(embedder, frame, found[0], name, source, widths)
        entries.append(entry)
        lines += notes
    gallery = _gallery(embedder, entries, widths)
    return gallery, "\n".join([gallery.summary(), *lines])


def parse_names(text: str) -> list[str]:
    """Names separated by commas or new lines, blanks dropped."""
    return [n.strip() for n in text.replace("\n", ",").split(",") if n.strip()]


def gallery_from_images(image: torch.Tensor, faces: FaceSet, names: list[str],
                        model: str = DEFAULT_EMBEDDER, *, widths: tuple[int, ...] = (),
                        device: str = "auto", allow_download: Optional[bool] = None,
                        loop: Loop = range) -> tuple[Gallery, str]:
    """A gallery with one entry per frame: its first face (the largest, in the default detection
    order) called ``names[frame]``.  Frames without a face are skipped and reported."""
    check_faces(image, faces)
    if len(names) != len(faces):
        raise ValueError(f"got {len(names)} names for {len(faces)} images: give one name per "
                         "image, separated by commas or new lines")
    embedder = load_embedder(model, device, allow_download)
    entries, lines = [], []
    for i in loop(len(faces)):
        if not faces.frames[i]:
            lines.append(f"image {i} ({names[i]}): no face, skipped")
            continue
        entry, notes = _entry(embedder, frame_uint8(image, i), faces.frames[i][0], names[i],
                              f"image {i}", widths)
        entries.append(entry)
        lines += notes
    gallery = _gallery(embedder, entries, widths)
    return gallery, "\n".join([gallery.summary(), *lines])


# --------------------------------------------------------------------------- compare, models

def embedded_faces(faces: FaceSet) -> list[tuple[int, int, Face]]:
    """``(frame, index, face)`` of every face, requiring embeddings of a single model."""
    items = list(faces.items())
    if any(f.embedding is None for _, _, f in items):
        raise ValueError("these FACES have no embeddings: pass them through Face Embedding first")
    models = {f.embedding_model for _, _, f in items}
    if len(models) > 1:
        raise ValueError(f"these FACES mix embeddings of several models {sorted(models)}")
    return items


def pick_face(faces: FaceSet, index: int) -> Face:
    """The face at global ``index`` (frame-major), embedded."""
    items = embedded_faces(faces)
    if not 0 <= index < len(items):
        raise ValueError(f"face index {index} is out of range: {len(items)} face(s) found")
    return items[index][2]


Reference = Union[FaceSet, FaceModel]


def reference_embedding(reference: Reference, index: int = 0) -> tuple[np.ndarray, str]:
    """``(embedding [D], model id)`` of a face model, or of face ``index`` of a FACES value."""
    if isinstance(reference, FaceModel):
        return reference.embedding, reference.model
    face = pick_face(reference, index)
    return face.embedding, face.embedding_model


def resolve_threshold(threshold: float, model: str, metric: str) -> float:
    """``threshold``, or the model's default in ``metric`` when it is 0."""
    return threshold if threshold > 0 else default_threshold(model, metric)


def compare(a: Reference, b: Reference, *, index_a: int = 0, index_b: int = 0,
            metric: str = "euclidean", threshold: float = 0.0) -> identity.Verdict:
    """Whether face ``index_a`` of ``a`` and face ``index_b`` of ``b`` are one person."""
    emb_a, model_a = reference_embedding(a, index_a)
    emb_b, model_b = reference_embedding(b, index_b)
    check_same_model(model_a, model_b, "the second face")
    return identity.verify(emb_a, emb_b, resolve_threshold(threshold, model_a, metric), metric)


def build_face_model(faces: FaceSet, name: str, *, method: str = "mean",
                     min_quality: float = 0.2, base: Optional[FaceModel] = None) -> tuple[FaceModel, str]:
    """A face model from the first face of every frame (faces below ``min_quality`` are left out
    and reported), optionally extending ``base``."""
    firsts = [(i, f) for i, j, f in embedded_faces(faces) if j == 0]
    kept = [(i, f) for i, f in firsts if f.quality >= min_quality]
    lines = [f"image {i}: quality {f.quality:.2f} < {min_quality:.2f}, left out"
             for i, f in firsts if f.quality < min_quality]
    if not kept:
        raise ValueError(f"no face of quality >= {min_quality} to build '{name}' from "
                         f"({len(firsts)} face(s) found); use sharper, larger photos or lower "
                         "min_quality")
    model = FaceModel.build(name, kept[0][1].embedding_model,
                            np.stack([f.embedding for _, f in kept]), [f.quality for _, f in kept],
                            tuple(f"image {i}" for i, _ in kept), method)
    if base is not None:
        model = base.extend(model)
    lines.insert(0, f"face model '{model.name}' ({model.model}): {len(model.sources)} photo(s), "
                    f"{model.method}, quality {model.quality:.2f}")
    return model, "\n".join(lines)


# --------------------------------------------------------------------------- search

@dataclass(frozen=True)
class Hit:
    """A probe face and what the gallery says about it."""

    frame: int
    index: int
    face: Face
    result: SearchResult


def search(faces: FaceSet, gallery: Gallery, *, k: int = 3, metric: str = "euclidean",
           threshold: float = 0.0, multiscale: bool = True) -> list[Hit]:
    """Search every embedded face in ``gallery`` (one matrix product for all).  With
    ``multiscale`` a small face is compared with the gallery layer embedded at its width."""
    items = embedded_faces(faces)
    if not items:
        return []
    check_same_model(gallery.model, items[0][2].embedding_model, "these faces")
    probes = np.stack([f.embedding for _, _, f in items])
    widths = np.array([f.width for _, _, f in items]) if multiscale else None
    results = gallery.search(probes, resolve_threshold(threshold, gallery.model, metric), k=k,
                             metric=metric, probe_widths=widths)
    return [Hit(i, j, f, r) for (i, j, f), r in zip(items, results)]


def hits_json(hits: list[Hit]) -> list[dict]:
    """JSON-ready results: frame, face, box, quality, identity, candidates."""
    return [{"frame": h.frame, "face": h.index, "box": [round(float(v), 1) for v in h.face.box],
             "quality": round(float(h.face.quality), 3), "identity": h.result.identity,
             "matches": [{"name": m.name, "distance": round(m.distance, 4),
                          "score": round(m.score, 1), "source": m.source}
                         for m in h.result.matches]} for h in hits]


def hits_text(hits: list[Hit]) -> str:
    lines = []
    for h in hits:
        best = h.result.matches[0] if h.result.matches else None
        detail = f" ({best.name}, distance {best.distance:.3f}, score {best.score:.0f})" \
            if best else ""
        lines.append(f"frame {h.frame} face {h.index}: {h.result.identity}{detail}")
    return "\n".join(lines) or "no faces"


KNOWN, UNKNOWN = (0, 220, 90), (255, 80, 60)


def draw_hits(image: torch.Tensor, hits: list[Hit], loop: Loop = range) -> torch.Tensor:
    """IMAGE with a box and ``name score`` on every searched face (red: unknown)."""
    out = []
    for i in loop(image.shape[0]):
        frame = frame_uint8(image, i).copy()
        unit = max(1, round(max(frame.shape[:2]) / 512))
        for h in (h for h in hits if h.frame == i):
            known = h.result.identity != identity.UNKNOWN
            color = KNOWN if known else UNKNOWN
            x1, y1, x2, y2 = np.round(h.face.box).astype(int)
            label = h.result.identity + (f" {h.result.matches[0].score:.0f}" if known else "")
            cv2.rectangle(frame, (x1, y1), (x2, y2), color, 2 * unit, cv2.LINE_AA)
            origin = (x1, max(y1 - 6 * unit, 14 * unit))
            for thickness, ink in ((4 * unit, (0, 0, 0)), (unit, color)):
                cv2.putText(frame, label, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * unit, ink,
                            thickness, cv2.LINE_AA)
        out.append(frame)
    return to_image(out)


def select_by_reference(faces: FaceSet, reference: Reference, *, reference_index: int = 0,
                        metric: str = "cosine", threshold: float = 0.0) -> tuple[FaceSet, list[float]]:
    """FaceFusion's reference mode: keep the faces within ``threshold`` of the reference face
    (or face model).  Returns the filtered FACES (frames kept, possibly empty) and the
    distances of every input face (global order).  Tracked faces (``track_id`` set) are kept
    or dropped per track, by the median distance of the track's faces, so a person stays
    selected in the frames where their embedding alone would miss (turned, half hidden)."""
    ref, ref_model = reference_embedding(reference, reference_index)
    items = embedded_faces(faces)
    if not items:
        return faces, []
    check_same_model(ref_model, items[0][2].embedding_model, "these faces")
    limit = resolve_threshold(threshold, ref_model, metric)
    dist = identity.distances(np.stack([f.embedding for _, _, f in items]), ref, metric)[:, 0]
    keep = {(i, j) for (i, j, _), d in zip(items, dist) if d <= limit}
    per_track: dict[int, list[float]] = {}
    for (_, _, f), d in zip(items, dist):
        if f.track_id is not None:
            per_track.setdefault(f.track_id, []).append(float(d))
    tracks = {t for t, ds in per_track.items() if np.median(ds) <= limit}
    selected = faces.map_frames(lambda i, fs: [
        f for j, f in enumerate(fs)
        if (f.track_id in tracks if f.track_id in per_track else (i, j) in keep)])
    return selected, [float(d) for d in dist]


# --------------------------------------------------------------------------- stored files

def stored_names(kind: str) -> list[str]:
    """Files of ``kind`` ("face_model" or "gallery") in every models folder, by name."""
    names = {p.name for base in paths.model_dirs() if (base / STORE[kind]).is_dir()
             for p in (base / STORE[kind]).glob("*.safetensors")}
    return sorted(names)


def stored_path(kind: str, name: str, *, existing: bool) -> Path:
    """Path of the stored ``kind`` file called ``name`` (``.safetensors`` added if missing).
    ``existing``: search every models folder and raise ``FileNotFoundError`` if absent; else
    the path in the first models folder.  Names that leave the folder raise ``ValueError``."""
    name = name if name.endswith(".safetensors") else name + ".safetensors"
    candidates = [paths.safe_join(base / STORE[kind], name) for base in paths.model_dirs()]
    if not existing:
        return candidates[0]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise FileNotFoundError(f"no {kind.replace('_', ' ')} '{name}' in "
                                f"{', '.join(str(c.parent) for c in candidates)}")
    return found
