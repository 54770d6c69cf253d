"""Chroma key, portrait matte, matte refinement and compositing over IMAGE / MASK batches.

IMAGE ``[B, H, W, C]`` 0..1, MASK ``[B, H, W]`` 0..1 (1 = subject).  A mask or background
batch of 1 serves every frame; otherwise batches must match (``ValueError`` naming the input).
Every function works frame by frame through ``loop`` (the nodes pass ComfyUI's progress loop).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Optional

import cv2
import numpy as np
import torch

from ..models.matting import RESOLUTION, load_matte_model
from ..vision import chroma_key as keying
from ..vision import composite as comp
from ..vision import matte, poisson, regions
from ..vision.face import FaceSet
from ..vision.image import check_image, empty_image, empty_mask, frame_float, to_image, to_mask
from .blend import _mask, check_inputs
from .faces import Loop, check_faces

HAIR_BAND = 24   # default unknown-band width (px) around detected heads
FACE_POISSON = ["off"] + poisson.MODES
OPAQUE = 0.99    # alpha at which the subject counts as opaque (face_poisson's region)


def chroma_key(image: torch.Tensor, key_color: str = "auto", *,
               tolerance: float = keying.TOLERANCE, softness: float = keying.SOFTNESS,
               clean_up: int = keying.CLEAN_UP, despill: str = "average",
               despill_strength: float = 1.0, loop: Loop = range
               ) -> tuple[torch.Tensor, torch.Tensor, str]:
    """:func:`vision.chroma_key.chroma_key` on every frame; returns the despilled foreground
    IMAGE, the alpha MASK and a report (key colour and tolerance used per frame).  With
    ``key_color="auto"`` the key is picked once, on the first frame, for the whole batch."""
    check_image(image)
    key = keying.parse_key_color(key_color)
    b, h, w = image.shape[:3]
    foreground, alpha = empty_image(b, h, w), empty_mask(b, h, w)   # written in place
    report = []
    for i in loop(b):
        result = keying.chroma_key(frame_float(image, i), key, tolerance=tolerance,
                                   softness=softness, clean_up=clean_up, despill_method=despill,
                                   despill_amount=despill_strength,
                                   out=(foreground[i].numpy(), alpha[i].numpy()))
        key = result.key
        hex_key = "#" + "".join(f"{round(float(v) * 255):02x}" for v in result.key)
        report.append(f"frame {i}: key {hex_key}, tolerance {result.tolerance:.2f}")
    return foreground, alpha, "\n".join(report)


def portrait_matte(image: torch.Tensor, model: str = "modnet", resolution: int = RESOLUTION,
                   device: str = "auto", allow_download: Optional[bool] = None,
                   loop: Loop = range) -> torch.Tensor:
    """Person alpha MASK of every frame from a ``matte`` model of the registry."""
    check_image(image)
    net = load_matte_model(model, device, allow_download)
    return to_mask([net(frame_float(image, i), resolution) for i in loop(image.shape[0])])


def head_region(faces, shape: tuple[int, int]) -> np.ndarray:
    """bool ``[H, W]``: an ellipse around each face box reaching well above it (the hair)."""
    region = np.zeros(shape, np.uint8)
    for face in faces:
        x0, y0, x1, y1 = (float(v) for v in face.box)
        w, h = x1 - x0, y1 - y0
        center = (round((x0 + x1) / 2), round(y0 + 0.3 * h))
        cv2.ellipse(region, center, (round(1.0 * w), round(1.0 * h)), 0, 0, 360, 1, -1)
    return region > 0


def refine_matte(image: torch.Tensor, mask: torch.Tensor, *, band: int = 6,
                 radius: int = matte.RADIUS, eps: float = matte.EPS,
                 faces: Optional[FaceSet] = None, hair_band: int = HAIR_BAND,
                 loop: Loop = range) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Refine ``mask`` on ``image`` (the original frames: their edges guide the filter).

    Returns the estimated foreground colours IMAGE, the refined MASK and the trimap MASK
    (0 / 0.5 / 1).  With ``faces`` the unknown band is ``hair_band`` px wide around each head.
    """
    mask = check_inputs(image, image, mask)
    if faces is not None:
        check_faces(image, faces)
    b, h, w = image.shape[:3]
    images, alphas, trimaps = empty_image(b, h, w), empty_mask(b, h, w), empty_mask(b, h, w)
    for i in loop(b):     # every result is in 0..1: written straight into the outputs
        frame = frame_float(image, i)
        wide = head_region(faces.frames[i], frame.shape[:2]) if faces is not None else None
        alpha, tri = matte.refine_alpha(frame, _mask(mask, i), band, radius=radius, eps=eps,
                                        wide=wide, wide_band=hair_band)
        images[i] = torch.from_numpy(matte.estimate_foreground(frame, alpha))
        alphas[i] = torch.from_numpy(alpha)
        trimaps[i] = torch.from_numpy(tri)
    return images, alphas, trimaps


