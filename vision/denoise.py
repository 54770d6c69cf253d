"""Denoise a frame with a strength set from its own measured noise level.

Noise level: Immerkaer's fast estimator (J. Immerkaer, "Fast Noise Variance Estimation",
CVIU 64(2), 1996) -- the response to the 3x3 mask ``[[1,-2,1],[-2,4,-2],[1,-2,1]]``, which
cancels smooth intensity up to second order, averaged over the 30 % flattest pixels
(``vision.quality.noise_sigma``, the quality measure's noise term) -- per colour channel, then
averaged.  The result is sigma in grey levels 0..255 of the additive noise per channel.

Methods:

* ``nlmeans`` (default): OpenCV's fast non-local means (``fastNlMeansDenoisingColored``,
  7 x 7 patches, 21 x 21 search) with ``h = hColor = 0.7 * sigma * strength``.  0.7 gave the
  best PSNR, averaged over sigma 5, 10 and 20, on scikit-image's chelsea, coffee and rocket
  photos with Gaussian noise (calibration images; the tests assert on other photos).
* ``bm3d``: the ``bm3d`` package (Makinen, Azzari, Foi) with ``sigma_psd = sigma * strength``;
  listed only when that package is installed.  It is never installed by this pack: its licence
  allows non-commercial use only.
* a learned denoiser (``network``: any callable ``[H, W, 3]`` float 0..1 -> same, e.g. DnCNN
  through spandrel; ``models.denoisers``): run tile by tile (:func:`vision.restore.tiled_upscale`
  at scale 1).  Such networks are blind (they measure the noise themselves), so ``strength``
  mixes: ``frame + min(strength, 1) * (network(frame) - frame)``.

Frames measuring less than :data:`MIN_SIGMA` are returned unchanged (denoising a clean frame
only removes detail).  Deterministic; nlmeans takes about 0.1 s for a 320 x 240 frame and
1-2 s for 720p on one CPU core.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

from .quality import noise_sigma
from .restore import tiled_upscale

H_PER_SIGMA = 0.7
"""OpenCV's ``h`` (and ``hColor``) per grey level of measured noise sigma (calibrated above)."""
MIN_SIGMA = 2.0
"""Below this measured sigma a frame counts as clean and is passed through."""


def bm3d_available() -> bool:
    """Whether the optional ``bm3d`` package can be imported."""
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def methods() -> list[str]:
    """The denoising methods available here: ``nlmeans`` and, when installed, ``bm3d``."""
    return ["nlmeans"] + (["bm3d"] if bm3d_available() else [])


def estimate_noise(frame: np.ndarray) -> float:
    """Noise sigma (grey levels 0..255, per channel) of a uint8 ``[H, W, 3]`` RGB or
    ``[H, W]`` grey frame: Immerkaer's estimate per channel, averaged."""
    frame = np.asarray(frame)
    channels = frame[..., None] if frame.ndim == 2 else frame[..., :3]
    return float(np.mean([noise_sigma(np.ascontiguousarray(channels[..., c], np.float32), None)
                          for c in range(channels.shape[-1])]))


@dataclass(frozen=True)
class Denoised:
    """A denoised frame and what was done: ``sigma`` measured before and ``after``, in grey
    levels; ``method`` is the method used or ``"none"`` (clean frame, passed through)."""

    frame: np.ndarray
    sigma: float
    after: float
    method: str


def denoise(frame: np.ndarray, method: str = "nlmeans", strength: float = 1.0,
            sigma: Optional[float] = None,
            network: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Denoised:
    """Denoise one uint8 RGB frame ``[H, W, 3]``.

    Args:
        method: one of :func:`methods`.
        strength: multiplies the filter strength set from the noise level (1 = calibrated;
            larger removes more noise and more detail).
        sigma: the noise level to assume (grey levels); None measures it (:func:`estimate_noise`).
        network: a learned denoiser (module docstring); ``method`` is then only its name.
    """
    if network is None and method not in ("nlmeans", "bm3d"):
        raise ValueError(f"unknown denoise method {method!r}; choose one of {methods()}")
    if method == "bm3d" and not bm3d_available():
        raise ValueError("method 'bm3d' needs the bm3d package (pip install bm3d; its licence "
                         "allows non-commercial use only); or use 'nlmeans'")
    frame = np.ascontiguousarray(frame, np.uint8)
    measured = estimate_noise(frame) if sigma is None else float(sigma)
    if measured < MIN_SIGMA or strength <= 0:
        return Denoised(frame, measured, measured, "none")
    level = measured * float(strength)
    if network is not None:
        x = frame.astype(np.float32) / 255.0
        x += min(float(strength), 1.0) * (tiled_upscale(x, network, 1) - x)
        out = np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
    elif method == "nlmeans":
        h = H_PER_SIGMA * level
        out = cv2.fastNlMeansDenoisingColored(frame, None, h, h, 7, 21)
    else:
        import bm3d
        out = bm3d.bm3d_rgb(frame.astype(np.float32) / 255.0, level / 255.0)
        out = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
    return Denoised(out, measured, estimate_noise(out), method)
