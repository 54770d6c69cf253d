#!/usr/bin/env python3
"""Make ``workflows/inputs/backdrop.jpg``: a synthetic evening backdrop (warm sky gradient,
out-of-focus city lights) for the green-screen example.  Generated, so no licence strings
attach to it (the project's own, like the code).  Usage: python tools/make_backdrop.py
"""
import pathlib

import cv2
import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "workflows" / "inputs" / "backdrop.jpg"


def backdrop(width: int = 1280, height: int = 720, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, bottom = np.array([0.10, 0.12, 0.30], np.float32), np.array([0.95, 0.55, 0.30], np.float32)
    image = np.broadcast_to(top + (bottom - top) * t ** 1.5, (height, width, 3)).copy()
    lights = np.zeros_like(image)
    for _ in range(90):
        x, y = int(rng.uniform(0, width)), int(rng.uniform(0.45, 1.0) * height)
        radius = int(rng.uniform(6, 28))
        color = rng.choice([[1.0, 0.8, 0.45], [1.0, 0.55, 0.3], [1.0, 0.95, 0.8]])
        cv2.circle(lights, (x, y), radius, [float(c) * rng.uniform(0.2, 0.5) for c in color], -1,
                   cv2.LINE_AA)
    lights = cv2.GaussianBlur(lights, (0, 0), 4.0)
    image = 1.0 - (1.0 - image) * (1.0 - lights)              # screen blend
    return np.clip(image, 0, 1)


if __name__ == "__main__":
    rgb = (backdrop() * 255 + 0.5).astype(np.uint8)
    cv2.imwrite(str(OUT), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(OUT)
