"""Known identities: a :class:`FaceModel` (one person from one or more photos) and a
:class:`Gallery` (many named entries, searched 1:N), with safetensors files for both.

Files never pickle: tensors plus short string metadata (``format``, ``version``,
``embedding_model``, ...).  A gallery's names and sources are tensors, not metadata, so the
safetensors header stays small however many entries there are (the header is limited to
100 MB): each list of strings is ``<key>_utf8`` (uint8, the UTF-8 bytes of all strings one
after another) and ``<key>_offsets`` (int64 ``[N + 1]``, string ``i`` is bytes
``offsets[i]:offsets[i + 1]``).  Version 1 gallery files (names and sources as JSON metadata)
still load.  Loading a file of the other kind, a foreign safetensors file (say a LoRA), a
corrupt one or one whose fields do not fit together raises ``ValueError`` saying which;
embeddings of different models are never mixed or compared (``check_same_model``).
"""
from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from . import identity

FACE_MODEL = "face_pipeline.face_model"
GALLERY = "face_pipeline.gallery"
VERSION = "2"


def check_same_model(expected: str, got: str, what: str) -> None:
    """Raise ``ValueError`` unless two embedding model ids agree."""
    if expected != got:
        raise ValueError(f"{what} was embedded with '{got}' but this needs '{expected}': "
                         "embeddings of different models cannot be compared or mixed; "
                         f"re-embed with '{expected}'")


# --------------------------------------------------------------------------- face model

@dataclass(frozen=True)
class FaceModel:
    """One person, from one or more photos.

    Attributes:
        name: the person's name.  model: embedding model id.
        embedding: ``[D]`` unit vector combining ``members`` by ``method`` (mean or median).
        members: ``[K, D]`` unit embeddings of the source faces.
        member_quality: ``[K]`` their quality in 0..1 (weights of the mean).
        sources: ``K`` descriptions of where each member came from.
        widths: face widths (px) the photos were also embedded at (resolution layers), or ().
        member_layers: ``[len(widths), K, D]`` those embeddings, or None.  A gallery the
            model is added to gets them; the file keeps them (``member_layers`` tensor,
            ``widths`` metadata).
    """

    name: str
    model: str
    embedding: np.ndarray
    members: np.ndarray
    member_quality: np.ndarray
    method: str
    sources: tuple[str, ...]
    widths: tuple[int, ...] = ()
    member_layers: Optional[np.ndarray] = None

    @property
    def quality(self) -> float:
        return float(self.member_quality.mean()) if len(self.member_quality) else 0.0

    @property
    def scaled(self) -> Optional[np.ndarray]:
        """``[len(widths), D]``: the members' layers combined like ``embedding``, or None."""
        if self.member_layers is None:
            return None
        return np.stack([identity.aggregate(layer, self.method, self.member_quality)
                         for layer in self.member_layers])

    @classmethod
    def build(cls, name: str, model: str, embeddings: np.ndarray, quality: np.ndarray,
              sources: tuple[str, ...], method: str = "mean", widths: tuple[int, ...] = (),
              member_layers: Optional[np.ndarray] = None) -> "FaceModel":
        members = identity.normalize(np.atleast_2d(embeddings))
        quality = np.asarray(quality, np.float32).reshape(-1)
        if len(members) != len(quality) or len(members) != len(sources):
            raise ValueError(f"{len(members)} embeddings, {len(quality)} qualities and "
                             f"{len(sources)} sources do not match")
        if (member_layers is None) != (not widths) or (member_layers is not None and np.shape(
                member_layers) != (len(widths), *members.shape)):
            raise ValueError(f"face model layers {np.shape(member_layers)} do not match widths "
                             f"{widths} and members {members.shape}")
        combined = identity.aggregate(members, method, quality)
        layers = None if member_layers is None else identity.normalize(member_layers)
        return cls(name, model, combined, members, quality, method, tuple(sources),
                   tuple(int(w) for w in widths), layers)

    def extend(self, other: "FaceModel") -> "FaceModel":
        """This person with ``other``'s photos added (same embedding model required).  The
        resolution layers stay only when both carry the same widths."""
        check_same_model(self.model, other.model, f"face model '{other.name}'")
        same = self.widths == other.widths and self.member_layers is not None
        return FaceModel.build(self.name, self.model, np.concatenate([self.members, other.members]),
                               np.concatenate([self.member_quality, other.member_quality]),
                               self.sources + other.sources, self.method,
                               self.widths if same else (),
                               np.concatenate([self.member_layers, other.member_layers], axis=1)
                               if same else None)


