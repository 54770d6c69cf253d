"""Benchmark: gated blend of one face per frame on CPU, against a hard paste.

Run: python bench/bench_blend.py   (writes bench/results_blend.md)

Frames of 512x512, 1280x720 and 1920x1080 hold Grace Hopper's portrait scaled to the frame
height (face about a third of it); the astronaut's face is aligned onto hers with a similarity
warp of the 478 landmarks (the warped source) and the mask is the face-mesh hull.  The hard
paste (``np.where`` on the mask's bounding box, plus the frame copy every method makes) runs
on the same frames in the same process as the baseline.  Medians of repeated runs; OpenCV is
limited to 2 threads, the swap's target machine.
"""
import pathlib
import sys

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import cpu_description, median_ms  # noqa: E402  (no pack imports)
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.pipeline import faces as ops  # noqa: E402
from face_pipeline.vision import blend, poisson  # noqa: E402
from face_pipeline.vision.geometry import similarity_transform  # noqa: E402

SIZES = {"512x512": (512, 512), "720p": (1280, 720), "1080p": (1920, 1080)}
RUNS = 25
THREADS = 2


def landmarks(frame: np.ndarray) -> np.ndarray:
    image = torch.from_numpy(frame[None].astype(np.float32) / 255)
    return ops.add_landmarks(image, ops.detect_faces(image)).frames[0][0].landmarks[:468, :2]


def inputs(width: int, height: int):
    """(target, warped source, mask) float32 for one frame size."""
    portrait = cv2.imread(str(ROOT / "workflows/inputs/grace_hopper.jpg"))[:, :, ::-1]
    source = np.ascontiguousarray(cv2.imread(str(ROOT / "workflows/inputs/astronaut.png"))[:, :, ::-1])
    scale = height / portrait.shape[0]
    face = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    target = np.full((height, width, 3), 120, np.uint8)
    x = (width - face.shape[1]) // 2
    visible = face[:, max(-x, 0):max(-x, 0) + width]
    target[:, max(x, 0):max(x, 0) + visible.shape[1]] = visible
    dst = landmarks(target)
    matrix = similarity_transform(landmarks(source), dst)
    warped = cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(dst.astype(np.int32)), 1)
    return (target.astype(np.float32) / 255, warped.astype(np.float32) / 255,
            mask.astype(np.float32))


def hard_paste(target, source, mask):
    out = target.copy()
    x0, y0, x1, y1 = blend.mask_box(mask)
    inside = mask[y0:y1, x0:x1, None] > 0
    out[y0:y1, x0:x1] = np.where(inside, source[y0:y1, x0:x1], target[y0:y1, x0:x1])
    return out


def main():
    cv2.setNumThreads(THREADS)
    torch.set_num_threads(THREADS)
    rows = []
    for label, (w, h) in SIZES.items():
        target, source, mask = inputs(w, h)
        x0, _, x1, _ = blend.mask_box(mask)
        quality = blend.source_quality(source, mask)
        paste = median_ms(lambda: hard_paste(target, source, mask), RUNS)
        gated = median_ms(lambda: blend.gated_blend(target, source, mask), RUNS)
        given = median_ms(lambda: blend.gated_blend(target, source, mask, quality=quality), RUNS)
        clone = median_ms(lambda: poisson.poisson_clone(target, source, mask), 5)
        rows.append(f"| {label} | {x1 - x0} | {paste:.2f} | {gated:.1f} | {given:.1f} | "
                    f"{1000 / gated:.0f} | {gated / paste:.0f}x | {clone:.0f} |")
        print(rows[-1], flush=True)
    text = "\n".join([
        "# Gated blend, CPU, one face per frame",
        "",
        f"Machine: {cpu_description()}, {THREADS} threads; median of {RUNS} runs "
        "(Poisson: 5); `python bench/bench_blend.py`.",
        "Baseline: hard paste (`np.where` on the mask's bounding box + frame copy), same frames,",
        "same process. Gated blend: Reinhard colour transfer, feather 15 px, Laplacian bands;",
        "'estimated' measures the warped source's quality every frame, 'given' takes it as an",
        "input (measured once per source, as the swap does). Absolute times vary by 30-50 % on",
        "these shared machines; the ratio to the hard paste in the same run holds better.",
        "",
        "| frame | face px | hard paste ms | gated blend ms (estimated) | gated blend ms (given) "
        "| fps (estimated) | gated / paste | Poisson normal ms |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    (ROOT / "bench" / "results_blend.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
