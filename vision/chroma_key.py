"""Chroma key: alpha and spill-free foreground colours from a green (or blue) screen shot.

Frames are float32 RGB ``[H, W, 3]`` in 0..1; alphas float32 ``[H, W]`` in 0..1 (1 = subject).

The key works in a one-dimensional chroma measure, the **screen excess** of the key's dominant
channel ``c`` over the other two: ``excess(p) = p_c - max(p_other)`` (the colour-difference key
of Vlahos).  Adding grey to a colour does not change it, so it measures chroma, not
brightness; subject colours (skin, hair, grey, blue clothes) have ``excess <= 0``.

1. **Key colour** -- given, or picked from the frame's border ring (:func:`border_key_color`).
2. **Screen model** -- the screen is never one colour (uneven light, falloff, creases): a
   *screen plate* ``S(x, y)`` is interpolated from the pixels that are clearly screen, at low
   resolution, with the push-pull fill of :mod:`vision.poisson` (:func:`screen_plate`).
3. **Alpha** -- the screen ratio ``r = excess(I) / excess(S)`` (the excess in uint8, blurred
   by ``DENOISE`` px) is 1 on the screen and ``1 - a`` for a grey subject mixed in at alpha
   ``a``.  Green spill raises an opaque subject's ratio above 0, so a *spill level* ``s(x, y)``
   (0..``SPILL_MAX``) is filled in from nearby clearly opaque pixels and
   ``a = (1 - r) / (1 - s)``; then ``alpha = clip((a - tol) / (softness * (1 - 2 tol)))``,
   where ``tol`` is ``tolerance`` raised to ``NOISE_FACTOR`` times the screen's own noise
   (the spread of ``r`` on the plate's pixels), so grain never becomes specks.  A coloured
   semi-transparent object is ambiguous for any colour key (an orange veil over green looks
   like an opaque olive object); grey ones (glass, smoke, tulle) and hair key correctly.
4. **Clean-up** -- opaque islands smaller than ``clean_up`` px in the background are removed,
   holes smaller than that in the subject are filled (large semi-transparent areas stay).
5. **Foreground** -- unmixed from the plate with the measured subject share ``1 - r``
   (at least ``UNMIX_MIN``): ``F = S + (I - S) / (1 - r)`` where alpha > 0 (the frame itself
   where alpha is 0), then **despilled**: the key channel is limited to the ``average``
   (strong) or ``max`` (mild) of the other two, blended by ``despill`` strength.

Defaults (``tolerance``, ``softness``, ``clean_up``) are calibrated on synthetic composites
with known alpha made by ``tests/matte_synthetic.py`` with seeds 100..103 (the tests assert on
other seeds and shapes); see ``bench/results_matte.md``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .matte import sample_field
from .poisson import push_pull

DESPILL = ["average", "max", "none"]
TOLERANCE = 0.05        # defaults (module docstring)
SOFTNESS = 1.0
CLEAN_UP = 64
NOISE_FACTOR = 3.0      # tolerance >= this many screen-noise sigmas
DENOISE = 0.7           # sigma (px) of the blur the excess is measured on (noise vs strands)
SCREEN_MIN = 0.3        # screen: excess >= this fraction of the key's ...
SCREEN_MATCH = 0.85     # ... and >= this fraction of the local maximum excess
ENVELOPE = 0.1          # size of that neighbourhood, fraction of the frame's long side
SPILL_MAX = 0.25        # highest screen ratio (spill) an opaque subject pixel may show
UNMIX_MIN = 0.05        # smallest subject share 1 - r used to unmix (F = S + (I - S) / share)
BORDER = 0.04           # border ring (fraction of the short side) sampled for the key colour
PLATE_SIZE = 160        # long side (px) at which the screen plate and spill level are built
_TO_FLOAT = np.arange(256, dtype=np.float32) / np.float32(255.0)   # uint8 -> 0..1 (cv2.LUT)
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class KeyResult:
    """``foreground`` float32 ``[H, W, 3]`` (unmixed, despilled colours), ``alpha`` float32
    ``[H, W]``, the screen ``plate`` at low resolution ``[h, w, 3]`` (``PLATE_SIZE``), the ``key`` colour RGB 0..1 and the
    ``tolerance`` applied (after the noise floor)."""

    foreground: np.ndarray
    alpha: np.ndarray
    plate: np.ndarray
    key: np.ndarray
    tolerance: float


def parse_key_color(text: str) -> Optional[np.ndarray]:
    """``"auto"`` (or empty) -> None; ``"#00b140"`` / ``"00b140"`` -> RGB float32 0..1.
    Anything else raises ``ValueError`` naming the input."""
    text = (text or "").strip()
    if text.lower() in ("", "auto"):
        return None
    match = _HEX.match(text)
    if not match:
        raise ValueError(f"key_color: expected 'auto' or a hex colour like '#00b140', got {text!r}")
    value = int(match.group(1), 16)
    return np.array([(value >> 16) & 255, (value >> 8) & 255, value & 255], np.float32) / 255.0


def key_channel(key: np.ndarray) -> int:
    """Index of the key colour's dominant channel; raises ``ValueError`` for a grey key."""
    key = np.asarray(key, np.float32)
    c = int(np.argmax(key))
    if key[c] - np.max(np.delete(key, c)) < 0.05:
        raise ValueError(f"key_color {np.round(key * 255).astype(int).tolist()} is nearly grey: "
                         "a chroma key needs a saturated screen colour (green or blue)")
    return c