# --------------------------------------------------------------------------- gallery

@dataclass(frozen=True)
class Match:
    """One gallery identity as a candidate for a probe face: its best entry's ``distance``
    (and 0..100 ``score``) and ``source`` (the photo that entry was embedded from)."""

    name: str
    distance: float
    score: float
    source: str


@dataclass(frozen=True)
class SearchResult:
    """Candidates for one probe, best first; ``identity`` is the best name, or ``"unknown"``
    when even the best is farther than the threshold."""

    identity: str
    matches: tuple[Match, ...]
    threshold: float = 0.0
    """The "same person" limit this probe was held to (in the search metric; per layer)."""


@dataclass(frozen=True)
class Gallery:
    """Named face embeddings of one model, searched 1:N with one matrix product.

    Entries are kept sorted by name (one person may have several entries; a search counts
    each person once, by the best entry).

    Attributes:
        model: embedding model id.  names: ``N`` entry names.
        embeddings: ``[N, D]`` float32 unit vectors (full resolution).
        quality: ``[N]`` float32 in 0..1.  sources: ``N`` source descriptions (file names).
        widths: face widths in pixels at which every entry was also embedded, ascending.
        scaled: ``[len(widths), N, D]`` those embeddings (the photo shrunk until the face is
            that wide), or None.  A small probe is compared with the layer nearest its width.
    """

    model: str
    names: tuple[str, ...]
    embeddings: np.ndarray
    quality: np.ndarray
    sources: tuple[str, ...]
    widths: tuple[int, ...] = ()
    scaled: Optional[np.ndarray] = None
    groups: Optional[np.ndarray] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        n = len(self.names)
        emb = np.asarray(self.embeddings, np.float32)
        emb = emb.reshape(n, -1) if n else emb.reshape(0, emb.shape[-1] if emb.ndim else 0)
        quality = np.asarray(self.quality, np.float32).reshape(-1)
        if len(quality) != n or len(self.sources) != n:
            raise ValueError(f"gallery has {n} names, {len(quality)} qualities and "
                             f"{len(self.sources)} sources")
        scaled = None if self.scaled is None else np.asarray(self.scaled, np.float32)
        if (scaled is None) != (not self.widths) or (
                scaled is not None and scaled.shape != (len(self.widths), *emb.shape)):
            raise ValueError(f"gallery layers {None if scaled is None else scaled.shape} do not "
                             f"match widths {self.widths} and embeddings {emb.shape}")
        names = tuple(self.names)
        if all(map(operator.le, names, names[1:])):   # already sorted, e.g. loaded from a file
            order = np.arange(n)
        else:
            order = np.argsort(np.asarray(names, dtype=object), kind="stable")
            names = tuple(names[i] for i in order)
        starts = np.flatnonzero([True, *map(operator.ne, names[1:], names[:-1])][:n])
        set_ = lambda key, value: object.__setattr__(self, key, value)  # frozen dataclass
        set_("names", names)
        set_("embeddings", emb[order])
        set_("quality", quality[order])
        set_("sources", tuple(self.sources) if n and order[-1] == n - 1 and
             np.array_equal(order, np.arange(n)) else tuple(self.sources[i] for i in order))
        set_("widths", tuple(int(w) for w in self.widths))
        set_("scaled", None if scaled is None else scaled[:, order])
        set_("groups", None if len(starts) == n else starts)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def identities(self) -> tuple[str, ...]:
        """Distinct names, sorted."""
        return tuple(dict.fromkeys(self.names))

    def summary(self) -> str:
        layers = f", also at face widths {list(self.widths)} px" if self.widths else ""
        return (f"gallery of {len(self.identities)} identities ({len(self)} entries), model "
                f"{self.model}{layers}: {', '.join(self.identities)}")

    def _layers(self, widths: tuple[int, ...]) -> Optional[np.ndarray]:
        """``scaled`` for ``widths``; entries without layers repeat their full embedding."""
        if not widths:
            return None
        if self.widths == widths:
            return self.scaled
        if self.widths:
            raise ValueError(f"cannot merge galleries embedded at face widths {self.widths} and "
                             f"{widths}")
        return np.broadcast_to(self.embeddings, (len(widths), *self.embeddings.shape))

    def merge(self, other: "Gallery") -> "Gallery":
        """The entries of both galleries (same embedding model required)."""
        check_same_model(self.model, other.model, "the added entries")
        widths = self.widths or other.widths
        layers = [g._layers(widths) for g in (self, other)]
        return Gallery(self.model, self.names + other.names,
                       np.concatenate([self.embeddings, other.embeddings]),
                       np.concatenate([self.quality, other.quality]), self.sources + other.sources,
                       widths, None if not widths else np.concatenate(layers, axis=1))

    def add_face_model(self, face_model: FaceModel) -> "Gallery":
        """This gallery with ``face_model`` as one more entry, with its resolution layers when
        it carries this gallery's widths (else its full-resolution embedding stands in for
        every layer)."""
        fits = face_model.widths and (face_model.widths == self.widths or not self.widths)
        entry = Gallery(face_model.model, (face_model.name,), face_model.embedding[None],
                        [face_model.quality], (f"face model of {len(face_model.sources)} photo(s)",),
                        face_model.widths if fits else (),
                        face_model.scaled[:, None] if fits else None)
        return self.merge(entry)

    def remove(self, name: str) -> "Gallery":
        """This gallery without the entries called ``name``; ``KeyError`` if there are none."""
        keep = np.array([n != name for n in self.names], bool)
        if keep.all():
            raise KeyError(f"'{name}' is not in the gallery ({', '.join(self.identities)})")
        return Gallery(self.model, tuple(np.asarray(self.names, object)[keep]),
                       self.embeddings[keep], self.quality[keep],
                       tuple(np.asarray(self.sources, object)[keep]), self.widths,
                       None if self.scaled is None else self.scaled[:, keep])

    def search(self, probes: np.ndarray, threshold: float, *, k: int = 5, metric: str = "cosine",
               probe_widths: Optional[np.ndarray] = None,
               layer_thresholds: Optional[tuple[float, ...]] = None) -> list[SearchResult]:
        """Top-``k`` identities for each probe ``[P, D]`` (best first).

        With ``probe_widths`` ``[P]`` (captured face widths in pixels) and stored ``widths``,
        a probe is compared with the layers around its width, their cosine distances (and
        thresholds) combined by :func:`identity.layer_weights`; otherwise with the
        full-resolution embeddings.  ``threshold`` (in ``metric``) is the full-resolution
        "same person" limit; ``layer_thresholds`` (one per stored width, in ``metric``) the
        limits of the layers (default: ``threshold`` for all).
        """
        probes = identity.normalize(np.atleast_2d(probes))
        if len(self) and probes.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"probe embeddings have {probes.shape[1]} dimensions, the gallery "
                             f"{self.embeddings.shape[1]}")
        limits = list(layer_thresholds) if layer_thresholds is not None else \
            [threshold] * len(self.widths)
        if len(limits) != len(self.widths):
            raise ValueError(f"{len(limits)} layer thresholds for {len(self.widths)} layers")
        cosine_limit = lambda t: identity.convert_distance(t, metric, "cosine")
        limits = [cosine_limit(t) for t in limits] + [cosine_limit(threshold)]  # [-1]: full
        plans = [((-1, 1.0),) if probe_widths is None else
                 tuple(identity.layer_weights(self.widths, w)) for w in
                 (probe_widths if probe_widths is not None else range(len(probes)))]
        results: list[Optional[SearchResult]] = [None] * len(probes)
        for layers in sorted({tuple(l for l, _ in plan) for plan in plans}):
            rows = np.flatnonzero([tuple(l for l, _ in plan) == layers for plan in plans])
            weights = np.array([[w for _, w in plans[r]] for r in rows], np.float32)
            sims = probes[rows] @ self._matrix(layers[0]).T
            if len(layers) > 1:  # two neighbouring layers: interpolate
                sims *= weights[:, :1]
                sims += weights[:, 1:2] * (probes[rows] @ self._matrix(layers[1]).T)
            idx, best = identity.top_k_of(sims, k, self.groups)
            if self.groups is not None:  # group numbers -> each group's best entry
                idx = self._best_entries(sims, idx)
            dists = identity.to_distance(best, metric)
            cut = weights @ np.array([limits[layer] for layer in layers], np.float32)
            for row, entries, ds, limit in zip(rows, idx, dists, cut):
                limit = identity.convert_distance(float(limit), "cosine", metric)
                matches = tuple(Match(self.names[e], float(d), identity.match_score(float(d), limit),
                                      self.sources[e]) for e, d in zip(entries, ds))
                known = bool(matches) and matches[0].distance <= limit
                results[row] = SearchResult(matches[0].name if known else identity.UNKNOWN,
                                            matches, limit)
        return results

    def _best_entries(self, sims: np.ndarray, found: np.ndarray) -> np.ndarray:
        """The entries ``[P, k]`` that matched best in the groups numbered ``found``
        ``[P, k]``, row by row of ``sims`` ``[P, N]``."""
        ends = np.append(self.groups[1:], sims.shape[1])
        return np.array([[self.groups[g] + int(np.argmax(row[self.groups[g]:ends[g]]))
                          for g in groups] for row, groups in zip(sims, found)],
                        np.int64).reshape(found.shape)

    def _matrix(self, layer: int) -> np.ndarray:
        return self.embeddings if layer < 0 else self.scaled[layer]


