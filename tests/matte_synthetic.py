"""Synthetic green-screen composites with a known alpha, for matte tests and calibration.

``green_screen(seed)`` builds a head-and-shoulders silhouette with a soft (blurred) edge, thin
hair-like strands (1-2 px, partly transparent) and a semi-transparent veil, fills it with a
real photo's colours (public-domain portraits from ``workflows/inputs``), adds green spill near
the edges, and composites it over a green screen with uneven light (a smooth random field and
a gradient) plus Gaussian noise.  The seed changes shapes, positions, light and noise.

Seeds 100..103 calibrated the chroma key and refinement defaults; the tests assert on seeds
0..2 (and the calibration script is ``bench/bench_matte.py --calibrate``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from conftest import ROOT

SIZE = (360, 480)            # H, W
KEY = np.array([0.16, 0.72, 0.30], np.float32)
PHOTOS = ("astronaut.png", "grace_hopper.jpg")


@dataclass
class Composite:
    image: np.ndarray        # float32 [H, W, 3] 0..1, the green-screen shot
    alpha: np.ndarray        # float32 [H, W] ground truth
    foreground: np.ndarray   # float32 [H, W, 3] the subject's true colours (spill-free)
    screen: np.ndarray       # float32 [H, W, 3] the screen behind the subject


def _photo(index: int, shape) -> np.ndarray:
    bgr = cv2.imread(str(ROOT / "workflows" / "inputs" / PHOTOS[index % len(PHOTOS)]))
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (shape[1], shape[0])).astype(np.float32) / 255


def _smooth_field(rng, shape, cells=4) -> np.ndarray:
    coarse = rng.uniform(0, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def sad(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Sum of absolute differences / 1000 (the Composition-1k convention)."""
    return float(np.abs(alpha - truth).sum() / 1000.0)


def mse(alpha: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean((alpha - truth) ** 2))


def silhouette(seed: int, shape=SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Known alpha: soft-edged head and shoulders, hair strands and a veil; and the layer
    (0 body, 1 strands, 2 veil) that sets each pixel's alpha."""
    rng = np.random.default_rng(seed)
    h, w = shape
    hard = np.zeros(shape, np.float32)
    cx = int(w * rng.uniform(0.4, 0.6))
    head = (int(w * rng.uniform(0.13, 0.18)), int(h * rng.uniform(0.2, 0.26)))
    cy = int(h * rng.uniform(0.38, 0.45))
    cv2.ellipse(hard, (cx, cy), head, float(rng.uniform(-12, 12)), 0, 360, 1.0, -1)
    cv2.ellipse(hard, (cx, h), (int(w * rng.uniform(0.3, 0.42)), int(h * 0.42)), 0, 180, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(hard, (0, 0), float(rng.uniform(1.0, 2.5)))   # soft edge
    # hair strands: thin antialiased curves leaving the head, partly transparent
    scale = 8
    strands = np.zeros((h * scale, w * scale), np.float32)
    for _ in range(int(rng.integers(25, 40))):
        angle = rng.uniform(-np.pi * 0.95, -np.pi * 0.05)
        x = cx + head[0] * 0.9 * np.cos(angle)
        y = cy + head[1] * 0.9 * np.sin(angle)
        points, direction = [], angle + rng.normal(0, 0.3)
        for _ in range(int(rng.integers(8, 16))):
            points.append((x * scale, y * scale))
            direction += rng.normal(0, 0.25)
            x, y = x + 4 * np.cos(direction), y + 4 * np.sin(direction)
        thickness = int(rng.uniform(0.8, 2.0) * scale)
        cv2.polylines(strands, [np.int32(points)], False, float(rng.uniform(0.5, 1.0)), thickness)
    strands = cv2.resize(strands, (w, h), interpolation=cv2.INTER_AREA)
    layers = [alpha, strands]
    # a semi-transparent veil (a scarf or glass) beside the shoulder
    veil = np.zeros(shape, np.float32)
    vx = int(w * rng.choice([0.12, 0.7]))
    cv2.rectangle(veil, (vx, int(h * 0.55)), (vx + int(w * 0.16), int(h * 0.85)),
                  float(rng.uniform(0.35, 0.6)), -1)
    layers.append(cv2.GaussianBlur(veil, (0, 0), 1.5))
    stack = np.stack(layers)
    return np.clip(stack.max(0), 0.0, 1.0), stack.argmax(0)


def green_screen(seed: int, shape=SIZE, noise: float = 0.02, spill: float = 0.12,
                 key: np.ndarray = KEY) -> Composite:
    """The composite for ``seed`` over a screen of colour ``key`` (green by default; spill
    goes to the key's dominant channel)."""
    rng = np.random.default_rng(seed + 1000)
    alpha, layer = silhouette(seed, shape)
    # the body shows a photo; strands are hair-coloured; the veil is a neutral tulle (a
    # coloured veil over green is indistinguishable from an opaque olive object for any key)
    foreground = _photo(seed, shape)
    foreground[layer == 1] = rng.choice([[0.25, 0.16, 0.1], [0.75, 0.62, 0.4], [0.1, 0.08, 0.07]])
    foreground[layer == 2] = rng.uniform(0.75, 0.95)
    light = 0.7 + 0.45 * _smooth_field(rng, shape)                   # uneven light
    light *= np.linspace(1.0, rng.uniform(0.75, 0.9), shape[1], dtype=np.float32)[None]
    screen = np.clip(np.asarray(key, np.float32)[None, None] * light[..., None], 0, 1)
    # spill: green light on the subject, strongest at its edges
    inside = (alpha > 0.5).astype(np.uint8)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    spilled = foreground.copy()
    spilled[..., int(np.argmax(key))] += spill * (0.35 + np.exp(-depth / 10.0)) * inside
    image = alpha[..., None] * spilled + (1 - alpha[..., None]) * screen
    image += rng.normal(0, noise, image.shape).astype(np.float32)
    return Composite(np.clip(image, 0, 1).astype(np.float32), alpha, foreground, screen)
