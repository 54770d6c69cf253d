"""Alpha compositing of a matted subject over a new background.

Frames are float32 RGB ``[H, W, 3]`` in 0..1; alpha float32 ``[H, W]`` in 0..1.

``over(F, alpha, B) = alpha * F + (1 - alpha) * B`` -- exactly ``F`` where alpha is 1 and
exactly ``B`` where it is 0 (no rounding: ``1 * F + 0 * B`` is ``F`` in floating point).

* :func:`place` -- fits a background image to the frame: ``fill`` (cover, cropped),
  ``fit`` (contain, letterboxed with a colour), ``stretch``, or ``none`` (original size);
  ``x`` / ``y`` (0..1) position the image inside the frame (or the frame inside the image).
* :func:`light_wrap` -- the new background's light bleeding over the subject's edges
  (``amount`` 0: off), as compositors do to seat a subject in its scene.
* :func:`match_light` -- the subject's colours moved toward the background's light where it
  stands (:func:`vision.color.transfer_color`, Reinhard in L*a*b*), by ``amount`` 0..1.
"""
from __future__ import annotations

import cv2
import numpy as np

from .color import transfer_color

FITS = ["fill", "fit", "stretch", "none"]


def parse_color(text: str) -> np.ndarray:
    """``"#RRGGBB"`` -> RGB float32 0..1; raises ``ValueError`` naming the input."""
    value = (text or "").strip().lstrip("#")
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise ValueError(f"background_color: expected a hex colour like '#2a6f97', got {text!r}")
    number = int(value, 16)
    return np.array([(number >> 16) & 255, (number >> 8) & 255, number & 255], np.float32) / 255


def place(background: np.ndarray, shape: tuple[int, int], fit: str = "fill", x: float = 0.5,
          y: float = 0.5, color: np.ndarray = np.zeros(3, np.float32)) -> np.ndarray:
    """``background`` ``[h, w, 3]`` fitted to a ``shape`` = ``(H, W)`` frame (module
    docstring); uncovered pixels take ``color``."""
    if fit not in FITS:
        raise ValueError(f"fit: unknown mode {fit!r}; choose one of {FITS}")
    H, W = shape
    h, w = background.shape[:2]
    if fit == "stretch":
        return cv2.resize(background, (W, H), interpolation=cv2.INTER_AREA if w > W else cv2.INTER_LINEAR)
    scale = {"fill": max(W / w, H / h), "fit": min(W / w, H / h), "none": 1.0}[fit]
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    scaled = background if (sw, sh) == (w, h) else cv2.resize(
        background, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.empty((H, W, 3), np.float32)
    canvas[:] = color
    ox, oy = round((W - sw) * float(x)), round((H - sh) * float(y))   # image origin in frame
    fx0, fy0 = max(ox, 0), max(oy, 0)
    fx1, fy1 = min(ox + sw, W), min(oy + sh, H)
    if fx1 > fx0 and fy1 > fy0:
        canvas[fy0:fy1, fx0:fx1] = scaled[fy0 - oy:fy1 - oy, fx0 - ox:fx1 - ox]
    return canvas


def over(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``alpha * F + (1 - alpha) * B``, float32 ``[H, W, 3]`` (exact at alpha 0 and 1)."""
    a = np.asarray(alpha, np.float32)[..., None]
    return (a * foreground + (1.0 - a) * background).astype(np.float32)


def light_wrap(image: np.ndarray, alpha: np.ndarray, background: np.ndarray, amount: float,
               radius: float = 12.0) -> np.ndarray:
    """Screen-blend the blurred background onto the subject's edge zone (module docstring).
    The blurs are low-pass, so they run at a quarter of the resolution."""
    if amount <= 0:
        return image
    h, w = alpha.shape
    small = (max(1, w // 4), max(1, h // 4))
    a = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
    b = cv2.resize(background, small, interpolation=cv2.INTER_AREA)
    outside = cv2.GaussianBlur(1.0 - a, (0, 0), radius / 4)
    light = cv2.GaussianBlur(b * (1.0 - a)[..., None], (0, 0), radius / 4)
    light /= np.maximum(outside, 1e-4)[..., None]
    outside = cv2.resize(outside, (w, h), interpolation=cv2.INTER_LINEAR)
    light = cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)
    wrap = (float(amount) * alpha * outside)[..., None]
    screen = 1.0 - (1.0 - image) * (1.0 - light)
    return (image + wrap * (screen - image)).astype(np.float32)


def match_light(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray,
                amount: float) -> np.ndarray:
    """The subject's colours moved by ``amount`` toward the background's statistics under
    the subject's silhouette (``alpha > 0.5``)."""
    if amount <= 0:
        return foreground
    matched = transfer_color(foreground, background, alpha, "reinhard")
    return (foreground + float(amount) * (matched - foreground)).astype(np.float32)