# --------------------------------------------------------------------------- files

def _write(path: Path, kind: str, tensors: dict, meta: dict, overwrite: bool = True) -> Path:
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists: choose another file name or allow "
                              "overwriting")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v, np.float32 if np.asarray(v).dtype.kind == "f" else None)
               for k, v in tensors.items()}
    save_file(tensors, str(path), metadata={"format": kind, "version": VERSION, **meta})
    return path


def _read(path: Path, kind: str) -> tuple[dict, dict]:
    """Tensors and metadata of a ``kind`` file; ``ValueError`` for anything else."""
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file (corrupt or truncated?): "
                         f"{exc}") from exc
    found = meta.get("format")
    if found != kind:
        what = f"a '{found}' file" if found else "not a Face Pipeline file (no format metadata)"
        raise ValueError(f"{path} is {what}; expected a '{kind}' file")
    return tensors, meta


def _damaged(path: Path, key: str, why: str = "is missing or unreadable") -> ValueError:
    return ValueError(f"{path} is damaged: '{key}' {why}")


def _field(meta: dict, tensors: dict, path: Path, key: str, tensor: bool = False, kind=None):
    """Metadata ``key`` (JSON, of type ``kind`` when given) or tensor ``key``."""
    try:
        value = tensors[key] if tensor else json.loads(meta[key])
    except (KeyError, ValueError) as exc:
        raise _damaged(path, key) from exc
    if kind is not None and not isinstance(value, kind):
        raise _damaged(path, key, f"should be a {kind.__name__}, got {type(value).__name__}")
    return value


