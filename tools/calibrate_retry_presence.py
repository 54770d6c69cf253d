"""Calibrate the face-presence limit for faces found on the retry's enlargement
(``pipeline.restore.RETRY_PRESENCE_THRESHOLD``).

Usage: python tools/calibrate_retry_presence.py [seeds]   (needs scikit-image; ~5 min on 2
busy cores; prints the presence scores of true and false detections per face width)

Images: scikit-image's ``lfw_subset`` -- 100 grey 25 x 25 face crops from Labeled Faces in the
Wild and 100 grey 25 x 25 crops without a face (none of them a test identity).  A frame is a
4 x 3 grid of cells ``1.2 w`` px wide (an 80 x 60 CCTV crop at ``w`` = 16-20 px), filled with
random non-face crops; a face frame has one face crop in one of the two middle cells (the face
inside it is about ``w`` px wide), a non-face frame has none.  Every frame is degraded as the
surveillance probes are (Gaussian noise sigma 10, JPEG 30; seeds 1000+ here, the tests use
0-3), enlarged x4 with the retry upscaler and searched at the surveillance workflow's
threshold 0.3 (more candidates than the default 0.5) with no presence limit, recording each
detection's presence score; a detection is true when its centre lies in the face crop's cell.

Result (1 seed, 100 face and 100 non-face frames per width; realesr_animevideov3_x4):

| width | faces found on the enlargement | kept at 0.5 | kept at 0.1 | false (kept at 0.1) |
|---|---|---|---|---|
| 16 px | 74 | 22 | 35 | 40 (1, presence 0.17) |
| 20 px | 90 | 42 | 60 | 31 (0; max 0.072) |

The lfw crops are cut tight around the face (no chin or hair outline), which lowers the mesh's
presence score; faces with context score higher.
"""
import pathlib
import sys

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.pipeline import restore  # noqa: E402
from face_pipeline.pipeline.faces import detect_faces  # noqa: E402
from face_pipeline.vision.image import to_image  # noqa: E402
from face_pipeline.vision.restore import tiled_upscale  # noqa: E402

WIDTHS = (16, 20)
MODEL = "realesr_animevideov3_x4"


def lfw():
    from skimage.data import lfw_subset
    crops = (lfw_subset() * 255).round().astype(np.uint8)
    return crops[:100], crops[100:]     # the first 100 are faces, the rest are not


def frame(width, face, backgrounds, rng):
    """uint8 RGB frame of 4 x 3 cells and the face cell's box (None without a face)."""
    cell = int(round(1.2 * width))
    tiles = [cv2.resize(backgrounds[rng.integers(len(backgrounds))], (cell, cell),
                        interpolation=cv2.INTER_AREA) for _ in range(12)]
    box = None
    if face is not None:
        col = 1 + int(rng.integers(2))
        tiles[4 + col] = cv2.resize(face, (cell, cell), interpolation=cv2.INTER_AREA)
        box = np.array([col * cell, cell, (col + 1) * cell, 2 * cell], np.float32)
    grey = np.concatenate([np.concatenate(tiles[r * 4:(r + 1) * 4], 1) for r in range(3)], 0)
    rgb = np.repeat(grey[..., None], 3, -1).astype(np.float32)
    rgb = np.clip(np.round(rgb + rng.normal(0, 10, rgb.shape)), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 30])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR), box


def candidates(rgb, enhancer):
    """(original-pixel box, detector score, presence) of every detection on the enlargement."""
    big = tiled_upscale(rgb.astype(np.float32) / 255, enhancer, enhancer.scale)
    found = detect_faces(to_image([big]), threshold=0.3, presence_threshold=0.0).frames[0]
    return [(f.box / enhancer.scale, f.score, f.landmark_score) for f in found]


def main(seeds=1):
    faces, others = lfw()
    enhancer = restore.get_enhancer(MODEL, device="cpu")
    for width in WIDTHS:
        true, false, missed = [], [], 0
        for seed in range(seeds):
            rng = np.random.default_rng(1000 + 100 * seed + width)
            for face in list(faces) + [None] * len(others):
                rgb, box = frame(width, face, others, rng)
                hit = None
                for b, score, presence in candidates(rgb, enhancer):
                    c = (b[:2] + b[2:]) / 2
                    inside = box is not None and (box[:2] <= c).all() and (c <= box[2:]).all()
                    if inside:
                        hit = max(presence, hit or 0.0)
                    else:
                        false.append(presence)
                if hit is None:
                    missed += box is not None
                else:
                    true.append(hit)
        true, false = np.array(true), np.array(false)
        print(f"{width} px: {len(true)} faces detected on the enlargement, {missed} missed; "
              f"{len(false)} false detections")
        print("  true presence percentiles 1/5/10/25/50:",
              np.round(np.percentile(true, [1, 5, 10, 25, 50]), 3))
        print("  false presence max and 99/95th percentile:",
              np.round([false.max(initial=0), *np.percentile(false, [99, 95])], 3)
              if len(false) else "none")
        for limit in (0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
            print(f"  limit {limit}: keeps {(true >= limit).sum()}/{len(true)} faces, "
                  f"{(false >= limit).sum()}/{len(false)} false")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
