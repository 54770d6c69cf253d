"""Test frames for detection rates: the test portraits pasted at a known face width into large
synthetic frames (flat grey, or busy: blurred colour noise, random shapes and lines, grain).

``paste_faces`` places each portrait's face (its detected box at full size, from
``tests/data/landmarks_reference.npz``) at ``width`` pixels, centred at a known point, with a
feathered square patch of 3.2 face widths, so the face keeps its hair and shoulders and no hard
edge frames it.  Seeds pick backgrounds and positions; tests and calibration use different
seeds (each test states which).
"""
import cv2
import numpy as np
from conftest import ROOT, load_rgb

PORTRAITS = ["faces/nasa_astronaut/1.png", "faces/grace_hopper/1.jpg", "faces/obama/1.jpg",
             "faces/obama/2.jpg", "faces/obama/3.jpg", "faces/biden/1.jpg"]
_BOXES = np.load(ROOT / "tests/data/landmarks_reference.npz")
_CACHE: dict = {}


def portrait(relpath: str) -> tuple[np.ndarray, np.ndarray]:
    """A test portrait (uint8 RGB) and its face box ``[4]`` at full size."""
    if relpath not in _CACHE:
        _CACHE[relpath] = load_rgb(relpath), _BOXES[relpath + "|boxes"][0]
    return _CACHE[relpath]


def background(height: int, width: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A face-free frame: ``flat`` grey or ``busy`` (colour noise, shapes, lines, grain)."""
    if kind == "flat":
        return np.full((height, width, 3), int(rng.integers(60, 200)), np.uint8)
    small = (rng.random((height // 8, width // 8, 3)) * 255).astype(np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(60):
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        x, y = int(rng.integers(width)), int(rng.integers(height))
        shape = rng.integers(3)
        if shape == 0:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 300)), y + int(rng.integers(20, 300))),
                          colour, -1)
        elif shape == 1:
            cv2.circle(img, (x, y), int(rng.integers(5, 120)), colour, -1)
        else:
            cv2.line(img, (x, y), (int(rng.integers(width)), int(rng.integers(height))), colour,
                     int(rng.integers(1, 8)))
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def face_free(height: int, width: int, seed: int) -> np.ndarray:
    """A face-free frame of one of four kinds (by ``seed % 4``): busy, flat, blurred colour
    noise, diagonal stripes."""
    rng = np.random.default_rng(seed)
    kind = seed % 4
    if kind < 2:
        return background(height, width, "busy" if kind == 0 else "flat", rng)
    if kind == 2:
        noise = (rng.random((height, width, 3)) * 255).astype(np.uint8)
        return cv2.GaussianBlur(noise, (0, 0), float(rng.uniform(1, 6)))
    x = np.arange(width)[None, :, None] * rng.uniform(0.05, 0.5)
    y = np.arange(height)[:, None, None] * rng.uniform(0.05, 0.5)
    return np.broadcast_to(127 + 120 * np.sin(x + y), (height, width, 3)).astype(np.uint8)


def paste_face(frame: np.ndarray, relpath: str, width: float, center) -> np.ndarray:
    """Paste ``relpath``'s face ``width`` px wide, centred at ``center`` (x, y); returns the
    true face centre ``[2]``."""
    rgb, box = portrait(relpath)
    scale = width / (box[2] - box[0])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    fx, fy = (box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale
    half = int(round(1.6 * width))
    tx, ty = int(round(center[0])), int(round(center[1]))
    src_x0, src_y0 = int(round(fx)) - half, int(round(fy)) - half
    patch = np.zeros((2 * half, 2 * half, 3), np.float32)
    alpha = np.zeros((2 * half, 2 * half), np.float32)
    sx0, sy0 = max(src_x0, 0), max(src_y0, 0)
    sx1, sy1 = min(src_x0 + 2 * half, small.shape[1]), min(src_y0 + 2 * half, small.shape[0])
    patch[sy0 - src_y0:sy1 - src_y0, sx0 - src_x0:sx1 - src_x0] = small[sy0:sy1, sx0:sx1]
    alpha[sy0 - src_y0:sy1 - src_y0, sx0 - src_x0:sx1 - src_x0] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), half / 6)[..., None]
    h, w = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(tx - half, 0), max(ty - half, 0), min(tx + half, w), min(ty + half, h)
    px0, py0 = fx0 - (tx - half), fy0 - (ty - half)
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    a = alpha[py0:py0 + fy1 - fy0, px0:px0 + fx1 - fx0]
    p = patch[py0:py0 + fy1 - fy0, px0:px0 + fx1 - fx0]
    frame[fy0:fy1, fx0:fx1] = (region * (1 - a) + p * a + 0.5).astype(np.uint8)
    return np.array([tx + fx - round(fx), ty + fy - round(fy)], np.float32)


def crowd_frame(height: int, width: int, face_width: float, kind: str, seed: int):
    """All test portraits at ``face_width`` in one frame (a jittered 3x2 grid) and their true
    centres ``[6, 2]``."""
    rng = np.random.default_rng(seed)
    frame = background(height, width, kind, rng)
    cell_w, cell_h = width / 3, height / 2
    margin = 1.7 * face_width
    centers = []
    for k, relpath in enumerate(PORTRAITS):
        cx0, cy0 = (k % 3) * cell_w, (k // 3) * cell_h
        x = rng.uniform(cx0 + margin, cx0 + cell_w - margin) if cell_w > 2 * margin else cx0 + cell_w / 2
        y = rng.uniform(cy0 + margin, cy0 + cell_h - margin) if cell_h > 2 * margin else cy0 + cell_h / 2
        centers.append(paste_face(frame, relpath, face_width, (x, y)))
    return frame, np.array(centers)


def hits(boxes: np.ndarray, centers: np.ndarray, face_width: float) -> np.ndarray:
    """Per true centre: is some detection centred within half a face width of it."""
    if not len(boxes):
        return np.zeros(len(centers), bool)
    found = (boxes[:, :2] + boxes[:, 2:]) / 2
    dist = np.linalg.norm(found[None] - centers[:, None], axis=-1)
    return (dist < face_width / 2).any(1)
