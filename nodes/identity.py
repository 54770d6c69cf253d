"""Nodes for identity: embeddings, comparison, face models, galleries and 1:N search."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..models.onnx import DEVICES
from ..models.paths import safe_join
from ..models.registry import model_ids
from ..pipeline import identity as ops
from ..vision.identity import AGGREGATES, METRICS
from ._comfy import CATEGORY, frames

try:  # ComfyUI's input folder; the headless runner's stand-in otherwise
    import folder_paths
except ImportError:
    folder_paths = None

GROUP = CATEGORY + "/identity"
EXTRA_DIRS_ENV = "FACE_PIPELINE_GALLERY_DIRS"

DEVICE = (DEVICES, {"default": "auto", "tooltip": "Where an ONNX embedder runs (dlib always "
                    "uses the CPU)."})
MODEL = (lambda: (model_ids("embed"), {"tooltip": "dlib_resnet_v1: embedded, offline, 128-d "
         "(CC0). arcface_w600k_r50: insightface's 512-d ArcFace (download, non-commercial)."}))
METRIC = (METRICS, {"default": "euclidean", "tooltip": "Distance between the normalised "
          "embeddings (euclidean = sqrt(2 x cosine)); thresholds are in this metric."})
THRESHOLD = ("FLOAT", {"default": 0.0, "min": 0.0, "max": 2.0, "step": 0.005, "tooltip":
             "Largest distance that still counts as the same person; 0 uses the model's "
             "default (dlib: 0.43 euclidean / 0.093 cosine)."})
FACES_IN = lambda tip: ("FACES", {"tooltip": tip})
INDEX = lambda tip: ("INT", {"default": 0, "min": 0, "max": 9999, "tooltip": tip})
WIDTHS = ("BOOLEAN", {"default": True, "tooltip": "Also embed every entry with its face "
          f"shrunk to {list(ops.GALLERY_WIDTHS)} px, so tiny probe faces are compared like "
          "with like, each layer with its own calibrated 'unknown' limit (5x slower to build; "
          "see bench/results_identity.md)."})


NONE_SAVED = "(none saved yet)"


def _stored(kind: str) -> list[str]:
    """Saved files for a loader's combo (a placeholder when there are none yet)."""
    return ops.stored_names(kind) or [NONE_SAVED]


def _filename(kind: str) -> tuple:
    folder = ops.STORE[kind]
    return ("STRING", {"default": "person" if kind == "face_model" else "gallery", "tooltip":
            f"Name of the file in models/face_pipeline/{folder} (.safetensors is added); "
            f"subfolders like team/alice are allowed, '..' and absolute paths are not."})


OVERWRITE = ("BOOLEAN", {"default": False, "tooltip": "Replace a file of the same name. Off: "
             "saving over an existing file is an error (nothing is lost by accident)."})


def _save(kind: str, value, filename: str, overwrite: bool) -> dict:
    path = str(ops.save_stored(kind, value, filename, overwrite))
    return {"ui": {"text": [path]}, "result": (path,)}


def _load(kind: str, filename: str):
    if filename == NONE_SAVED:
        raise ValueError(f"no {ops.STORED_WHAT[kind]} is saved yet: run Save "
                         f"{ops.STORED_WHAT[kind].title()} first, then reload the page")
    return ops.load_stored(kind, filename)


def _input_dir() -> Path:
    if folder_paths is not None:
        return Path(folder_paths.get_input_directory())
    from ..runner.core_nodes import FOLDERS
    return Path(FOLDERS.input_dir)


def gallery_folder(folder: str) -> Path:
    """``folder`` relative to the input folder, or an absolute path inside the input folder or a
    folder listed in ``FACE_PIPELINE_GALLERY_DIRS``; ``ValueError`` for anything outside."""
    if not Path(folder).is_absolute():
        return safe_join(_input_dir(), folder, "gallery folder", "input folder")
    extra = os.environ.get(EXTRA_DIRS_ENV, "").split(os.pathsep)
    roots = [_input_dir(), *(Path(p) for p in extra if p)]
    real = Path(folder).resolve()
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        raise ValueError(f"gallery folder {folder} is outside the input folder; give a path "
                         f"relative to {roots[0]} or list its parent in {EXTRA_DIRS_ENV}")
    return real