def excess(frame: np.ndarray, channel: int) -> np.ndarray:
    """Screen excess ``frame[..., c] - max(other channels)``, float32 ``[...]``."""
    others = [k for k in range(3) if k != channel]
    if frame.ndim == 3 and frame.dtype == np.float32:      # image planes: OpenCV is faster
        planes = cv2.split(np.ascontiguousarray(frame))
        return cv2.subtract(planes[channel], cv2.max(planes[others[0]], planes[others[1]]))
    return frame[..., channel] - np.maximum(frame[..., others[0]], frame[..., others[1]])


def border_key_color(frame: np.ndarray) -> np.ndarray:
    """The screen colour: median of the most saturated half of the border ring's pixels,
    whose dominant channel is the ring's most common one.  Raises ``ValueError`` when the
    border shows no saturated colour (no screen to key)."""
    h, w = frame.shape[:2]
    r = max(2, int(round(BORDER * min(h, w))))
    ring = np.concatenate([frame[:r].reshape(-1, 3), frame[-r:].reshape(-1, 3),
                           frame[r:-r, :r].reshape(-1, 3), frame[r:-r, -r:].reshape(-1, 3)])
    dominant = np.bincount(np.argmax(ring, axis=1), minlength=3).argmax()
    strength = excess(ring, int(dominant))
    chosen = ring[strength >= np.median(strength)]
    key = np.median(chosen, axis=0).astype(np.float32)
    if excess(key, int(dominant)) < 0.05:
        raise ValueError("key_color 'auto': the image border shows no saturated screen colour; "
                         "give key_color as a hex colour (e.g. '#00b140')")
    return key


