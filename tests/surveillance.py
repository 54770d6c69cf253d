"""Surveillance-like probes for tests and benchmarks: a face cut from a photo, shrunk until it
is ``width`` px wide in a frame 4 x 3 face widths (an 80 x 60 CCTV crop at 20 px), Gaussian
noise and JPEG compression; and the chain that identifies it, run through the pack's nodes
with the settings of ``workflows/surveillance_identify_api.json`` (so the numbers are the
workflow's)."""
import json
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from conftest import ROOT, as_image, load_rgb

from face_pipeline.nodes.denoise import Denoise
from face_pipeline.nodes.faces import DetectFaces
from face_pipeline.nodes.identity import FaceEmbedding, SearchGallery
from face_pipeline.nodes.restore import UpscaleFrames
from face_pipeline.pipeline import faces as face_ops
from face_pipeline.pipeline import identity as id_ops
from face_pipeline.runner.core_nodes import ImageScaleBy

GALLERY = ROOT / "workflows" / "inputs" / "identify" / "gallery"
"""The gallery: Obama 2, Biden 1, Eileen Collins (the astronaut), Grace Hopper."""
PROBES = [("faces/obama/1.jpg", 0, "obama"), ("faces/obama/3.jpg", 0, "obama"),
          ("group/two_people.jpg", 0, "obama"), ("group/two_people.jpg", 1, "biden"),
          ("faces/grace_hopper/1.jpg", 0, "grace_hopper"),
          ("faces/nasa_astronaut/1.png", 0, "eileen_collins")]
"""(testdata photo, face index left to right, name): Obama 1 and 3 and the group photo's faces
are other photos than the gallery's; Grace Hopper and the astronaut are their gallery photos."""
def probe_photos():
    """(photo, face box, name) of every :data:`PROBES` entry, at full resolution."""
    out = []
    for path, index, name in PROBES:
        photo = load_rgb(path)
        found = face_ops.detect_faces(as_image(photo), order="left_to_right").frames[0]
        out.append((photo, found[index].box, name))
    return out


def degrade(photo, box, width=20, sigma=10.0, quality=30, seed=0, frame_size=None):
    """uint8 RGB frame ``[3w, 4w, 3]`` (or ``frame_size`` ``(w, h)``) with the face of ``box``
    (x1, y1, x2, y2) ``width`` px wide at its centre: area shrink, Gaussian noise ``sigma``
    (0..255), JPEG ``quality``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    scale = width / (x2 - x1)
    fw, fh = frame_size or (4 * width, 3 * width)
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ox = int(round((x1 + x2) / 2 * scale - fw / 2))
    oy = int(round((y1 + y2) / 2 * scale - fh / 2))
    pad = cv2.copyMakeBorder(small, fh, fh, fw, fw, cv2.BORDER_REPLICATE)
    crop = pad[oy + fh:oy + 2 * fh, ox + fw:ox + 2 * fw].astype(np.float32)
    if sigma > 0:
        crop += np.random.default_rng(seed).normal(0, sigma, crop.shape)
    crop = np.clip(np.round(crop), 0, 255).astype(np.uint8)
    if quality < 100:
        ok, buf = cv2.imencode(".jpg", crop[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        crop = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(crop)


def central_face(faces):
    """FACES keeping, per frame, only the face nearest the frame centre."""
    def pick(i, fs):
        if not fs:
            return ()
        h, w = faces.image_sizes[i]
        return (min(fs, key=lambda f: float(np.hypot(*(f.center - [w / 2, h / 2])))),)
    return faces.map_frames(pick)




WORKFLOW = ROOT / "workflows" / "surveillance_identify_api.json"
BICUBIC = 4
"""The baseline's bicubic factor (ComfyUI's Upscale Image By), the enhancer's factor."""


def settings(class_type: str) -> dict:
    """The widget values the workflow gives its ``class_type`` node (links left out)."""
    nodes = json.loads(WORKFLOW.read_text())
    node = next(n for n in nodes.values() if n["class_type"] == class_type)
    return {k: v for k, v in node["inputs"].items() if not isinstance(v, list)}


def gallery():
    """The workflow's gallery (Face Gallery from Folder's settings; layers when multiscale)."""
    s = settings("FacePipelineGalleryFromFolder")
    return id_ops.gallery_from_folder(GALLERY, s["model"], detector=s["detector"],
                                      widths=id_ops.GALLERY_WIDTHS if s["multiscale"] else ())[0]


@dataclass
class Probes:
    """Captured frames, the workflow's detections on them and their enhanced copy."""

    image: torch.Tensor
    faces: object
    enhanced: torch.Tensor


def detect_and_enhance(frames) -> Probes:
    """Detect Faces (retry on an enlargement), Denoise and Upscale Frames as the workflow runs
    them, on uint8 frames."""
    image = as_image(*frames)
    faces = DetectFaces().detect(image, **settings("FacePipelineDetectFaces"))[0]
    clean = Denoise().denoise(image, **settings("FacePipelineDenoise"))[0]
    enhanced = UpscaleFrames().upscale(clean, faces=faces,
                                       **settings("FacePipelineUpscaleFrames"))[0]
    return Probes(image, faces, enhanced)


VARIANTS = ["full", "raw", "enhanced", "clean_gallery", "bicubic"]
"""full: the workflow's chain (gated fusion, resolution-matched search); raw / enhanced: Face
Embedding's fusion set to that face only; clean_gallery: search without the resolution layers;
bicubic: the baseline -- the captured frames upscaled x4 bicubic, embedded as they are (the
captured width is lost), searched against the full-resolution gallery."""


def embed(probes: Probes, variant: str = "full"):
    """Embedded FACES of ``probes`` for a :data:`VARIANTS` entry (Face Embedding node)."""
    s = settings("FacePipelineFaceEmbedding")
    if variant == "bicubic":
        big = ImageScaleBy().upscale(probes.image, "bicubic", BICUBIC)[0]
        return FaceEmbedding().embed(big, probes.faces, s["model"], s["device"])[0]
    fusion = variant if variant in ("raw", "enhanced") else s["fusion"]
    return FaceEmbedding().embed(probes.image, probes.faces, s["model"], s["device"],
                                 enhanced_image=probes.enhanced, fusion=fusion)[0]


def identify(probes: Probes, faces, gallery, variant: str = "full", frames=None) -> list:
    """Search Face Gallery's JSON result per frame of ``probes`` (None where no face), with
    node defaults; ``frames``: only these frame indices (the others are left out)."""
    keep = set(range(len(faces))) if frames is None else set(frames)
    faces = faces.map_frames(lambda i, fs: fs if i in keep else ())
    multiscale = variant not in ("clean_gallery", "bicubic")
    hits = json.loads(SearchGallery().search(probes.image, faces, gallery, 3, "euclidean", 0.0,
                                             multiscale)[1])
    by_frame = {h["frame"]: h for h in hits}
    return [by_frame.get(i) for i in range(len(faces))]


def top1(results, truth) -> int:
    """How many results have the true name as their best candidate (closed-set top-1)."""
    return sum(r is not None and r["matches"][0]["name"] == t for r, t in zip(results, truth))


def unknown(results) -> int:
    """How many results are "unknown" (a frame without a face counts as unknown)."""
    return sum(r is None or r["identity"] == "unknown" for r in results)