class FaceEmbedding:
    DESCRIPTION = ("Compute an identity embedding for every face (L2-normalised, tagged with "
                   "the model) plus a quality score; small or blurred faces are flagged in the "
                   "report because their identity results are unreliable.")
    CATEGORY = GROUP
    FUNCTION = "embed"
    RETURN_TYPES = ("FACES", "STRING")
    RETURN_NAMES = ("faces", "report")
    OUTPUT_TOOLTIPS = ("The faces with embedding, embedding model and quality.",
                       "Per-face size and quality; WARNING lines for flagged faces.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The frames as captured (faces found on an upscaled "
                      "copy are mapped back; their captured width drives gallery search)."}),
            "faces": FACES_IN("Faces from Detect Faces (or Face Landmarks)."),
            "model": MODEL(),
            "device": DEVICE,
        }, "optional": {
            "allow_download": ("BOOLEAN", {"default": False, "tooltip": "Allow downloading a "
                               "missing model file (verified by sha256)."}),
            "enhanced_image": ("IMAGE", {"tooltip": "The same frames after Denoise / face "
                               "enhancement (any size, same aspect). Each face is embedded on "
                               "both and the two embeddings fused by their quality."}),
            "fusion": (ops.FUSIONS, {"default": "gated", "tooltip": "With enhanced_image: "
                       "gated = g*raw + (1-g)*enhanced, g from both faces' quality (the "
                       "better face weighs more; equal quality 0.5); raw or enhanced = that "
                       "face only."}),
        }}

    def embed(self, image, faces, model, device, allow_download=False, enhanced_image=None,
              fusion="gated"):
        return ops.embed_faces(image, faces, model, enhanced_image=enhanced_image, fusion=fusion,
                               device=device, allow_download=allow_download, loop=frames)


class CompareFaces:
    DESCRIPTION = ("Decide whether two faces are the same person: distance between their "
                   "embeddings against a threshold (the model's default unless set).")
    CATEGORY = GROUP
    FUNCTION = "compare"
    RETURN_TYPES = ("BOOLEAN", "FLOAT", "FLOAT", "STRING")
    RETURN_NAMES = ("same_person", "distance", "score", "text")
    OUTPUT_TOOLTIPS = ("True when the distance is within the threshold.", "The distance.",
                       "Readable 0..100 match score: 50 at the threshold, 100 identical.",
                       "The verdict in words.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "faces_a": FACES_IN("Embedded faces (Face Embedding)."),
            "index_a": INDEX("Which face of faces_a (all frames, in order)."),
            "metric": METRIC,
            "threshold": THRESHOLD,
        }, "optional": {
            "faces_b": FACES_IN("Embedded faces to compare with; or connect face_model_b."),
            "index_b": INDEX("Which face of faces_b."),
            "face_model_b": ("FACE_MODEL", {"tooltip": "A face model to compare with instead."}),
        }}

    def compare(self, faces_a, index_a, metric, threshold, faces_b=None, index_b=0,
                face_model_b=None):
        b = face_model_b if face_model_b is not None else faces_b
        if b is None:
            raise ValueError("connect faces_b or face_model_b")
        verdict = ops.compare(faces_a, b, index_a=index_a, index_b=index_b, metric=metric,
                              threshold=threshold)
        return verdict.same, verdict.distance, verdict.score, verdict.text


class BuildFaceModel:
    DESCRIPTION = ("Make a face model (one person) from the first face of every image: the "
                   "mean or median of their normalised embeddings. Poor faces are left out.")
    CATEGORY = GROUP
    FUNCTION = "build"
    RETURN_TYPES = ("FACE_MODEL", "STRING")
    RETURN_NAMES = ("face_model", "report")
    OUTPUT_TOOLTIPS = ("The face model.", "What went in and what was left out.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "faces": FACES_IN("Embedded faces; the first face of each image is used."),
            "name": ("STRING", {"default": "person", "tooltip": "The person's name."}),
            "method": (AGGREGATES, {"default": "mean", "tooltip": "mean: quality-weighted "
                       "average; median: robust to one odd photo (needs 3+)."}),
            "min_quality": ("FLOAT", {"default": 0.2, "min": 0.0, "max": 1.0, "step": 0.05,
                            "tooltip": "Leave out faces below this quality (small, blurred)."}),
        }, "optional": {
            "add_to": ("FACE_MODEL", {"tooltip": "Extend this face model with the new photos."}),
            "image": ("IMAGE", {"tooltip": "The photos the faces were found on: when connected, "
                      f"each is also embedded shrunk to {list(ops.GALLERY_WIDTHS)} px face "
                      "widths, so the model joins a gallery with resolution layers (Save Face "
                      "Model keeps them)."}),
        }}

    def build(self, faces, name, method, min_quality, add_to=None, image=None):
        return ops.build_face_model(faces, name, method=method, min_quality=min_quality,
                                    base=add_to, image=image, loop=frames)