def composite(foreground: torch.Tensor, mask: torch.Tensor,
              background: Optional[torch.Tensor] = None, *, background_color: str = "#2a6f97",
              fit: str = "fill", x: float = 0.5, y: float = 0.5, light_wrap: float = 0.0,
              match_light: float = 0.0, faces: Optional[FaceSet] = None,
              face_poisson: str = "off", loop: Loop = range
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Alpha-over of ``foreground`` through ``mask`` onto ``background`` (placed with
    :func:`vision.composite.place`) or a plain colour.  Returns the RGB IMAGE and the RGBA
    IMAGE ``[B, H, W, 4]`` (foreground colours + alpha, for editors and PNG sequences).

    ``face_poisson`` (``normal`` / ``mixed``, needs ``faces`` with landmarks): each face's
    oval, where the subject is opaque, goes through the Poisson composite
    (:func:`vision.poisson.poisson_clone`): the face keeps the foreground's own detail and
    takes its light from the composite around it (after ``match_light`` and ``light_wrap``),
    so a face and the light-matched head agree.  Outside the ovals nothing changes."""
    mask = check_inputs(foreground, foreground, mask)
    if face_poisson not in FACE_POISSON:
        raise ValueError(f"face_poisson: unknown mode {face_poisson!r}; choose one of {FACE_POISSON}")
    if face_poisson != "off":
        if faces is None:
            raise ValueError("face_poisson needs faces: connect the FACES of Face Landmarks "
                             "(or set face_poisson to 'off')")
        check_faces(foreground, faces, "foreground")
    color = comp.parse_color(background_color)
    if background is not None:
        check_image(background, "background")
        if background.shape[0] not in (1, foreground.shape[0]):
            raise ValueError(f"background has a batch of {background.shape[0]} but the "
                             f"foreground has {foreground.shape[0]}: give one background for "
                             "all frames or one per frame")
    shape = tuple(foreground.shape[1:3])
    placed: dict[int, np.ndarray] = {}
    images, rgba = [], []
    for i in loop(foreground.shape[0]):
        fg, alpha = frame_float(foreground, i), _mask(mask, i)
        if background is None:
            bg = np.broadcast_to(color, fg.shape)
        else:
            j = i % background.shape[0]
            if j not in placed:
                placed[j] = comp.place(frame_float(background, j), shape, fit, x, y, color)
            bg = placed[j]
        source = fg
        fg = comp.match_light(fg, alpha, np.ascontiguousarray(bg), match_light)
        out = comp.light_wrap(comp.over(fg, alpha, bg), alpha, np.ascontiguousarray(bg), light_wrap)
        if face_poisson != "off" and len(faces.frames[i]):
            oval = regions.faces_region_mask(faces.frames[i], shape, ["face"])
            region = (oval > 0.5) & (alpha >= OPAQUE)
            out, solved = poisson.poisson_clone(out, source, region.astype(np.float32), face_poisson)
            fg = np.where(solved[..., None] > 0, out, fg)
        images.append(out)
        rgba.append(np.concatenate([fg, alpha[..., None]], -1))
    return to_image(images), torch.from_numpy(np.stack(rgba)).clamp_(0, 1)


WEBM_CRF = 24    # libvpx-vp9 constant quality (0 best .. 63 smallest); 24: alpha within ~1 level


def save_webm_alpha(path: str, image: torch.Tensor, mask: Optional[torch.Tensor] = None, *,
                    fps: float = 24.0, crf: int = WEBM_CRF, loop: Loop = range) -> int:
    """Encode frames with alpha as a VP9 WebM video at ``path`` (``libvpx-vp9``, pixel format
    ``yuva420p``: the alpha travels as WebM's alpha channel, which browsers, OBS and video
    editors read).  The alpha is ``mask`` when given, else the 4th channel of an RGBA IMAGE
    (Composite's ``rgba`` output); colours are straight (not premultiplied).  Needs PyAV
    (``av``, a dependency of ComfyUI itself) with the libvpx encoder, as in PyAV's wheels.
    Decoders must use ``libvpx-vp9`` to get the alpha back (FFmpeg's native ``vp9`` decoder
    drops it).  Returns the number of frames written."""
    check_image(image)
    if mask is not None:
        mask = check_inputs(image, image, mask)
    elif image.shape[-1] != 4:
        raise ValueError("Save WebM (alpha): the image has no alpha channel: connect "
                         "Composite's rgba output, or give the alpha as mask")
    if not 0 <= int(crf) <= 63:
        raise ValueError(f"crf: {crf} is outside 0..63")
    if not fps > 0:
        raise ValueError(f"fps: {fps} must be above 0")
    try:
        import av
    except ImportError as exc:
        raise RuntimeError("Save WebM (alpha) needs PyAV (the 'av' package, which ComfyUI "
                           "itself installs): pip install av") from exc
    if "libvpx-vp9" not in av.codecs_available:
        raise RuntimeError("this PyAV build has no libvpx-vp9 encoder: install PyAV's own "
                           "wheel (pip install av), or save the rgba frames as a PNG "
                           "sequence with Save Image")
    b, h, w = image.shape[:3]
    with av.open(str(path), mode="w", format="webm") as out:
        stream = out.add_stream("libvpx-vp9", rate=Fraction(round(float(fps) * 1000), 1000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuva420p"
        stream.options = {"crf": str(int(crf)), "b:v": "0", "row-mt": "1"}
        for i in loop(b):
            rgba = np.empty((h, w, 4), np.uint8)
            rgba[..., :3] = np.clip(frame_float(image, i) * 255.0 + 0.5, 0, 255)
            alpha = (_mask(mask, i) if mask is not None
                     else image[i, ..., 3].detach().to("cpu", torch.float32).numpy())
            rgba[..., 3] = np.clip(alpha * 255.0 + 0.5, 0, 255)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")))
        out.mux(stream.encode(None))
    return b
