"""Portrait matting models (task ``matte``): an RGB frame in, a person alpha matte out.

``modnet``: MODNet (Ke et al. 2022, photographic portrait matting; Apache-2.0), ONNX
signature ``input`` ``[B, 3, H, W]`` RGB scaled to -1..1 (H, W multiples of 32, any size) ->
``output`` ``[B, 1, H, W]`` alpha 0..1.  The frame is resized so that its short side is the
model's working ``resolution`` (both sides rounded down to multiples of 32), and the matte is
resized back (Refine Matte then follows the full-resolution frame's edges).  The default,
``RESOLUTION`` = 448, is a little below MODNet's training size 512: 0.7x its time, with masks
at IoU 0.98-0.998 of 512's on the test stills (``bench/results_matte.md``); 512 stays available.  Any ONNX file with this signature works
in the same slot (e.g. a user's own MODNet export placed in the models folder).

``mediapipe_selfie``: MediaPipe selfie segmentation (general, square model; Apache-2.0),
converted to ONNX by ``tools/convert_mediapipe.py``: ``input_1`` ``[B, 256, 256, 3]`` RGB 0..1
(the whole frame resized, no letterbox, as MediaPipe does) -> ``activation_10``
``[B, 256, 256, 1]`` person probability.  A fast person mask for video (a few ms per frame);
its edges are coarse (256 px), so Refine Matte matters more after it.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .onnx import get_session
from .registry import ModelSpec, load_backend, resolve_files

RESOLUTION = 448   # MODNet working short side (module docstring)


def working_size(height: int, width: int, resolution: int = RESOLUTION) -> tuple[int, int]:
    """``(h, w)`` with the short side ``resolution``, both multiples of 32 (at least 32)."""
    scale = resolution / min(height, width)
    return (max(32, int(height * scale) // 32 * 32), max(32, int(width * scale) // 32 * 32))


class ModnetMatte:
    """Runs a MODNet-signature ONNX model on float32 RGB frames ``[H, W, 3]`` 0..1."""

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        self.id = spec.id
        path = resolve_files(spec, allow_download)[0]
        self.session = get_session(path, device, spinning=False)   # long network: threads sleep
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != 3 or len(outputs) != 1:
            raise ValueError(f"{path.name} is not a MODNet-style matting model: expected one input "
                             "[B,3,H,W] and one output [B,1,H,W], got "
                             f"{[(i.name, i.shape) for i in inputs]} -> {[o.shape for o in outputs]}")
        self.input = inputs[0].name

    def __call__(self, frame: np.ndarray, resolution: int = RESOLUTION) -> np.ndarray:
        """Alpha matte float32 ``[H, W]`` 0..1 of one frame."""
        h, w = frame.shape[:2]
        sh, sw = working_size(h, w, resolution)
        small = cv2.resize(np.asarray(frame, np.float32)[..., :3], (sw, sh),
                           interpolation=cv2.INTER_AREA if sh < h else cv2.INTER_LINEAR)
        blob = np.ascontiguousarray((small * 2.0 - 1.0).transpose(2, 0, 1)[None])
        matte = self.session.run(None, {self.input: blob})[0].reshape(sh, sw)
        return np.clip(cv2.resize(matte.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)


class SelfieSegmentation:
    """Runs MediaPipe's selfie segmentation (ONNX) on float32 RGB frames ``[H, W, 3]`` 0..1."""

    SIZE = 256

    def __init__(self, spec: ModelSpec, device: str = "auto", allow_download: Optional[bool] = None):
        self.id = spec.id
        self.session = get_session(resolve_files(spec, allow_download)[0], device)
        self.input = self.session.get_inputs()[0].name

    def __call__(self, frame: np.ndarray, resolution: int = RESOLUTION) -> np.ndarray:
        """Person probability float32 ``[H, W]`` 0..1 (``resolution`` is ignored: 256 px)."""
        h, w = frame.shape[:2]
        small = cv2.resize(np.asarray(frame, np.float32)[..., :3], (self.SIZE, self.SIZE),
                           interpolation=cv2.INTER_AREA)
        mask = self.session.run(None, {self.input: small[None]})[0].reshape(self.SIZE, self.SIZE)
        return np.clip(cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)


BACKENDS = {"modnet": ModnetMatte, "mediapipe_selfie": SelfieSegmentation}


def load_matte_model(model_id: str = "modnet", device: str = "auto",
                     allow_download: Optional[bool] = None):
    """The matting backend for a manifest id of task ``matte``."""
    return load_backend(model_id, "matte", BACKENDS, device, allow_download)