class SaveFaceModel:
    DESCRIPTION = ("Save a face model as safetensors in models/face_pipeline/faces (no "
                   "pickles).")
    CATEGORY = GROUP
    FUNCTION = "save"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("Where the file was written.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "face_model": ("FACE_MODEL", {"tooltip": "The face model to save."}),
            "filename": _filename("face_model"),
        }, "optional": {"overwrite": OVERWRITE}}

    def save(self, face_model, filename, overwrite=False):
        return _save("face_model", face_model, filename, overwrite)


class LoadFaceModel:
    DESCRIPTION = "Load a face model saved by Save Face Model."
    CATEGORY = GROUP
    FUNCTION = "load"
    RETURN_TYPES = ("FACE_MODEL", "STRING")
    RETURN_NAMES = ("face_model", "info")
    OUTPUT_TOOLTIPS = ("The face model.", "Name, model, photos and quality.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"filename": (_stored("face_model"), {"tooltip":
                "Files in models/face_pipeline/faces (subfolders included)."})}}

    def load(self, filename):
        model = _load("face_model", filename)
        return model, (f"face model '{model.name}' ({model.model}): {len(model.sources)} "
                       f"photo(s), {model.method}, quality {model.quality:.2f}")


class GalleryFromFolder:
    DESCRIPTION = ("Build a face gallery from a folder with one subfolder per person "
                   "(<folder>/<name>/<photo>.jpg): the largest face of every photo is an entry.")
    CATEGORY = GROUP
    FUNCTION = "build"
    RETURN_TYPES = ("FACE_GALLERY", "STRING")
    RETURN_NAMES = ("gallery", "report")
    OUTPUT_TOOLTIPS = ("The gallery.", "Identities found and photos skipped or flagged.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "folder": ("STRING", {"default": "gallery", "tooltip": "Relative to ComfyUI's "
                       f"input folder (or an absolute path listed in {EXTRA_DIRS_ENV})."}),
            "model": MODEL(),
            "multiscale": WIDTHS,
            "detector": (model_ids("detect"), {"tooltip": "Detector for the photos."}),
            "device": DEVICE,
        }}

    @classmethod
    def IS_CHANGED(cls, folder, **kwargs):
        root = gallery_folder(folder)
        return sorted((str(p), p.lstat().st_mtime) for p in root.rglob("*")) if root.is_dir() else ""

    def build(self, folder, model, multiscale, detector, device):
        widths = ops.GALLERY_WIDTHS if multiscale else ()
        return ops.gallery_from_folder(gallery_folder(folder), model, widths=widths,
                                       detector=detector, device=device, loop=frames)


class GalleryFromImages:
    DESCRIPTION = ("Build a face gallery from an image batch: the first face of every image, "
                   "named by the names list (one per image).")
    CATEGORY = GROUP
    FUNCTION = "build"
    RETURN_TYPES = ("FACE_GALLERY", "STRING")
    RETURN_NAMES = ("gallery", "report")
    OUTPUT_TOOLTIPS = ("The gallery.", "Identities and skipped or flagged images.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "One photo per entry."}),
            "faces": FACES_IN("Faces detected on the images."),
            "names": ("STRING", {"default": "", "multiline": True, "tooltip": "One name per "
                      "image, separated by commas or new lines; repeat a name for more photos."}),
            "model": MODEL(),
            "multiscale": WIDTHS,
            "device": DEVICE,
        }}

    def build(self, image, faces, names, model, multiscale, device):
        widths = ops.GALLERY_WIDTHS if multiscale else ()
        return ops.gallery_from_images(image, faces, ops.parse_names(names), model, widths=widths,
                                       device=device, loop=frames)


class EditGallery:
    DESCRIPTION = ("Add a face model or another gallery's entries to a gallery, and/or remove "
                   "every entry of the given names.")
    CATEGORY = GROUP
    FUNCTION = "edit"
    RETURN_TYPES = ("FACE_GALLERY", "STRING")
    RETURN_NAMES = ("gallery", "summary")
    OUTPUT_TOOLTIPS = ("The edited gallery (the input is not changed).", "What it now holds.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "gallery": ("FACE_GALLERY", {"tooltip": "The gallery to edit."}),
            "remove": ("STRING", {"default": "", "tooltip": "Names to remove, comma separated."}),
        }, "optional": {
            "add_face_model": ("FACE_MODEL", {"tooltip": "Added as one entry under its name."}),
            "add_gallery": ("FACE_GALLERY", {"tooltip": "All its entries are added."}),
        }}

    def edit(self, gallery, remove, add_face_model=None, add_gallery=None):
        if add_face_model is not None:
            gallery = gallery.add_face_model(add_face_model)
        if add_gallery is not None:
            gallery = gallery.merge(add_gallery)
        for name in ops.parse_names(remove):
            gallery = gallery.remove(name)
        return gallery, gallery.summary()


