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
from ..models.embedders import default_threshold, embedding_size, layer_threshold, load_embedder
from ..models.registry import model_ids
from ..vision import identity
from ..vision.quality import face_quality
from ..vision.face import Face, FaceSet
from ..vision.gallery import (FaceModel, Gallery, SearchResult, check_same_model, load_face_model,
                              load_gallery, save_face_model, save_gallery)
from ..vision.image import check_image, frame_uint8, to_image
from .faces import DEFAULT_DETECTOR, Loop, check_faces, detect_faces, faces_on_frames

log = logging.getLogger("face_pipeline")

DEFAULT_EMBEDDER = model_ids("embed")[0]
GALLERY_WIDTHS = (16, 24, 32, 48)
"""Face widths (px) a gallery entry is also embedded at, for small probes (see the notes)."""
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
STORE = {"face_model": "faces", "gallery": "galleries"}
"""Subfolder of the first models folder per stored kind."""


# --------------------------------------------------------------------------- embedding

EMBED_MIN_WIDTH = 100.0
"""Faces narrower than this (pixels) reach the embedder on a bicubic upscale of their
surroundings to this width: dlib's shape predictor and chip cutter misplace a 20 px face, and
probes and gallery layers then take the same upscale path (like with like)."""
FUSIONS = ["gated", "raw", "enhanced"]
"""How Face Embedding uses an enhanced copy: gated fusion (``vision.identity.fusion_gate``),
the raw (captured) face only, or the enhanced face only."""


def embed_vectors(embedder, frame: np.ndarray, faces: tuple[Face, ...]) -> np.ndarray:
    """``[N, D]`` unit embeddings of ``faces`` in a uint8 frame; faces narrower than
    :data:`EMBED_MIN_WIDTH` are embedded on a bicubic upscale of the region around them."""
    vectors = [None] * len(faces)
    large = [i for i, f in enumerate(faces) if f.width >= EMBED_MIN_WIDTH]
    if large:
        for i, v in zip(large, embedder(frame, tuple(faces[i] for i in large))[0]):
            vectors[i] = v
    for i, face in enumerate(faces):
        if vectors[i] is not None:
            continue
        x1, y1, x2, y2 = face.box
        pad = 1.5 * max(face.width, 1.0)
        left, top = int(max(x1 - pad, 0)), int(max(y1 - pad, 0))
        region = frame[top:int(min(y2 + pad, frame.shape[0])) + 1,
                       left:int(min(x2 + pad, frame.shape[1])) + 1]
        scale = EMBED_MIN_WIDTH / max(face.width, 1.0)
        big = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        moved = face.with_(box=(face.box - [left, top, left, top]) * scale,
                           keypoints=(face.keypoints - [left, top]) * scale)
        vectors[i] = embedder(big, (moved,))[0][0]
    return np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)


def _embed(embedder, frame: np.ndarray, faces: tuple[Face, ...],
           enhanced: Optional[np.ndarray] = None,
           fusion: str = "gated") -> tuple[tuple[Face, ...], list[str]]:
    """Faces of one uint8 frame with embedding, model id, quality and captured width; one note
    per flagged face.  With ``enhanced`` (the same frame after denoise/enhancement, any size)
    the embedding follows ``fusion`` and ``fusion_gate`` records the raw face's weight."""
    only_enhanced = enhanced is not None and fusion == "enhanced"
    vectors = [None] * len(faces) if only_enhanced else embed_vectors(embedder, frame, faces)
    if enhanced is not None:
        sx, sy = enhanced.shape[1] / frame.shape[1], enhanced.shape[0] / frame.shape[0]
        moved = tuple(f.scaled(sx, sy) for f in faces)
        enhanced_vectors = embed_vectors(embedder, enhanced, moved) if fusion != "raw" \
            else vectors
    out, notes = [], []
    for k, (face, vector) in enumerate(zip(faces, vectors)):
        captured = face.captured_width
        measured = face_quality(frame, face.keypoints, face.box, captured)
        quality, flags = measured.quality, identity.quality_flags(captured, measured.sharpness)
        gate = None
        if enhanced is not None:
            better = face_quality(enhanced, moved[k].keypoints, moved[k].box, captured).quality
            gate = {"gated": identity.fusion_gate(quality, better), "raw": 1.0,
                    "enhanced": 0.0}[fusion]
            vector = enhanced_vectors[k] if only_enhanced else \
                identity.fuse(vector, enhanced_vectors[k], gate)
        out.append(face.with_(embedding=vector, embedding_model=embedder.id, quality=quality,
                              source_width=captured, fusion_gate=gate))
        if flags:
            notes.append(f"{captured:.0f} px face, quality {quality:.2f}: flagged "
                         f"{' + '.join(flags)}; its identity results are unreliable")
    return tuple(out), notes


