"""Surveillance-like probes for tests and benchmarks: a face cut from a photo, shrunk until it
is ``width`` px wide in a frame 4 x 3 face widths (an 80 x 60 CCTV crop at 20 px), Gaussian
noise and JPEG compression; and the chain that identifies it through the pack's functions."""
import cv2
import numpy as np
from conftest import ROOT, as_image, load_rgb

from face_pipeline.pipeline import denoise as dn_ops
from face_pipeline.pipeline import faces as face_ops
from face_pipeline.pipeline import identity as id_ops

GALLERY = ROOT / "workflows" / "inputs" / "identify" / "gallery"
"""The gallery: Obama 2, Biden 1, Eileen Collins (the astronaut), Grace Hopper."""
PROBES = [("faces/obama/1.jpg", 0, "obama"), ("faces/obama/3.jpg", 0, "obama"),
          ("group/two_people.jpg", 0, "obama"), ("group/two_people.jpg", 1, "biden"),
          ("faces/grace_hopper/1.jpg", 0, "grace_hopper"),
          ("faces/nasa_astronaut/1.png", 0, "eileen_collins")]
"""(testdata photo, face index left to right, name): Obama 1 and 3 and the group photo's faces
are other photos than the gallery's; Grace Hopper and the astronaut are their gallery photos."""
UPSCALE = 8
"""Bicubic factor the probe frames get before detection (Detect Faces misses 20 px faces)."""
DETECT = dict(threshold=0.3, verify=False)
"""Detect settings for degraded tiny faces (shared/notes: all 21 found at 0.3, no verification)."""


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


def upscale(image, factor=UPSCALE):
    """IMAGE resized by ``factor``, bicubic (what a user does with ComfyUI's Upscale Image By)."""
    import torch
    return torch.nn.functional.interpolate(image.permute(0, 3, 1, 2), scale_factor=factor,
                                           mode="bicubic", align_corners=False
                                           ).clamp(0, 1).permute(0, 2, 3, 1).contiguous()


def central_face(faces):
    """FACES keeping, per frame, only the face nearest the frame centre."""
    def pick(i, fs):
        if not fs:
            return ()
        h, w = faces.image_sizes[i]
        return (min(fs, key=lambda f: float(np.hypot(*(f.center - [w / 2, h / 2])))),)
    return faces.map_frames(pick)


def detect(image):
    """Central face of every probe frame, found on the bicubic upscale (mapped back later by
    Face Embedding)."""
    return central_face(face_ops.detect_faces(upscale(image), **DETECT))


def embed(frames, variant="gated", faces=None):
    """Embedded probe FACES of uint8 frames (``faces``: their :func:`detect` result, found
    when None).  ``bicubic``: the upscaled frames embedded as they are (captured width lost:
    the baseline); ``raw`` / ``enhanced`` / ``gated``: Face Embedding on the captured frames
    with the denoised upscale as enhanced_image."""
    image = as_image(*frames)
    faces = detect(image) if faces is None else faces
    if variant == "bicubic":
        return id_ops.embed_faces(upscale(image), faces)[0]
    enhanced = upscale(dn_ops.denoise_images(image)[0])
    return id_ops.embed_faces(image, faces, enhanced_image=enhanced, fusion=variant)[0]


def identify(faces, gallery, multiscale=True):
    """SearchResult per frame (None where no face was found)."""
    hits = {h.frame: h.result for h in id_ops.search(faces, gallery, k=3, multiscale=multiscale)}
    return [hits.get(i) for i in range(len(faces))]


def top1(results, truth):
    """How many results have the true name as their best candidate (closed-set top-1)."""
    return sum(r is not None and r.matches[0].name == t for r, t in zip(results, truth))