class SaveGallery:
    DESCRIPTION = ("Save a face gallery as safetensors in models/face_pipeline/galleries "
                   "(embeddings, names, model, quality, source files; no pickles).")
    CATEGORY = GROUP
    FUNCTION = "save"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("Where the file was written.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "gallery": ("FACE_GALLERY", {"tooltip": "The gallery to save."}),
            "filename": _filename("gallery"),
        }, "optional": {"overwrite": OVERWRITE}}

    def save(self, gallery, filename, overwrite=False):
        return _save("gallery", gallery, filename, overwrite)


class LoadGallery:
    DESCRIPTION = "Load a face gallery saved by Save Face Gallery."
    CATEGORY = GROUP
    FUNCTION = "load"
    RETURN_TYPES = ("FACE_GALLERY", "STRING")
    RETURN_NAMES = ("gallery", "summary")
    OUTPUT_TOOLTIPS = ("The gallery.", "What it holds.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"filename": (_stored("gallery"), {"tooltip":
                "Files in models/face_pipeline/galleries (subfolders included)."})}}

    def load(self, filename):
        gallery = _load("gallery", filename)
        return gallery, gallery.summary()


class SearchGallery:
    DESCRIPTION = ("Identify every embedded face: the top-k gallery identities with distances "
                   "and scores; 'unknown' when even the best is beyond the threshold.")
    CATEGORY = GROUP
    FUNCTION = "search"
    RETURN_TYPES = ("STRING", "STRING", "IMAGE")
    RETURN_NAMES = ("text", "json", "image")
    OUTPUT_TOOLTIPS = ("One line per face: identity, distance, score.",
                       "Per face: frame, index, box, quality, identity and the top-k matches.",
                       "The images with boxes and names drawn (red: unknown).")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The images to draw on: the frames the faces were "
                      "found on or a resized copy (e.g. upscaled for viewing)."}),
            "faces": FACES_IN("Embedded faces (same model as the gallery)."),
            "gallery": ("FACE_GALLERY", {"tooltip": "Known identities."}),
            "top_k": ("INT", {"default": 3, "min": 1, "max": 100, "tooltip": "Candidates per "
                      "face in the JSON."}),
            "metric": METRIC,
            "threshold": THRESHOLD,
            "multiscale": ("BOOLEAN", {"default": True, "tooltip": "Compare a small face with "
                           "the gallery embedded at its own width (galleries built with "
                           "multiscale)."}),
        }}

    def search(self, image, faces, gallery, top_k, metric, threshold, multiscale):
        faces = ops.faces_on_frames(image, faces)  # e.g. drawn on an upscaled copy
        hits = ops.search(faces, gallery, k=top_k, metric=metric, threshold=threshold,
                          multiscale=multiscale)
        return (ops.hits_text(hits), json.dumps(ops.hits_json(hits), indent=1),
                ops.draw_hits(image, hits, loop=frames))


class SelectFacesByReference:
    DESCRIPTION = ("Keep only the faces that look like a reference face or face model "
                   "(FaceFusion's 'reference' selector mode) - e.g. to swap one person in a "
                   "group or video.")
    CATEGORY = GROUP
    FUNCTION = "select"
    RETURN_TYPES = ("FACES", "STRING")
    RETURN_NAMES = ("faces", "distances")
    OUTPUT_TOOLTIPS = ("The selected faces (frames kept, empty where none matched).",
                       "Distance of every input face to the reference.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "faces": FACES_IN("Embedded faces to choose from."),
            "metric": (METRICS, {"default": "cosine", "tooltip": "FaceFusion uses cosine."}),
            "threshold": THRESHOLD,
        }, "optional": {
            "reference_faces": FACES_IN("Embedded faces holding the reference face."),
            "reference_index": INDEX("Which face of reference_faces."),
            "reference_model": ("FACE_MODEL", {"tooltip": "A face model as the reference."}),
        }}

    def select(self, faces, metric, threshold, reference_faces=None, reference_index=0,
               reference_model=None):
        reference = reference_model if reference_model is not None else reference_faces
        if reference is None:
            raise ValueError("connect reference_faces or reference_model")
        selected, dist = ops.select_by_reference(faces, reference, reference_index=reference_index,
                                                 metric=metric, threshold=threshold)
        return selected, ", ".join(f"{d:.3f}" for d in dist)
