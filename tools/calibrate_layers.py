"""Calibrate the per-layer "unknown" limits of resolution-matched gallery search.

Usage: python tools/calibrate_layers.py   (needs scikit-image; prints the table for
``models/embedders.py: LAYER_THRESHOLDS``)

Images: scikit-image's ``lfw_subset`` -- 100 grey 25 x 25 face crops from Labeled Faces in the
Wild (public figures; no identity labels ship, so every pair counts as two people -- the few
repeated people only make the limits stricter).  None of them is a test identity.

Also the grouping limits (``models/embedders.py: GROUP_THRESHOLDS``): the same percentile of
the distances between two degraded probes (noise seeds n and n + 5000) of different faces.

For each layer width ``w`` (16, 20, 24 px): every face is a *probe* (shrunk to ``w`` px,
Gaussian noise sigma 10, JPEG 30, then embedded raw and denoised with the even gate 0.5, as
Face Embedding does for tiny faces) and a *gallery layer* (the clean face shrunk to ``w``, as
gallery build does).  The limit is the 1st percentile of the cosine distances between probes
and other faces' layers: a false-accept rate of 1 % per impostor pair, the order of dlib's own
full-resolution threshold (0.6, 99.38 % on LFW pairs).  Wider layers (32, 48 px) cannot be
made from 25 px crops; they interpolate between the 24 px limit and the full-resolution
default in log width (``models.embedders.layer_threshold``).
"""
import pathlib
import sys

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.models.embedders import default_threshold, load_embedder  # noqa: E402
from face_pipeline.pipeline.identity import embed_vectors  # noqa: E402
from face_pipeline.vision import identity  # noqa: E402
from face_pipeline.vision.denoise import denoise  # noqa: E402
from face_pipeline.vision.face import Face  # noqa: E402

WIDTHS = (16, 20, 24)
FALSE_ACCEPT = 1.0  # percent of impostor pairs


def lfw_faces():
    from skimage.data import lfw_subset
    crops = (lfw_subset()[:100] * 255).round().astype(np.uint8)   # the first 100 are faces
    return [cv2.copyMakeBorder(np.repeat(c[..., None], 3, -1), 25, 25, 25, 25,
                               cv2.BORDER_REPLICATE) for c in crops]


def face_at(scale):
    """The crop's face (the 25 px square in the padded 75 px frame) after scaling by ``scale``."""
    box = np.array([25, 25, 50, 50], np.float32) * scale
    kps = (np.array([[0.3, 0.38], [0.7, 0.38], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]]) * 25 + 25)
    return Face(box=box, score=1.0, keypoints=(kps * scale).astype(np.float32))


def degrade(frame, seed):
    noisy = frame + np.random.default_rng(seed).normal(0, 10, frame.shape)
    noisy = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 30])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def main():
    embedder = load_embedder("dlib_resnet_v1")
    faces = lfw_faces()
    table, groups = {}, {}
    for width in WIDTHS:
        scale = width / 25
        face = face_at(scale)
        probes, seconds, layers = [], [], []
        for n, frame in enumerate(faces):
            small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            layers.append(embed_vectors(embedder, small, (face,))[0])
            for seed, out in ((n, probes), (n + 5000, seconds)):
                dirty = degrade(small, seed)
                raw = embed_vectors(embedder, dirty, (face,))[0]
                clean = embed_vectors(embedder, denoise(dirty).frame, (face,))[0]
                out.append(identity.fuse(raw, clean, 0.5))
        pairs = identity.distances(np.stack(probes), np.stack(seconds), "cosine")
        groups[width] = float(np.percentile(pairs[~np.eye(len(faces), dtype=bool)], FALSE_ACCEPT))
        print(f"{width} px: grouping limit {groups[width]:.4f}; two degraded copies of one "
              f"face: median {np.median(np.diag(pairs)):.3f}, "
              f"{np.mean(np.diag(pairs) <= groups[width]):.0%} within the limit")
        dist = identity.distances(np.stack(probes), np.stack(layers), "cosine")
        impostors = dist[~np.eye(len(faces), dtype=bool)]
        table[width] = float(np.percentile(impostors, FALSE_ACCEPT))
        same = np.diag(dist)
        print(f"{width} px: limit {table[width]:.4f} cosine; impostor median "
              f"{np.median(impostors):.3f}; same face (degraded vs clean layer) median "
              f"{np.median(same):.3f}, {np.mean(same <= table[width]):.0%} within the limit")
    print(f"full-resolution default {default_threshold('dlib_resnet_v1'):.4f}")
    print("LAYER_THRESHOLDS['dlib_resnet_v1'] =",
          "{" + ", ".join(f"{w}: {t:.3f}" for w, t in table.items()) + "}")
    print("GROUP_THRESHOLDS['dlib_resnet_v1'] =",
          "{" + ", ".join(f"{w}: {t:.3f}" for w, t in groups.items()) + "}")


if __name__ == "__main__":
    main()