def embed_faces(image: torch.Tensor, faces: FaceSet, model: str = DEFAULT_EMBEDDER, *,
                enhanced_image: Optional[torch.Tensor] = None, fusion: str = "gated",
                device: str = "auto", allow_download: Optional[bool] = None,
                loop: Loop = range) -> tuple[FaceSet, str]:
    """``faces`` with ``embedding`` ([D] unit float32), ``embedding_model``, ``quality``
    (0..1, of the captured face) and ``source_width`` filled, and a report: one line per face,
    flagged ones (small, blurry) marked.

    ``image`` holds the frames as captured; ``faces`` may have been found on a resized copy
    of them (mapped back by the size ratio).  ``enhanced_image``: the same frames after
    denoising/enhancement, any size with the same aspect; its faces are embedded too and
    combined with the raw ones by ``fusion`` (one of :data:`FUSIONS`)."""
    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; choose one of {FUSIONS}")
    faces = faces_on_frames(image, faces)
    if enhanced_image is not None:
        check_image(enhanced_image, "enhanced_image")
        ratio = (enhanced_image.shape[1] / image.shape[1]) / (enhanced_image.shape[2] / image.shape[2])
        if enhanced_image.shape[0] != image.shape[0] or abs(np.log(ratio)) > 0.02:
            raise ValueError(f"enhanced_image {tuple(enhanced_image.shape[:3])} must be the same "
                             f"frames as image {tuple(image.shape[:3])} (same count and aspect; "
                             "any size)")
    embedder = load_embedder(model, device, allow_download)
    frames, lines = [], []
    for i in loop(len(faces)):
        enhanced = None if enhanced_image is None else frame_uint8(enhanced_image, i)
        embedded, notes = _embed(embedder, frame_uint8(image, i), faces.frames[i], enhanced,
                                 fusion) if faces.frames[i] else ((), [])
        frames.append(embedded)
        for note in notes:
            log.warning("face_pipeline: frame %d: %s", i, note)
            lines.append(f"frame {i}: WARNING {note}")
    result = FaceSet(frames, faces.image_sizes)
    lines += [f"frame {i} face {j}: {f.captured_width:.0f} px, quality {f.quality:.2f}"
              + ("" if f.fusion_gate is None else
                 f", {fusion} fusion raw weight {f.fusion_gate:.2f}"
                 + (" (ENHANCED pixels used: not evidence on their own)" if f.enhanced else ""))
              for i, j, f in result.items()]
    return result, "\n".join(lines) or "no faces"


def _embed_at_widths(embedder, frame: np.ndarray, face: Face, widths: tuple[int, ...],
                     full: np.ndarray) -> np.ndarray:
    """``[len(widths), D]``: ``face`` re-embedded after shrinking its surroundings (area
    average) until it is ``w`` px wide, through the same small-face path as a probe
    (:func:`embed_vectors`); ``full`` where ``w`` >= its width."""
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
        layers.append(embed_vectors(embedder, small, (moved,))[0])
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