def _strings(meta: dict, tensors: dict, path: Path, key: str) -> tuple[str, ...]:
    """A list of strings stored as ``<key>_utf8`` + ``<key>_offsets`` tensors, or (version 1
    files) as a JSON list in the metadata."""
    if f"{key}_offsets" not in tensors:
        values = _field(meta, tensors, path, key, kind=list)
        if not all(isinstance(v, str) for v in values):
            raise _damaged(path, key, "should be a list of strings")
        return tuple(values)
    data = _field(meta, tensors, path, f"{key}_utf8", tensor=True)
    offsets = _field(meta, tensors, path, f"{key}_offsets", tensor=True)
    if data.dtype != np.uint8 or data.ndim != 1 or offsets.ndim != 1 or offsets.dtype.kind not in "iu" \
            or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(data) \
            or np.any(np.diff(offsets) < 0):
        raise _damaged(path, key, "has inconsistent string offsets")
    try:
        text = data.tobytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(path, key, f"is not UTF-8 ({exc})") from exc
    bounds = offsets.tolist()
    if len(text) == len(data):   # ASCII: byte offsets are character offsets
        return tuple(text[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
    raw = data.tobytes()
    try:
        return tuple(raw[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:]))
    except UnicodeDecodeError as exc:
        raise _damaged(path, key, "has offsets that split a UTF-8 character") from exc


def _string_tensors(key: str, values: tuple[str, ...]) -> dict:
    """``{<key>_utf8, <key>_offsets}`` for a list of strings (see the module docstring)."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return {f"{key}_utf8": np.frombuffer(b"".join(encoded), np.uint8),
            f"{key}_offsets": offsets}


def save_face_model(face_model: FaceModel, path: Path, overwrite: bool = True) -> Path:
    """Write ``face_model`` (with its resolution layers, if any) to ``path``;
    ``FileExistsError`` if it exists and not ``overwrite``."""
    tensors = {"embedding": face_model.embedding, "members": face_model.members,
               "member_quality": face_model.member_quality}
    if face_model.member_layers is not None:
        tensors["member_layers"] = face_model.member_layers
    return _write(path, FACE_MODEL, tensors,
                  {"embedding_model": json.dumps(face_model.model),
                   "name": json.dumps(face_model.name),
                   "method": json.dumps(face_model.method),
                   "sources": json.dumps(list(face_model.sources)),
                   "widths": json.dumps(list(face_model.widths))}, overwrite)


def _widths(meta: dict, tensors: dict, path: Path) -> tuple[int, ...]:
    """The ``widths`` metadata (absent in files without layers: ``()``)."""
    widths = _field(meta, tensors, path, "widths", kind=list) if "widths" in meta else []
    if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
        raise _damaged(path, "widths", "should be a list of positive integers")
    return tuple(widths)


def load_face_model(path: Path) -> FaceModel:
    """A face model file (files written before layers were stored load without them);
    ``ValueError`` naming the file and field when it is damaged."""
    tensors, meta = _read(path, FACE_MODEL)
    get = lambda key, tensor=False, kind=None: _field(meta, tensors, path, key, tensor, kind)
    embedding, members = get("embedding", True), get("members", True)
    quality = get("member_quality", True)
    sources = _strings(meta, tensors, path, "sources")
    if embedding.ndim != 1 or members.ndim != 2 or members.shape[1] != len(embedding) \
            or quality.shape != (len(members),) or len(sources) != len(members):
        raise ValueError(f"{path} is damaged: embedding {embedding.shape}, members "
                         f"{members.shape}, member_quality {quality.shape} and {len(sources)} "
                         "sources do not fit together")
    widths, layers = _widths(meta, tensors, path), tensors.get("member_layers")
    if (layers is None) != (not widths) or (layers is not None and layers.shape != (
            len(widths), *members.shape)):
        raise _damaged(path, "member_layers", f"has shape {None if layers is None else layers.shape}"
                       f" for widths {list(widths)} and members {members.shape}")
    return FaceModel(get("name", kind=str), get("embedding_model", kind=str), embedding,
                     members, quality, get("method", kind=str), sources, widths, layers)


def save_gallery(gallery: Gallery, path: Path, overwrite: bool = True) -> Path:
    """Write ``gallery`` to ``path``; ``FileExistsError`` if it exists and not ``overwrite``."""
    tensors = {"embeddings": gallery.embeddings, "quality": gallery.quality,
               **_string_tensors("names", gallery.names),
               **_string_tensors("sources", gallery.sources)}
    if gallery.scaled is not None:
        tensors["scaled"] = gallery.scaled
    return _write(path, GALLERY, tensors,
                  {"embedding_model": json.dumps(gallery.model),
                   "widths": json.dumps(list(gallery.widths))}, overwrite)


def load_gallery(path: Path) -> Gallery:
    """A gallery file; ``ValueError`` naming the file and field when it is damaged."""
    tensors, meta = _read(path, GALLERY)
    get = lambda key, tensor=False, kind=None: _field(meta, tensors, path, key, tensor, kind)
    embeddings = get("embeddings", True)
    names = _strings(meta, tensors, path, "names")
    if embeddings.ndim != 2 or embeddings.shape[0] != len(names):
        raise _damaged(path, "embeddings", f"has shape {embeddings.shape} for {len(names)} names")
    widths = _widths(meta, tensors, path)
    try:
        return Gallery(get("embedding_model", kind=str), names, embeddings,
                       get("quality", True), _strings(meta, tensors, path, "sources"),
                       widths, tensors.get("scaled"))
    except ValueError as exc:
        raise ValueError(f"{path} is damaged: {exc}") from exc
