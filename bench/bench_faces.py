"""Benchmark: detect + 478 landmarks + align per frame on CPU, against OpenCV's Haar cascade.

Run: python bench/bench_faces.py   (writes bench/results_faces.md)

Frames of 512x512, 1280x720 and 1920x1080 hold one public-domain portrait (face about a third
of the frame height).  Each stage is timed as the median of repeated runs in one process; the
Haar cascade (OpenCV's classic CPU face detector) runs on the same frames as the baseline, so
the ratios hold on any machine even though absolute times do not.
"""
import pathlib
import platform
import statistics
import sys
import time

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.pipeline import faces as ops  # noqa: E402
from face_pipeline.vision.geometry import Template  # noqa: E402

SIZES = {"512x512": (512, 512), "720p": (1280, 720), "1080p": (1920, 1080)}
RUNS = 15


def frame_with_face(width: int, height: int) -> torch.Tensor:
    portrait = cv2.imread(str(ROOT / "workflows/inputs/grace_hopper.jpg"))[:, :, ::-1]
    h = height // 1.6
    face = cv2.resize(portrait, (int(h * 512 / 600), int(h)), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 120, np.uint8)
    y, x = (height - face.shape[0]) // 2, (width - face.shape[1]) // 2
    canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    return torch.from_numpy(canvas[None].astype(np.float32) / 255)


def median_ms(fn) -> float:
    fn()  # warm-up (session creation, caches)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    haar = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    rows = []
    for label, (w, h) in SIZES.items():
        image = frame_with_face(w, h)
        grey = cv2.cvtColor((image[0].numpy() * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        faces = ops.detect_faces(image)
        marked = ops.add_landmarks(image, faces)
        assert faces.count == 1, f"{label}: expected one face"
        t = {
            "haar": median_ms(lambda: haar.detectMultiScale(grey, 1.1, 5, minSize=(40, 40))),
            "detect": median_ms(lambda: ops.detect_faces(image)),
            "detect_noverify": median_ms(lambda: ops.detect_faces(image, verify=False)),
            "landmarks": median_ms(lambda: ops.add_landmarks(image, faces)),
            "align": median_ms(lambda: ops.align_faces(image, marked, Template("arcface_112_v2", 112))),
        }
        t["total"] = t["detect"] + t["landmarks"] + t["align"]
        rows.append((label, t))
        print(label, {k: round(v, 1) for k, v in t.items()})
    lines = [
        "# Detect + landmarks + align, CPU",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; "
        f"median of {RUNS} runs; `python bench/bench_faces.py`.",
        "Baseline: OpenCV Haar cascade (`detectMultiScale`, scale 1.1, min 40 px) on the same frame.",
        "",
        "| frame | Haar baseline ms | detect ms (verify off) | 478 landmarks ms | align ms | "
        "detect+landmarks+align ms | fps | total / Haar |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, t in rows:
        lines.append(f"| {label} | {t['haar']:.1f} | {t['detect']:.1f} ({t['detect_noverify']:.1f}) | "
                     f"{t['landmarks']:.1f} | {t['align']:.1f} | {t['total']:.1f} | "
                     f"{1000 / t['total']:.0f} | {t['total'] / t['haar']:.2f} |")
    (ROOT / "bench" / "results_faces.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
