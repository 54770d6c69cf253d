"""Benchmark: faces cut by the frame edge - how often Detect Faces (defaults) finds a face by how
much of it is inside the frame.

Run: python bench/bench_edge_faces.py   (writes bench/results_edge_faces.md)

Each test image with faces (the six portraits, the two green-screen stills, the group photo) is
resized to 384 and 640 px wide and slid past the left and the right edge of a grey 1280x720
frame in 24 px steps; its faces' boxes, found on the image alone, say where each face is and how
much of its width is inside.  A detection centred within a quarter of a face's width of that
face's box is a hit; any other detection is a false face.  Every frame of one slide is one
IMAGE batch, as a video would be.
"""
import pathlib
import sys

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from run_workflow import load_pack  # noqa: E402

load_pack()
from conftest import as_image, load_rgb  # noqa: E402

from face_pipeline.pipeline import faces as ops  # noqa: E402

IMAGES = ["faces/grace_hopper/1.jpg", "faces/nasa_astronaut/1.png", "faces/obama/1.jpg",
          "faces/obama/2.jpg", "faces/obama/3.jpg", "faces/biden/1.jpg",
          "greenscreen/unity_business_man.png", "greenscreen/unity_sample.png",
          "group/two_people.jpg"]
WIDTHS = (384, 640)
FRAME = (720, 1280)
STEP = 24
BINS = [(0.3, 0.5), (0.5, 0.7), (0.7, 0.999), (0.999, 1.01)]
"""Fraction of a face's width inside the frame: the table's columns (the last: whole faces)."""
HEADER = ["30-50 %", "50-70 %", "70-99 %", "whole (100 %)"]


def slide(rgb: np.ndarray, side: str):
    """Frames with ``rgb`` cut by the ``side`` edge at every step, and each frame's shift
    ``(dx, dy)`` from image to frame pixels."""
    height, width = FRAME
    frames, shifts = [], []
    for cut in range(STEP, rgb.shape[1] - STEP, STEP):
        frame = np.full((height, width, 3), 100, np.uint8)
        dy = (height - rgb.shape[0]) // 2
        if side == "left":
            frame[dy:dy + rgb.shape[0], :rgb.shape[1] - cut] = rgb[:, cut:]
            dx = -cut
        else:
            frame[dy:dy + rgb.shape[0], width - cut:] = rgb[:, :cut]
            dx = width - cut
        frames.append(frame)
        shifts.append((dx, dy))
    return frames, shifts


def score(found, boxes) -> tuple[list[tuple[float, bool]], int]:
    """(fraction inside, hit) per face, and the number of false faces, for one frame."""
    width = FRAME[1]
    hit = [False] * len(boxes)
    false = 0
    for face in found:
        cx, cy = face.center
        match = [i for i, b in enumerate(boxes)
                 if b[0] - (b[2] - b[0]) / 4 <= cx <= b[2] + (b[2] - b[0]) / 4 and b[1] <= cy <= b[3]]
        if match:
            hit[match[0]] = True
        else:
            false += 1
    inside = [(min(b[2], width) - max(b[0], 0)) / (b[2] - b[0]) for b in boxes]
    return list(zip(inside, hit)), false


def main():
    counts = {name: {bin_: [0, 0] for bin_ in BINS} for name in IMAGES}
    false = {name: 0 for name in IMAGES}
    for name in IMAGES:
        original = load_rgb(name)
        for width in WIDTHS:
            rgb = cv2.resize(original, (width, round(width * original.shape[0] / original.shape[1])),
                             interpolation=cv2.INTER_AREA)[:FRAME[0] - 20]
            faces = [f.box for f in ops.detect_faces(as_image(rgb)).frames[0]]
            for side in ("left", "right"):
                frames, shifts = slide(rgb, side)
                found = ops.detect_faces(as_image(*frames))
                for frame_faces, (dx, dy) in zip(found.frames, shifts):
                    boxes = [b + np.array([dx, dy, dx, dy], np.float32) for b in faces]
                    per_face, extra = score(frame_faces, boxes)
                    false[name] += extra
                    for inside, hit in per_face:
                        for bin_ in BINS:
                            if bin_[0] <= inside < bin_[1]:
                                counts[name][bin_][0] += hit
                                counts[name][bin_][1] += 1
        print(name, dict(zip(HEADER, (f"{h}/{n}" for h, n in counts[name].values()))),
              "false", false[name], flush=True)
    write_results(counts, false)


def write_results(counts: dict, false: dict):
    lines = ["# Faces cut by the frame edge, Detect Faces with its defaults", "",
             __doc__.split("\n\n", 2)[2].strip().replace("\n", " "), "",
             "Faces found / placements, by the share of the face's width inside the frame:", "",
             "| image | " + " | ".join(HEADER) + " | false faces |",
             "|---|" + "---|" * (len(HEADER) + 1)]
    total = {bin_: [0, 0] for bin_ in BINS}
    for name in IMAGES:
        for bin_ in BINS:
            total[bin_][0] += counts[name][bin_][0]
            total[bin_][1] += counts[name][bin_][1]
        lines.append(f"| {name} | " + " | ".join(
            f"{h}/{n}" for h, n in counts[name].values()) + f" | {false[name]} |")
    lines.append("| **all** | " + " | ".join(f"**{h}/{n}**" for h, n in total.values())
                 + f" | **{sum(false.values())}** |")
    lines += ["", "Faces more than half outside are mostly missed: the short-range detector sees "
              "half its evidence, and candidates reaching past the border need detector score x "
              "face presence >= 0.8 (`EDGE_ACCEPT`, `vision/detection.py`), since mirror "
              "padding alone makes face-like patterns of badges and collars."]
    (ROOT / "bench" / "results_edge_faces.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
