"""Build the README's low-resolution source picture (docs/lowres_source_swap.jpg): the
astronaut shrunk so her face is 64 px wide (shown enlarged), Grace Hopper, and Face Swap with
``enhance_source`` off and auto (the bundled portraits in workflows/inputs).

Usage: python tools/readme_lowres_picture.py
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

WIDTH, HEIGHT = 300, 360
SOURCE_FACE = 64   # px


def load(name: str) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]``."""
    return cv2.cvtColor(cv2.imread(str(ROOT / "workflows" / "inputs" / name)), cv2.COLOR_BGR2RGB)


def as_image(rgb: np.ndarray) -> torch.Tensor:
    """IMAGE ``[1, H, W, 3]`` float32 0..1."""
    return torch.from_numpy(rgb[None].astype(np.float32) / 255)


def head_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """A WIDTH:HEIGHT box around the largest face, 2.6 face-box heights tall."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = detect_faces(as_image(rgb)).frames[0][0].box
    bh = min(2.6 * (y1 - y0), h)
    bw = min(bh * WIDTH / HEIGHT, w)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.05 * bh
    left, top = int(np.clip(cx - bw / 2, 0, w - bw)), int(np.clip(cy - bh / 2, 0, h - bh))
    return left, top, left + int(bw), top + int(bh)


def panel(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``box`` of ``rgb`` scaled to WIDTH x HEIGHT (BGR uint8; bicubic when enlarging)."""
    x0, y0, x1, y1 = box
    crop = rgb[y0:y1, x0:x1]
    enlarging = crop.shape[1] < WIDTH
    return cv2.cvtColor(cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC
                                   if enlarging else cv2.INTER_AREA), cv2.COLOR_RGB2BGR)


def main():
    source, target = load("astronaut.png"), load("grace_hopper.jpg")
    scale = SOURCE_FACE / detect_faces(as_image(source)).frames[0][0].width
    small = cv2.resize(source, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    box = head_box(target)
    panels = [panel(small, head_box(small)), panel(target, box)]
    for mode in ("off", "auto"):
        swapped = face_swap(as_image(small), as_image(target), enhance_source=mode)[0]
        panels.append(panel((swapped[0].numpy() * 255 + 0.5).astype(np.uint8), box))
    out = ROOT / "docs" / "lowres_source_swap.jpg"
    cv2.imwrite(str(out), np.concatenate(panels, 1), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(out)


if __name__ == "__main__":
    main()
