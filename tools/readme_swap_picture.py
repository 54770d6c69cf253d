"""Build the README's first picture (docs/face_swap.jpg): source, target and the one-node Face
Swap with its defaults, astronaut -> Grace Hopper and back (the bundled public-domain
portraits in workflows/inputs).

Usage: python tools/readme_swap_picture.py
"""
import pathlib
import sys

import cv2
import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from run_workflow import load_pack  # noqa: E402

load_pack()
from face_pipeline.pipeline.faces import detect_faces  # noqa: E402
from face_pipeline.pipeline.swap import face_swap  # noqa: E402

CELL = 240


def load(name: str) -> torch.Tensor:
    rgb = cv2.cvtColor(cv2.imread(str(ROOT / "workflows" / "inputs" / name)), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(rgb[None].astype(np.float32) / 255)


def head_box(image: torch.Tensor, aspect: float = 1.0) -> tuple[int, int, int, int]:
    """A box around the largest face, 2.4 face-box heights tall and ``aspect`` x that wide, the
    face a little above centre (shrunk to fit the image)."""
    x0, y0, x1, y1 = detect_faces(image).frames[0][0].box
    h, w = image.shape[1:3]
    height = 2.4 * (y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.1 * height
    height = min(height, h, w / aspect)
    width = height * aspect
    left = int(np.clip(cx - width / 2, 0, w - width))
    top = int(np.clip(cy - height / 2, 0, h - height))
    return left, top, left + int(width), top + int(height)


def cell(image: torch.Tensor, box: tuple[int, int, int, int],
         size: tuple[int, int] = (CELL, CELL)) -> np.ndarray:
    """``box`` of the image scaled to ``size`` ``(width, height)`` px (BGR uint8; bicubic when
    enlarging)."""
    x0, y0, x1, y1 = box
    rgb = (image[0, y0:y1, x0:x1].numpy() * 255 + 0.5).astype(np.uint8)
    interpolation = cv2.INTER_CUBIC if x1 - x0 < size[0] else cv2.INTER_AREA
    return cv2.cvtColor(cv2.resize(rgb, size, interpolation=interpolation), cv2.COLOR_RGB2BGR)


def main():
    astronaut, hopper = load("astronaut.png"), load("grace_hopper.jpg")
    rows = []
    for source, target in ((astronaut, hopper), (hopper, astronaut)):
        swapped = face_swap(source, target)[0]
        box = head_box(target)
        rows.append(np.concatenate([cell(source, head_box(source)), cell(target, box),
                                    cell(swapped, box)], 1))
    out = ROOT / "docs" / "face_swap.jpg"
    cv2.imwrite(str(out), np.concatenate(rows, 0), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(out)


if __name__ == "__main__":
    main()