def _small(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _fill(values: np.ndarray, known: np.ndarray, fallback) -> np.ndarray:
    """Push-pull fill of ``values`` ``[h, w, C]`` from ``known``; ``fallback`` if none known."""
    if not known.any():
        return np.broadcast_to(np.asarray(fallback, np.float32), values.shape).copy()
    return push_pull(values, known).astype(np.float32)


def screen_plate(small: np.ndarray, key: np.ndarray, channel: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Screen plate ``[h, w, 3]`` of a low-resolution frame ``small`` ``[h, w, 3]`` and the
    mask of pixels it was fitted on.

    The subject, shadows and semi-transparent things only ever *lower* the screen excess, so
    the screen is where the excess is close to its local maximum: pixels of the key's hue
    whose excess is at least ``SCREEN_MIN`` of the key's and ``SCREEN_MATCH`` of the largest
    excess within ``ENVELOPE`` of the frame size (a veil over the screen, at ratio about
    1 - alpha, is not screen; a screen darker at one side still is).  The mask is shrunk by
    one low-res pixel so edge mixtures do not leak into the plate, which is then filled in
    by push-pull."""
    e = excess(small, channel)
    hue = np.argmax(small, axis=-1) == channel
    size = max(3, int(round(ENVELOPE * max(small.shape[:2]))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    envelope = cv2.dilate(np.where(hue, e, 0.0).astype(np.float32), kernel)
    envelope = cv2.blur(envelope, (size, size))
    screen = hue & (e >= SCREEN_MIN * excess(key, channel)) & (e >= SCREEN_MATCH * envelope)
    screen = cv2.erode(screen.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return _fill(small, screen, key), screen


def remove_small(alpha: np.ndarray, area: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Islands of ``alpha > 0.5`` smaller than ``area`` px set to 0, holes (``<= 0.5``) smaller
    than ``area`` px inside the subject (not touching the frame border) set to 1.  Components
    are found at half resolution (areas counted there) when ``area`` >= 16, which is 4x faster
    and the same up to islands within a pixel of the limit.  Returns ``out`` (may be
    ``alpha`` itself), or a new array when it is not given."""
    if out is None:
        out = alpha.copy()
    elif out is not alpha:
        np.copyto(out, alpha)
    if area <= 0:
        return out
    step = 2 if area >= 16 else 1
    coarse = alpha[::step, ::step]
    marks = []
    for value, region in ((0.0, coarse > 0.5), (1.0, coarse <= 0.5)):
        count, labels = cv2.connectedComponents(region.view(np.uint8), connectivity=8)
        small = np.bincount(labels.ravel(), minlength=count) * step * step < area
        small[0] = False                    # label 0: the other region
        if value == 1.0:   # a hole is enclosed by the subject: never one touching the border
            small[labels[0]] = small[labels[-1]] = False
            small[labels[:, 0]] = small[labels[:, -1]] = False
        if small.any():
            marks.append((value, np.flatnonzero(small[labels])))
    h, w = alpha.shape
    for value, coarse_index in marks:
        # the full-resolution pixels of each marked coarse pixel, grown by one pixel
        y, x = np.divmod(coarse_index, coarse.shape[1])
        offsets = np.arange(-1, step + 1) if step > 1 else np.zeros(1, np.int64)
        ys = np.clip(y[:, None] * step + offsets, 0, h - 1)[:, :, None]
        xs = np.clip(x[:, None] * step + offsets, 0, w - 1)[:, None, :]
        index = (ys * w + xs).ravel()
        flat = out.reshape(-1)
        index = index[flat[index] > 0.5] if value == 0.0 else index[flat[index] <= 0.5]
        flat[index] = value
    return out


def _despill_key(key: np.ndarray, a: np.ndarray, b: np.ndarray, method: str, amount: float,
                 limit: Optional[np.ndarray] = None) -> np.ndarray:
    """The despilled key plane: ``key`` limited to the ``average`` or ``max`` of planes ``a``
    and ``b`` (or the given ``limit``), blended by ``amount``.  uint8 or float32 planes."""
    if limit is None:      # uint8 average: rounded, still <= max(a, b)
        limit = cv2.addWeighted(a, 0.5, b, 0.5, 0.0) if method == "average" else cv2.max(a, b)
    if amount >= 1.0:
        return cv2.min(key, limit)
    # c - amount * max(c - limit, 0)
    over = cv2.subtract(key, limit)
    return cv2.scaleAdd(np.maximum(over, 0, out=over), -float(amount), key)


def _check_despill(method: str) -> None:
    if method not in DESPILL:
        raise ValueError(f"despill: unknown method {method!r}; choose one of {DESPILL}")


def despill(frame: np.ndarray, channel: int, method: str = "average",
            amount: float = 1.0, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Limit the key channel to the ``average`` or ``max`` of the other two (``none``: a
    copy), blended by ``amount`` 0..1.  float32 or uint8 ``[H, W, 3]``; written into ``out``
    (a C-contiguous array of the same dtype, may be ``frame`` itself) when given."""
    _check_despill(method)
    if out is None:
        out = np.array(frame, np.uint8 if frame.dtype == np.uint8 else np.float32)
    elif out is not frame:
        np.copyto(out, frame)
    if method == "none" or amount <= 0:
        return out
    a, b = (cv2.extractChannel(out, k) for k in range(3) if k != channel)
    cv2.insertChannel(_despill_key(cv2.extractChannel(out, channel), a, b, method, amount),
                      out, channel)
    return out


def _up(field: np.ndarray, shape: tuple[int, int], dst: Optional[np.ndarray] = None) -> np.ndarray:
    """Bilinear resize of a low-resolution float32 field to ``shape`` (into ``dst`` if given)."""
    return cv2.resize(np.ascontiguousarray(field, np.float32), (shape[1], shape[0]), dst,
                      interpolation=cv2.INTER_LINEAR)


def _unmix(frame: np.ndarray, e8: np.ndarray, index: np.ndarray, plate_small: np.ndarray,
           e_screen: np.ndarray) -> np.ndarray:
    """``F = S + (I - S) / share`` at the flat pixel ``index`` of ``frame`` (float32 RGB), with
    ``share = 1 - e8 / (255 e_screen)`` (at least ``UNMIX_MIN``): uint8 ``[N, 1, 3]``."""
    h, w = e8.shape
    fields = np.dstack([plate_small, 1.0 / (255.0 * e_screen)]).astype(np.float32)
    at = sample_field(fields, index, (h, w))
    inverse_share = 1.0 / np.clip(1.0 - e8.ravel()[index] * at[:, 3], UNMIX_MIN, 1.0)
    plate_at = at[:, :3]
    unmixed = np.take(frame.reshape(-1, 3), index, axis=0)      # I, then F in place
    unmixed -= plate_at
    unmixed *= inverse_share[:, None]
    unmixed += plate_at
    unmixed *= 255.0
    unmixed += 0.5
    return np.clip(unmixed, 0, 255, out=unmixed).astype(np.uint8).reshape(-1, 1, 3)


def chroma_key(frame: np.ndarray, key: Optional[np.ndarray] = None, *,
               tolerance: float = TOLERANCE, softness: float = SOFTNESS,
               clean_up: int = CLEAN_UP, despill_method: str = "average",
               despill_amount: float = 1.0,
               out: Optional[tuple[np.ndarray, np.ndarray]] = None) -> KeyResult:
    """Key ``frame`` against its screen (module docstring).

    Speed: everything smooth (key colour, screen plate, noise, spill level) is computed at
    ``PLATE_SIZE`` px; at full resolution only the uint8 screen excess is measured and the
    alpha is one multiply-add with two upsampled fields, ``alpha = A - B * excess``, written
    in place; the unmix is evaluated only where it changes anything, the despill on uint8
    planes.  Full-resolution temporaries are few and reused in place.

    Args:
        frame: float32 RGB ``[H, W, 3]`` 0..1.
        key: screen colour RGB 0..1, or None to pick it from the border.
        tolerance: 0..1, screen-strength margin still keyed fully transparent (raised to
            ``NOISE_FACTOR`` times the screen's measured noise).
        softness: 0..1, width of the ramp from transparent to opaque.
        clean_up: remove opaque specks and fill holes smaller than this many px (0: off).
        despill_method, despill_amount: see :func:`despill`.
        out: optional C-contiguous float32 arrays ``([H, W, 3], [H, W])`` (e.g. views of
            the output IMAGE and MASK tensors) that receive the foreground and the alpha.
    Returns:
        :class:`KeyResult`.
    """
    frame = np.ascontiguousarray(frame, np.float32)
    _check_despill(despill_method)
    h, w = frame.shape[:2]
    frame8 = cv2.convertScaleAbs(frame, alpha=255.0)
    scale = PLATE_SIZE / max(h, w)
    small_shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = _small(frame, small_shape)
    key = border_key_color(small) if key is None else np.asarray(key, np.float32)
    channel = key_channel(key)
    plate_small, screen_small = screen_plate(small, key, channel)
    e_screen = np.maximum(excess(plate_small, channel), 0.02)
    # full resolution: the screen excess in uint8 (negative excess -> 0: opaque either way)
    planes = cv2.split(frame8)
    c8, a8, b8 = planes[channel], *(planes[k] for k in range(3) if k != channel)
    most = cv2.max(a8, b8)
    e8 = cv2.subtract(c8, most)
    if DENOISE > 0:
        e8 = cv2.GaussianBlur(e8, (0, 0), DENOISE)
    # screen noise: spread of the ratio on plate pixels, every 4th pixel of each row / column
    grid = e8[min(2, h - 1)::4, min(2, w - 1)::4]
    at = _up(np.dstack([e_screen, screen_small]), grid.shape)
    on_screen = at[..., 1] >= 0.999
    sample = grid[on_screen].astype(np.float32) / (255.0 * at[..., 0][on_screen])
    noise = float(np.std(sample)) if sample.size else 0.0
    tol = float(np.clip(max(tolerance, NOISE_FACTOR * noise), 0.0, 0.95))
    # spill level: the screen ratio of nearby clearly opaque pixels, 0..SPILL_MAX
    ratio_small = _small(e8, small_shape).astype(np.float32) / 255.0 / e_screen
    opaque = cv2.erode((ratio_small < 0.5).view(np.uint8), np.ones((5, 5), np.uint8)) > 0
    spill = np.clip(_fill(ratio_small[..., None], opaque, 0.0)[..., 0], 0.0, SPILL_MAX)
    # alpha = clip(((1 - e / e_screen) / (1 - spill) - tol) / ramp) = clip(A - B * e8)
    ramp = max(softness * (1.0 - 2.0 * tol), 1e-3)
    foreground, alpha = out if out is not None else (np.empty((h, w, 3), np.float32),
                                                      np.empty((h, w), np.float32))
    _up(1.0 / (255.0 * e_screen * (1.0 - spill) * ramp), (h, w), alpha)
    cv2.multiply(e8, alpha, dst=alpha, dtype=cv2.CV_32F)
    cv2.subtract(_up((1.0 / (1.0 - spill) - tol) / ramp, (h, w)), alpha, dst=alpha)
    np.clip(alpha, 0.0, 1.0, out=alpha)     # (cv2 takes a 1x1 array for a scalar)
    remove_small(alpha, clean_up, out=alpha)
    # unmix with the measured screen share 1 - r (I = (1 - r) F + r S), not the clipped alpha:
    # F = S + (I - S) / share, only where it changes anything (screen excess > 0, alpha > 0);
    # the screen stays as shot, a subject without excess is its own foreground.  Then despill:
    # the whole frame on its uint8 planes, the unmixed pixels on their own.
    both = cv2.min(e8, (alpha > 0).view(np.uint8))          # 1 where both, else 0
    index = np.flatnonzero(both.view(bool))
    unmixed = _unmix(frame, e8, index, plate_small, e_screen) if index.size else None
    if despill_method != "none" and despill_amount > 0:
        limit = most if despill_method == "max" else None
        cv2.insertChannel(_despill_key(c8, a8, b8, despill_method, despill_amount, limit),
                          frame8, channel)
        if unmixed is not None:
            despill(unmixed, channel, despill_method, despill_amount, out=unmixed)
    if unmixed is not None:      # scattered as 3-byte pixels
        pixel = np.dtype((np.void, 3))
        frame8.reshape(-1).view(pixel)[index] = unmixed.reshape(-1).view(pixel)
    cv2.LUT(frame8, _TO_FLOAT, dst=foreground)
    return KeyResult(foreground, alpha, plate_small, key, tol)


def hsv_key(frame: np.ndarray, key: Optional[np.ndarray] = None, hue_range: float = 20.0,
            min_saturation: float = 0.25, min_value: float = 0.15) -> np.ndarray:
    """The plain baseline: alpha = 0 where the HSV hue is within ``hue_range`` degrees of the
    key's and saturation and value exceed the minimums, else 1 (a binary threshold key, as
    in most simple keyers).  Used as the benchmark and test baseline."""
    frame = np.ascontiguousarray(frame, np.float32)
    key = border_key_color(frame) if key is None else np.asarray(key, np.float32)
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    key_hue = cv2.cvtColor(key.reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0, 0]
    distance = np.abs((hsv[..., 0] - key_hue + 180.0) % 360.0 - 180.0)
    screen = (distance <= hue_range) & (hsv[..., 1] >= min_saturation) & (hsv[..., 2] >= min_value)
    return (~screen).astype(np.float32)
