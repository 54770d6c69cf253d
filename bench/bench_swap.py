"""Benchmark: mesh-warp face swap per frame (one face) on CPU, against a hard paste.

Run: python bench/bench_swap.py   (writes bench/results_swap.md)

Target frames of 512x512, 1280x720 and 1920x1080 hold Grace Hopper's portrait; the source is
the astronaut, prepared once.  "swap" is warp + gated blend with the target's faces known (as
in a video graph where detection and landmarks are their own nodes, timed in
results_faces.md); "full" adds detection and landmarks on the target frame.  The baseline is a
hard paste (resize the source's face box into the target's box), measured in the same run.
"""
import pathlib
import sys

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_faces import RUNS, frame_with_face, median_ms  # noqa: E402  (also loads the pack)

from face_pipeline.pipeline import faces as ops  # noqa: E402
from face_pipeline.pipeline.swap import face_swap  # noqa: E402
from face_pipeline.vision.image import frame_uint8  # noqa: E402

SIZES = {"512x512": (512, 512), "720p": (1280, 720), "1080p": (1920, 1080)}


def hard_paste(source, source_box, target, target_box):
    x1, y1, x2, y2 = np.round(target_box).astype(int)
    a1, b1, a2, b2 = np.round(source_box).astype(int)
    out = target.copy()
    out[y1:y2, x1:x2] = cv2.resize(source[b1:b2, a1:a2], (x2 - x1, y2 - y1))
    return out


def main():
    rgb = cv2.cvtColor(cv2.imread(str(ROOT / "workflows/inputs/astronaut.png")), cv2.COLOR_BGR2RGB)
    source_image = torch.from_numpy(rgb[None].astype(np.float32) / 255)
    source_faces = ops.add_landmarks(source_image, ops.detect_faces(source_image))
    rows = []
    for label, (w, h) in SIZES.items():
        target = frame_with_face(w, h)
        target_faces = ops.add_landmarks(target, ops.detect_faces(target))
        s_box, t_box = source_faces.frames[0][0].box, target_faces.frames[0][0].box
        s_np, t_np = frame_uint8(source_image, 0), frame_uint8(target, 0)
        t = {
            "paste": median_ms(lambda: hard_paste(s_np, s_box, t_np, t_box)),
            "swap": median_ms(lambda: face_swap(source_image, target, source_faces=source_faces,
                                                target_faces=target_faces)),
            "full": median_ms(lambda: face_swap(source_image, target, source_faces=source_faces)),
        }
        rows.append((label, t))
        print(label, {k: round(v, 1) for k, v in t.items()})
    lines = ["# Mesh-warp face swap per frame (one face), CPU", "",
             f"Median of {RUNS} runs; `python bench/bench_swap.py`. Baseline: hard paste of the "
             "source's face box into the target's box, same run.", "",
             "| frame | hard paste ms | swap ms (warp + gated blend) | fps | swap / paste | "
             "full ms (+ detect + landmarks) | fps |", "|---|---|---|---|---|---|---|"]
    for label, t in rows:
        lines.append(f"| {label} | {t['paste']:.2f} | {t['swap']:.1f} | {1000 / t['swap']:.0f} | "
                     f"{t['swap'] / t['paste']:.0f} | {t['full']:.1f} | {1000 / t['full']:.0f} |")
    (ROOT / "bench" / "results_swap.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
