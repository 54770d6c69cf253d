"""Synthetic video clips with a known face trajectory, made from the bundled portraits.

A clip is a virtual camera moving over a still portrait: frame ``t`` is the portrait warped by a
similarity ``M_t`` (shift, rotation, zoom), so the true position of every landmark in every frame
is the still portrait's landmarks mapped by ``M_t``.  Degradations (sensor noise, JPEG, blur
bursts, a half-hidden frame) change the pixels, never the truth.
"""
from __future__ import annotations

import math
import pathlib

import cv2
import numpy as np

INPUTS = pathlib.Path(__file__).resolve().parents[1] / "workflows" / "inputs"
RIGID_POINTS = [1, 4, 6, 10, 33, 133, 152, 168, 234, 263, 362, 454]
"""Mesh points on bone (nose, eye corners, forehead, chin, cheekbones), for jitter."""


def portrait(name: str) -> np.ndarray:
    """``astronaut`` or ``grace_hopper`` as uint8 RGB."""
    path = next(INPUTS.glob(name + ".*"))
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def camera(center, shift, angle_deg: float, zoom: float, size) -> np.ndarray:
    """``[2, 3]`` portrait -> frame map: the portrait point ``center + shift`` lands in the frame
    centre, turned by ``angle_deg`` and scaled by ``zoom``."""
    w, h = size
    a = math.radians(angle_deg)
    rot = zoom * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    pivot = np.asarray(center, np.float64) + np.asarray(shift, np.float64)
    return np.hstack([rot, (np.array([w / 2, h / 2]) - rot @ pivot)[:, None]])


def render(image: np.ndarray, matrices, size, *, noise: float = 0.0, jpeg: int = 0,
           blur_frames=(), hide_frames=(), seed: int = 0,
           border: int = cv2.BORDER_REFLECT) -> np.ndarray:
    """uint8 frames ``[T, h, w, 3]``: ``image`` seen through each matrix, then degraded.

    noise: sensor noise sigma in 0..255 units; jpeg: JPEG quality (0: none); blur_frames: frames
    blurred with sigma 5 px; hide_frames: frames whose right half of the picture is covered;
    border: OpenCV border mode outside the portrait (REFLECT mirrors the face when the camera
    sees far past the portrait's edge: use REPLICATE then).
    """
    rng = np.random.default_rng(seed)
    frames = []
    for t, m in enumerate(matrices):
        f = cv2.warpAffine(image, m.astype(np.float64), size, flags=cv2.INTER_LINEAR,
                           borderMode=border)
        if t in blur_frames:
            f = cv2.GaussianBlur(f, (0, 0), 5)
        if noise:
            f = np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8)
        if t in hide_frames:
            f = f.copy()
            f[:, size[0] // 2:] = 90
        if jpeg:
            ok, buf = cv2.imencode(".jpg", f[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg])
            f = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        frames.append(np.ascontiguousarray(f))
    return np.stack(frames)


def smooth_path(n: int, amplitude: float = 30, angle: float = 10, zoom: float = 0.12,
                scale: float = 0.6):
    """Shift, angle and zoom per frame of a smooth loop (period ``n`` frames); ``scale``:
    mean zoom (portrait px -> frame px)."""
    t = np.arange(n) / n * 2 * math.pi
    return [((amplitude * math.sin(a), 0.5 * amplitude * math.sin(2 * a)), angle * math.sin(a),
             scale * (1.0 + zoom * math.sin(a + 1.0))) for a in t]


def sudden_path(n: int, start: int, speed: float, scale: float = 0.6):
    """Still until frame ``start``, then a pan of ``speed`` portrait px per frame."""
    return [((speed * max(0, t - start), 0.0), 0.0, scale) for t in range(n)]


def true_landmarks(reference: np.ndarray, matrices) -> np.ndarray:
    """``[T, N, 2]``: reference landmarks (portrait pixels) mapped into each frame."""
    pts = reference[:, :2].astype(np.float64)
    return np.stack([pts @ m[:, :2].T + m[:, 2] for m in matrices])


def jitter(estimate: np.ndarray, truth: np.ndarray, iod: np.ndarray) -> float:
    """High-frequency error on the rigid points, in IOD: RMS of the frame-to-frame change of
    the error (estimate - truth) divided by sqrt(2) (for white noise of sigma s this is s), so a
    constant offset between the model's and the reference's idea of a point does not count."""
    e = (estimate[:, RIGID_POINTS] - truth[:, RIGID_POINTS]) / iod[:, None, None]
    d = np.diff(e, axis=0)
    return float(np.sqrt((d ** 2).sum(-1).mean() / 2))


def crossing(n: int = 20, size=(400, 200), side: int = 110):
    """Two people crossing: the astronaut's face walks right, Grace Hopper's walks left and
    passes in front.  Returns uint8 frames ``[n, h, w, 3]`` and the true face centres
    ``[n, 2, 2]`` (astronaut first)."""
    w, h = size
    patches = []
    for name, (cx, cy, r) in (("astronaut", (225, 130, 95)), ("grace_hopper", (250, 190, 130))):
        image = portrait(name)
        patches.append(cv2.resize(image[cy - r:cy + r, cx - r:cx + r], (side, side)))
    xs = np.linspace(side / 2 + 10, w - side / 2 - 10, n)
    centres = np.zeros((n, 2, 2))
    frames = []
    for t in range(n):
        frame = np.full((h, w, 3), 128, np.uint8)
        for k, x in enumerate((xs[t], xs[n - 1 - t])):
            x0, y0 = int(round(x - side / 2)), (h - side) // 2
            frame[y0:y0 + side, x0:x0 + side] = patches[k]
            centres[t, k] = (x0 + side / 2, y0 + side / 2)
        frames.append(frame)
    return np.stack(frames), centres


def head_turn(image: np.ndarray, landmarks: np.ndarray, n: int, yaw: float = 20.0):
    """Frames ``[n, H, W, 3]`` (uint8) of the portrait whose face turns left and right by up to
    ``yaw`` degrees (the face mesh rotated about its vertical axis through its centre and the
    face's own pixels warped onto it, vision.meshwarp), and the true landmarks ``[n, 478, 2]``."""
    from face_pipeline.vision import meshwarp

    still = image.astype(np.float32) / 255
    source = meshwarp.prepare_source(still, landmarks)
    centre = landmarks[:468].mean(0)
    frames, truth = [], []
    for t in range(n):
        a = math.radians(yaw * math.sin(2 * math.pi * t / n))
        mesh = landmarks.astype(np.float64).copy()
        x, z = mesh[:, 0] - centre[0], mesh[:, 2] - centre[2]
        mesh[:, 0] = centre[0] + x * math.cos(a) + z * math.sin(a)
        mesh[:, 2] = centre[2] - x * math.sin(a) + z * math.cos(a)
        frame = still.copy()
        warped = meshwarp.warp_face(source, mesh.astype(np.float32), frame.shape[:2],
                                    keep_mouth=False)
        meshwarp.composite(frame, warped)
        frames.append((frame * 255 + 0.5).astype(np.uint8))
        truth.append(mesh[:, :2])
    return np.stack(frames), np.stack(truth)