def _photos(folder: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """``(name, photo)`` pairs of ``folder/<name>/<photo>`` and notes on what was refused:
    files or person folders that are symbolic links leading outside ``folder``."""
    root = folder.resolve()
    inside = lambda p: p.resolve().is_relative_to(root)
    files, notes = [], []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not inside(person):
            notes.append(f"{person.name}/: links outside the gallery folder, skipped")
            continue
        for f in sorted(person.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if inside(f):
                files.append((person.name, f))
            else:
                notes.append(f"{person.name}/{f.name}: links outside the gallery folder, skipped")
    return files, notes


def gallery_from_folder(folder: Path, model: str = DEFAULT_EMBEDDER, *,
                        widths: tuple[int, ...] = (), detector: str = DEFAULT_DETECTOR,
                        device: str = "auto", allow_download: Optional[bool] = None,
                        loop: Loop = range) -> tuple[Gallery, str]:
    """A gallery from ``folder/<name>/<photo>``: the largest face of every photo becomes an entry
    called ``<name>``.  Photos without a face, unreadable photos and symbolic links leading
    outside ``folder`` are skipped and reported; ``ValueError`` when nothing is left."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"gallery folder {folder} does not exist")
    files, lines = _photos(folder)
    if not files:
        raise ValueError(f"{folder} holds no photos in per-person subfolders "
                         "(expected <folder>/<name>/<photo>.jpg)" +
                         "".join(f"\n{line}" for line in lines))
    embedder = load_embedder(model, device, allow_download)
    entries = []
    for k in loop(len(files)):
        name, path = files[k]
        source = f"{name}/{path.name}"
        try:
            frame = load_image_file(path)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            lines.append(f"{source}: could not be read ({type(exc).__name__}: {exc}), skipped")
            continue
        found = detect_faces(to_image([frame]), detector, max_faces=1, device=device,
                             allow_download=allow_download).frames[0]
        if not found:
            lines.append(f"{source}: no face found, skipped")
            continue
        entry, notes = _entry(embedder, frame, found[0], name, source, widths)
        entries.append(entry)
        lines += notes
    if not entries:
        raise ValueError(f"no face could be embedded from {folder}: the gallery would be "
                         "empty\n" + "\n".join(lines))
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
                     min_quality: float = 0.2, base: Optional[FaceModel] = None,
                     image: Optional[torch.Tensor] = None, device: str = "auto",
                     loop: Loop = range) -> tuple[FaceModel, str]:
    """A face model from the first face of every frame (faces below ``min_quality`` are left out
    and reported), optionally extending ``base``.  With ``image`` (the photos the faces were
    found on) every kept photo is also embedded at :data:`GALLERY_WIDTHS`, so the model joins a
    gallery with its resolution layers."""
    if image is not None:
        faces = faces_on_frames(image, faces)
    firsts = [(i, f) for i, j, f in embedded_faces(faces) if j == 0]
    kept = [(i, f) for i, f in firsts if f.quality >= min_quality]
    lines = [f"image {i}: quality {f.quality:.2f} < {min_quality:.2f}, left out"
             for i, f in firsts if f.quality < min_quality]
    if not kept:
        raise ValueError(f"no face of quality >= {min_quality} to build '{name}' from "
                         f"({len(firsts)} face(s) found); use sharper, larger photos or lower "
                         "min_quality")
    layers, widths = None, ()
    if image is not None:
        embedder = load_embedder(kept[0][1].embedding_model, device)
        widths = GALLERY_WIDTHS
        layers = np.stack([_embed_at_widths(embedder, frame_uint8(image, kept[n][0]), kept[n][1],
                                            widths, kept[n][1].embedding)
                           for n in loop(len(kept))], axis=1)
    model = FaceModel.build(name, kept[0][1].embedding_model,
                            np.stack([f.embedding for _, f in kept]), [f.quality for _, f in kept],
                            tuple(f"image {i}" for i, _ in kept), method, widths, layers)
    if base is not None:
        model = base.extend(model)
    layered = f", also at face widths {list(model.widths)} px" if model.widths else ""
    lines.insert(0, f"face model '{model.name}' ({model.model}): {len(model.sources)} photo(s), "
                    f"{model.method}, quality {model.quality:.2f}{layered}")
    return model, "\n".join(lines)


# --------------------------------------------------------------------------- search

@dataclass(frozen=True)
class Hit:
    """A probe face and what the gallery says about it."""

    frame: int
    index: int
    face: Face
    result: SearchResult


def layer_thresholds(gallery: Gallery, threshold: float, metric: str) -> tuple[float, ...]:
    """The "unknown" limit of each gallery layer, in ``metric``: the model's calibrated
    per-width limits (``models.embedders.layer_threshold``), scaled by ``threshold`` over the
    model's full-resolution default when a threshold is set (0 = defaults)."""
    full = default_threshold(gallery.model, "cosine")
    scale = 1.0 if threshold <= 0 else \
        identity.convert_distance(threshold, metric, "cosine") / full
    return tuple(identity.convert_distance(layer_threshold(gallery.model, w) * scale,
                                           "cosine", metric) for w in gallery.widths)


def search(faces: FaceSet, gallery: Gallery, *, k: int = 3, metric: str = "euclidean",
           threshold: float = 0.0, multiscale: bool = True) -> list[Hit]:
    """Search every embedded face in ``gallery`` (one matrix product per layer).  With
    ``multiscale`` a face is compared with the gallery layers around its *captured* width
    (``Face.captured_width``, also for upscaled or enhanced probes), each with its own
    calibrated "unknown" limit (:func:`layer_thresholds`)."""
    items = embedded_faces(faces)
    if not items:
        return []
    check_same_model(gallery.model, items[0][2].embedding_model, "these faces")
    probes = np.stack([f.embedding for _, _, f in items])
    widths = np.array([f.captured_width for _, _, f in items]) if multiscale else None
    results = gallery.search(probes, resolve_threshold(threshold, gallery.model, metric), k=k,
                             metric=metric, probe_widths=widths,
                             layer_thresholds=layer_thresholds(gallery, threshold, metric))
    return [Hit(i, j, f, r) for (i, j, f), r in zip(items, results)]


def hits_json(hits: list[Hit]) -> list[dict]:
    """JSON-ready results: frame, face, box, quality, identity, candidates."""
    return [{"frame": h.frame, "face": h.index, "box": [round(float(v), 1) for v in h.face.box],
             "quality": round(float(h.face.quality), 3), "identity": h.result.identity,
             "captured_width": round(h.face.captured_width, 1), "enhanced": h.face.enhanced,
             "threshold": round(h.result.threshold, 4),
             "matches": [{"name": m.name, "distance": round(m.distance, 4),
                          "score": round(m.score, 1), "source": m.source}
                         for m in h.result.matches]} for h in hits]


def hits_text(hits: list[Hit]) -> str:
    lines = []
    for h in hits:
        best = h.result.matches[0] if h.result.matches else None
        detail = f" ({best.name}, distance {best.distance:.3f}, score {best.score:.0f})" \
            if best else ""
        enhanced = " [enhanced pixels used]" if h.face.enhanced else ""
        lines.append(f"frame {h.frame} face {h.index}: {h.result.identity}{detail}{enhanced}")
    if any(h.face.enhanced for h in hits):
        lines.append("Enhanced images are not evidence on their own; check the captured frames.")
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
            label = h.result.identity + (f" {h.result.matches[0].score:.0f}" if known else "") \
                + (" [enhanced]" if h.face.enhanced else "")
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

STORED_WHAT = {"face_model": "face model", "gallery": "gallery"}


def stored_names(kind: str) -> list[str]:
    """Files of ``kind`` ("face_model" or "gallery") in every models folder, subfolders
    included, as the names the loaders take (``team/alice.safetensors``)."""
    names = set()
    for base in paths.model_dirs():
        folder = base / STORE[kind]
        if folder.is_dir():
            names.update(p.relative_to(folder).as_posix() for p in folder.rglob("*.safetensors")
                         if p.is_file() and not p.name.startswith("."))
    return sorted(names)


def stored_path(kind: str, name: str, *, existing: bool) -> Path:
    """Path of the stored ``kind`` file called ``name`` (``.safetensors`` added if missing;
    subfolders like ``team/alice`` allowed).  ``existing``: search every models folder and
    raise ``FileNotFoundError`` if absent; else the path in the first models folder.  Empty
    names, names of hidden files and names that leave the folder raise ``ValueError``."""
    what = STORED_WHAT[kind]
    stem = name.strip().removesuffix(".safetensors")
    if not stem or stem.endswith(("/", "\\")) or Path(stem).name.startswith("."):
        raise ValueError(f"{what} file name {name!r} is empty or hidden: give a name like "
                         f"'alice' or 'team/alice'")
    name = stem + ".safetensors"
    candidates = [paths.safe_join(base / STORE[kind], name, f"{what} file name",
                                  f"{STORE[kind]} folder") for base in paths.model_dirs()]
    if not existing:
        return candidates[0]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise FileNotFoundError(f"no {what} '{name}' in "
                                f"{', '.join(str(c.parent) for c in candidates)}: save one with "
                                f"Save {what.title()} first")
    return found


def load_stored(kind: str, name: str) -> Union[FaceModel, Gallery]:
    """The stored face model or gallery called ``name``, checked against its embedding model's
    dimension (``ValueError`` naming the file when it does not fit)."""
    path = stored_path(kind, name, existing=True)
    value = load_face_model(path) if kind == "face_model" else load_gallery(path)
    vectors = value.embedding[None] if kind == "face_model" else value.embeddings
    expected = embedding_size(value.model)
    if expected is not None and len(vectors) and vectors.shape[1] != expected:
        raise ValueError(f"{path} holds {vectors.shape[1]}-d embeddings but '{value.model}' "
                         f"makes {expected}-d ones: the file is damaged or was written by "
                         "another tool; rebuild it")
    return value


def save_stored(kind: str, value: Union[FaceModel, Gallery], name: str, overwrite: bool) -> Path:
    """Write a face model or gallery as ``name`` in the first models folder; an existing file
    is replaced only with ``overwrite`` (else ``FileExistsError`` saying what to do)."""
    path = stored_path(kind, name, existing=False)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{STORED_WHAT[kind]} file {path} already exists: turn on "
                              "overwrite to replace it, or choose another filename")
    save = save_face_model if kind == "face_model" else save_gallery
    return save(value, path, overwrite=overwrite)
