"""A face's own skin: a colour model fitted on its cheeks, forehead and nose bridge, and the
skin-only shading it implies.

* :func:`fit_skin_model` -- a Gaussian in CIE L*a*b* (OpenCV's float convention: L 0..100)
  fitted on small discs at :data:`SAMPLE_POINTS` of the 478-point mesh, after dropping
  outliers (:func:`vision.color.skin_inliers`: stubble, a strand of hair, a specular spot).
* :func:`skin_weight` -- per pixel 1 for skin, falling to 0 for colours the model rejects
  (Mahalanobis distance from :data:`SKIN_DISTANCE`): hair, beard, glasses frames, a hand or
  a microphone in front of the face.  Eyes, brows, lips and nostrils are never skin-coloured,
  so callers protect them with :func:`feature_mask`.
* :func:`skin_shading` -- the face's very-low-frequency shading and tone from skin pixels only
  (normalised convolution: ``blur(image * w) / blur(w)``), so a beard or a fringe does not
  darken it.
* :func:`fringe` -- strands over the forehead that pass the colour model (darker than the
  forehead's own shading).
* :func:`skin_swap` -- a warped source face given the target's skin tone and shading: the
  source's own skin shading is swapped for the target's in L*a*b* (chroma fully, lightness by
  ``light``); source pixels that are not skin (hair, dark glasses frames, a fringe) take the
  target's skin shading; the target's beard is cleaned and its occluders (:func:`occluders`,
  or learned masks from :mod:`vision.face_parsing`) kept in front.

Images are float32 ``[H, W, 3]`` RGB 0..1; landmarks ``[478, 2+]`` pixels of the same canvas.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from . import mesh_topology as topo
from .color import MIN_PIXELS, lab, lab_to_rgb, skin_inliers
from .face_parsing import visible_face
from .meshwarp import face_height, smoothstep
from .regions import region_mask

SAMPLE_POINTS = (50, 280, 205, 425, 151, 108, 337, 9, 6, 197)
"""Cheeks (50, 280, 205, 425), forehead (151, 108, 337, 9) and nose bridge (6, 197)."""
SAMPLE_RADIUS = 0.05
"""Radius of each sample disc, in face heights."""
SKIN_DISTANCE = (3.0, 5.0)
"""Mahalanobis distance over which :func:`skin_weight` falls from 1 to 0.  Calibrated on the
Obama and Biden photos (cheeks, forehead, jaw kept at 1; brows, hair, collar, background at
0); the tests assert on edits of the astronaut and Grace Hopper."""
MIN_SPREAD = 2.0
"""Floor on the model's standard deviation per channel (L*a*b* units): a very even skin
still accepts the shading across the face."""
SHADING_SCALE = 0.03
"""Gaussian sigma of :func:`skin_shading`, in face heights: fine enough that the cheeks take
the target's own tone and relief; beard, fringe and features are left out by the skin
weight, not by the scale.  (0.06-0.12 left the cheeks 3-5 CIEDE2000 off on the calibration
pairs and carried identity no better; 0.04 left the swapped face flat; 0.025 brought the
calibration pair Hopper -> astronaut L*-25 to 2.8 (0.04: 3.8) but cut the identity
margin of the calibration swap Obama -> Biden (dlib distance to target minus to source) to
0.05 (0.04: 0.13); 0.03: 3.2 and 0.10.)"""
FEATURE_GROW = 0.015
"""How far (face heights) :func:`feature_mask` reaches around eyes, brows, lips, nose."""


def sample_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool ``[H, W]``: discs on the cheeks, forehead and nose bridge (:data:`SAMPLE_POINTS`)."""
    mask = np.zeros(shape, np.uint8)
    radius = max(int(round(SAMPLE_RADIUS * face_height(landmarks))), 1)
    for k in SAMPLE_POINTS:
        x, y = landmarks[k, :2]
        cv2.circle(mask, (int(x), int(y)), radius, 1, -1)
    return mask > 0


def feature_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 ``[H, W]`` 0..1: eyes, brows, lips, inner mouth and nose, grown and feathered
    by :data:`FEATURE_GROW` face heights -- the parts of a face that are not skin-coloured."""
    grow = FEATURE_GROW * face_height(landmarks)
    return region_mask(landmarks, shape, ["eyes", "brows", "lips", "mouth", "nose"],
                       grow=grow, blur=grow)


@dataclass(frozen=True)
class SkinModel:
    """A Gaussian skin colour in L*a*b*: ``mean`` ``[3]``, ``inverse`` covariance ``[3, 3]``."""

    mean: np.ndarray
    inverse: np.ndarray


def fit_skin_model(image_lab: np.ndarray, samples: np.ndarray) -> SkinModel | None:
    """The skin model of the pixels ``samples`` (bool ``[H, W]``) of a L*a*b* image, after
    dropping outliers; None with fewer than ``MIN_PIXELS`` skin pixels."""
    pixels = image_lab[samples].astype(np.float64)
    pixels = pixels[skin_inliers(pixels)]
    if len(pixels) < MIN_PIXELS:
        return None
    cov = np.cov(pixels.T) + np.eye(3) * MIN_SPREAD ** 2
    return SkinModel(pixels.mean(0), np.linalg.inv(cov))


def _distance(image_lab: np.ndarray, model: SkinModel) -> np.ndarray:
    """float32 ``[H, W]`` Mahalanobis distance of each pixel's colour from ``model``:
    ``|L^T d|`` with ``inverse = L L^T`` (Cholesky), as two per-pixel OpenCV transforms."""
    whiten = np.linalg.cholesky(model.inverse).T.astype(np.float32)
    y = cv2.transform(image_lab - model.mean.astype(np.float32), whiten)
    return np.sqrt(cv2.transform(y * y, np.ones((1, 3), np.float32)))


def skin_weight(image_lab: np.ndarray, model: SkinModel) -> np.ndarray:
    """float32 ``[H, W]``: 1 where the colour fits ``model``, 0 beyond (:data:`SKIN_DISTANCE`)."""
    return smoothstep(_distance(image_lab, model), SKIN_DISTANCE[::-1]).astype(np.float32)


def skin_shading(image_lab: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """float32 ``[H, W, 3]``: the Gaussian (``sigma`` px) low-pass of ``image_lab`` from the
    pixels with ``weight`` only (normalised convolution); computed at a reduced size."""
    h, w = weight.shape
    factor = max(1, int(sigma // 4))
    small = (max(w // factor, 1), max(h // factor, 1))
    wsmall = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
    num = cv2.resize(image_lab * weight[..., None], small, interpolation=cv2.INTER_AREA)
    s = sigma / factor
    low = cv2.GaussianBlur(num, (0, 0), s)
    den = cv2.GaussianBlur(wsmall, (0, 0), s)
    low /= np.maximum(den, 1e-4)[..., None]
    # where little skin is near (inside a beard, a fringe, a hand), the estimate comes from a
    # few far pixels: blend toward the same low-pass at HOLE_SCALE x the scale
    size = wsmall.shape[::-1]
    tiny = (max(int(size[0] / HOLE_SCALE), 1), max(int(size[1] / HOLE_SCALE), 1))
    both = cv2.resize(np.dstack([num, wsmall]), tiny, interpolation=cv2.INTER_AREA)
    both = cv2.resize(cv2.GaussianBlur(both, (0, 0), s), size, interpolation=cv2.INTER_LINEAR)
    coarse_den = both[..., 3]   # the same low-pass at HOLE_SCALE x the scale, on a smaller grid
    coarse = both[..., :3] / np.maximum(coarse_den, 1e-4)[..., None]
    trust = np.clip(den / np.maximum(HOLE_TRUST * coarse_den, 1e-6), 0.0, 1.0)[..., None]
    low = coarse + (low - coarse) * trust
    if (coarse_den < 1e-4).any():   # no skin nearby at all: the image's weighted mean
        total = max(float(weight.sum()), 1e-6)
        fallback = weight.reshape(-1) @ image_lab.reshape(-1, 3) / total
        low[coarse_den < 1e-4] = fallback
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)


HOLE_SCALE = 3.0
HOLE_TRUST = 0.2
""":func:`skin_shading` trusts its estimate fully where the skin weight within ``sigma`` is at
least HOLE_TRUST of that within HOLE_SCALE x ``sigma``, and blends toward the coarser one
below (a hole in the skin: beard, fringe, hand).  Calibration (not asserted on): the painted
beard with the small astronaut face as the target 9.2 -> 7.6 L* (4.0 / 0.5: 6.0); the price
is identity on the painted-hand swap (``keep_occluders``), whose dlib margin (distance to
target minus to source) falls from 0.037 to 0.017 (4.0 / 0.5: 0.0; 0.1 and 0.3 here: 0.014
and 0.009)."""


@dataclass(frozen=True)
class FaceSkin:
    """One face's skin in a box: ``lab`` ``[h, w, 3]`` L*a*b*, ``weight`` ``[h, w]`` skin
    weight (0 everywhere when no model could be fitted), ``features`` ``[h, w]``
    (:func:`feature_mask`), ``model`` (or None) and ``shading`` ``[h, w, 3]`` L*a*b*
    (:func:`skin_shading` of the skin outside the features at :data:`SHADING_SCALE`)."""

    lab: np.ndarray
    weight: np.ndarray
    features: np.ndarray
    model: SkinModel | None
    shading: np.ndarray

    @property
    def found(self) -> bool:
        return self.model is not None


def face_skin(image: np.ndarray, landmarks: np.ndarray, valid: np.ndarray | None = None,
              features: np.ndarray | None = None) -> FaceSkin:
    """:class:`FaceSkin` of the face with ``landmarks`` ``[478, 2+]`` in ``image`` (float32
    ``[h, w, 3]`` RGB 0..1); ``valid`` ``[h, w]``: where the image is defined (a warp);
    ``features``: :func:`feature_mask` when already drawn."""
    image_lab = lab(image)
    if features is None:
        features = feature_mask(landmarks, image.shape[:2])
    model = fit_skin_model(image_lab, sample_mask(landmarks, image.shape[:2]))
    if model is None:
        weight = np.zeros(image.shape[:2], np.float32)
        return FaceSkin(image_lab, weight, features, None, image_lab)
    weight = skin_weight(image_lab, model)
    if valid is not None:
        weight *= valid > 0
    sigma = SHADING_SCALE * face_height(landmarks)
    return FaceSkin(image_lab, weight, features, model,
                    skin_shading(image_lab, weight * (1.0 - features), sigma))


def lower_face(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 ``[h, w]``: the face oval below the nose (where a beard or moustache grows),
    shrunk by 2% of the face height (the shadow under the jaw is not a beard) and feathered."""
    h = face_height(landmarks)
    lower = region_mask(landmarks, shape, ["face"], forehead=0.0, grow=-0.02 * h,
                        blur=0.02 * h).copy()
    top = int(np.clip(landmarks[2, 1] - 0.02 * h, 0, shape[0]))  # just above the nose's base
    lower[:top] = 0
    return lower


def fringe(skin: FaceSkin, landmarks: np.ndarray) -> np.ndarray:
    """float32 ``[h, w]`` 0..1: hair over the forehead that passed the colour model -- pixels
    above the brows at least :data:`FRINGE_DARKER` L* units darker than the face's own
    shading there (measured without such pixels; a forehead's wrinkles and pores are a few
    units)."""
    h = face_height(landmarks)
    upper = region_mask(landmarks, skin.weight.shape, ["face"], grow=0.02 * h).copy()
    brows = landmarks[[*topo.RIGHT_BROW, *topo.LEFT_BROW], 1].min()
    upper[int(np.clip(brows, 0, upper.shape[0])):] = 0
    light = skin.lab[..., 0]   # the shading again without the darkest pixels (the strands)
    clear = skin.weight * (1.0 - skin.features) * (light > skin.shading[..., 0]
                                                   - FRINGE_DARKER[0])
    shading = skin_shading(skin.lab, clear, SHADING_SCALE * h)[..., 0]
    found = smoothstep(shading - light, FRINGE_DARKER) * upper * (1.0 - skin.features)
    # feathered (never below itself), so the fill does not end in a hard line under the strands
    return np.maximum(found, cv2.GaussianBlur(found, (0, 0), max(FRINGE_FEATHER * h, 0.5)))


FRINGE_FEATHER = 0.02
"""Feather of :func:`fringe`, in face heights."""
FRINGE_DARKER = (8.0, 14.0)
"""L* units below the skin shading over which :func:`fringe` rises from 0 to 1.  Checked on
the White House photos (calibration, not asserted on): their bare foreheads' wrinkles and
shadows stay below it (at most 1.3 % of the forehead flagged), their hairlines are flagged."""


def glasses_bridge(image_lab: np.ndarray, landmarks: np.ndarray) -> tuple[float, np.ndarray]:
    """How strongly a line crosses the nose bridge between the eyes (the bridge of a pair of
    glasses), in CIEDE76 units: the L*a*b* profile of the bridge's middle (half the distance
    between the inner eye corners wide, from between the brows down to the nose, read along
    the eye line) minus its running median (:data:`GLASSES_WINDOW`); the largest row's
    length, and that row's L*a*b* offset ``[3]`` (the frame's colour against the skin).  A
    bare bridge's creases and shadows stay a few units."""
    none = (0.0, np.zeros(3, np.float32))
    right, left = landmarks[133, :2], landmarks[362, :2]
    axis = left - right
    span = float(np.hypot(*axis))
    if span < 4:
        return none
    across, down = axis / span, np.array([-axis[1], axis[0]]) / span
    centre = (right + left) / 2
    top, bottom = (float((landmarks[k, :2] - centre) @ down) for k in (9, 197))
    rows, cols = int(bottom - top), max(int(span / 2), 2)
    if rows < 8:
        return none
    corners = np.float32([centre - across * span / 4 + down * top,
                          centre + across * span / 4 + down * top,
                          centre - across * span / 4 + down * bottom])
    strip = cv2.warpAffine(image_lab, cv2.getAffineTransform(
        corners, np.float32([[0, 0], [cols, 0], [0, rows]])), (cols, rows),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    profile = strip.mean(1)   # [rows, 3]
    window = int(GLASSES_WINDOW * face_height(landmarks)) | 1
    padded = np.pad(profile, ((window // 2, window // 2), (0, 0)), mode="reflect")
    baseline = np.median(np.lib.stride_tricks.sliding_window_view(padded, window, axis=0), -1)
    offsets = profile - baseline
    strongest = int(np.linalg.norm(offsets, axis=-1).argmax())
    return float(np.linalg.norm(offsets[strongest])), offsets[strongest].astype(np.float32)


GLASSES_WINDOW = 0.12
"""Running-median window of :func:`glasses_bridge`'s profile, in face heights (wider than
a frame's bridge, so the median is the skin around it)."""
GLASSES_BRIDGE = 5.0
""":func:`glasses_bridge` above which a face wears glasses.  Calibration (not asserted on;
the face scaled to :data:`ANALYSIS_HEIGHT`): bare bridges of the Biden and Obama 1-3 photos
1.6-2.9 (the astronaut's, asserted on: 2.6); Grace Hopper's glasses 17.8; frames painted on
copies of the White House photos (dark, amber and thin grey ellipses, light, pale and dark
rectangles) 6.6-63, except two whose bridge is nearly the skin's own colour (3.4 and 3.9:
not found)."""


GLASSES_MIN_WIDTH = 48.0
"""Captured face width (px) under which a source's glasses are not looked for: a frame is
then under a pixel wide, blurred into the brows and eye corners, and taking the ring around
the eyes out costs the swap more identity than the smudge does (Grace Hopper shrunk to 32 px
onto the astronaut, dlib distance to her / to the target: 0.419 / 0.405 with the frames
taken out, 0.438 / 0.439 left in; at 48 and 64 px taking them out is as good or better)."""


def wears_glasses(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """The colour of the glasses the face with ``landmarks`` ``[478, 2+]`` in ``image``
    (float32 ``[H, W, 3]`` RGB 0..1, e.g. a swap's source) wears -- their frame's L*a*b*
    offset from the skin ``[3]`` where :func:`glasses_bridge` of the face scaled to
    :data:`ANALYSIS_HEIGHT` is at least :data:`GLASSES_BRIDGE` -- or None (no glasses)."""
    h = face_height(landmarks)
    scale = min(1.0, ANALYSIS_HEIGHT / max(h, 1.0))
    points = landmarks[:, :2]
    x0, y0 = np.maximum(np.floor(points.min(0) - 0.1 * h), 0).astype(int)
    x1, y1 = np.ceil(points.max(0) + 0.1 * h).astype(int)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1, :3], np.float32)
    if crop.size == 0:
        return None
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) \
        if scale < 1 else crop
    local = (points - (x0, y0) + 0.5) * scale - 0.5
    strength, colour = glasses_bridge(lab(small), local)
    return colour if strength >= GLASSES_BRIDGE else None


def glasses_frames(skin: FaceSkin, landmarks: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """float32 ``[h, w]`` 0..1: the frames of the glasses a face is known to wear, ``colour``
    their L*a*b* offset from the skin (:func:`wears_glasses`), searched only in a ring around
    each eye and the band between the eyes (:data:`GLASSES_RING`): lines of the frame's
    colour (each pixel's offset from its surroundings at :data:`GLASSES_SCALE`, projected on
    ``colour``, as a share of it: :data:`GLASSES_LINE`; grown by a pixel for their soft
    edges) and anything far from the skin shading (:data:`GLASSES_CONTRAST`).  The eyes and
    brows themselves are not frames (a frame along the brows stays: without it the face
    would have no brows)."""
    shape = skin.weight.shape
    h = face_height(landmarks)
    ring = np.zeros(shape, np.uint8)
    centres, widths = [], []
    angle = float(np.degrees(np.arctan2(*(landmarks[263, 1::-1] - landmarks[33, 1::-1]))))
    for eye, (inner, outer) in ((topo.RIGHT_EYE, (133, 33)), (topo.LEFT_EYE, (362, 263))):
        centre = landmarks[list(eye), :2].mean(0)
        width = float(np.hypot(*(landmarks[inner, :2] - landmarks[outer, :2])))
        axes = (int(GLASSES_RING[0] * width), int(GLASSES_RING[1] * width))
        cv2.ellipse(ring, (int(centre[0]), int(centre[1])), axes, angle, 0, 360, 1, -1)
        centres.append(tuple(int(v) for v in centre))
        widths.append(width)
    cv2.line(ring, *centres, 1, max(int(GLASSES_RING[1] * min(widths)), 1))   # the bridge
    grow = FEATURE_GROW * h   # as feature_mask draws them
    kept = region_mask(landmarks, shape, ["eyes", "brows"], grow=grow, blur=grow)
    around = cv2.GaussianBlur(skin.lab, (0, 0), max(GLASSES_SCALE * h, 0.5))
    strength = float(np.linalg.norm(colour))
    along = cv2.transform(skin.lab - around, (colour / strength)[None].astype(np.float32))
    lines = cv2.dilate(smoothstep(along / strength, GLASSES_LINE), np.ones((3, 3), np.uint8))
    contrast = smoothstep(np.linalg.norm(skin.lab - skin.shading, axis=-1), GLASSES_CONTRAST)
    return np.maximum(lines, contrast) * ring * (1.0 - kept)


GLASSES_RING = (1.15, 1.0)
"""Half width and half height of the ring searched around each eye, in eye widths (the
band between the eyes is as high)."""
GLASSES_SCALE = 0.04
"""Gaussian sigma (face heights) of the surroundings a frame's line stands out of."""
GLASSES_LINE = (0.25, 0.6)
"""Share of the frame's colour (its offset from the skin, measured on the bridge) over which a
pixel's offset from its surroundings along that colour rises from 0 to 1 as frame.
Calibration (not asserted on): round glasses painted on the White House photos, swapped
onto Grace Hopper (the frames' landing below the eyes: 1.7-3.4 CIEDE2000 from the swap
without them, 2.9-11.9 when they travel).  Price: the identity margin of Grace Hopper ->
astronaut (embedding distance to the target minus to the source) is 0.071 (0.100 with her
glasses travelling; 0.046 at 0.1-0.35 with contrast 6-14, whose noise also flickered in
video; without growing the lines by a pixel painted frames leave a ghost)."""
GLASSES_CONTRAST = (10.0, 20.0)
"""Colour distance (CIE76) from the skin shading over which a pixel in the ring rises from 0
to 1 as frame (dark or strongly coloured frames, e.g. Grace Hopper's rims; above a noisy
video's grain)."""


TARGET_LIGHT = 0.9
"""Default share of the target's lightness shading the swapped face takes (1 - it keeps the
source's own).  Calibration (not asserted on): Hopper -> astronaut L*-25 cheeks 3.1 CIEDE2000
at 0.8, 2.8 at 0.9, 2.4 at 1.0; identity margins (dlib distance to target minus to source)
on astronaut <-> Hopper and Obama <-> Biden shrink by about 10 % at 0.9, 15-25 % at 1.0."""


ANALYSIS_HEIGHT = 128
"""Face height (px) at which :func:`skin_swap` analyses skin (larger faces are scaled down:
the models, shading and masks are smooth at that scale)."""
BEARD_DARKER = 8.0
BEARD_CHROMA = 0.6
BEARD_BLACK = 0.4
"""A non-skin pixel of the lower face at least :data:`BEARD_DARKER` L* units darker than the
skin model and either with at most :data:`BEARD_CHROMA` of its chroma (hair is greyer than
skin) or at most :data:`BEARD_BLACK` of its lightness (dark hair) is facial hair, not an
occluder (a hand keeps a skin's chroma and more light)."""


@dataclass(frozen=True)
class SkinSwap:
    """What :func:`skin_swap` gives for one face, all in the face's box:

    * ``image`` float32 ``[h, w, 3]`` RGB: the warped source in the target's skin tone;
    * ``occlusion`` ``[h, w]`` 0..1: target pixels kept in front (occluders; the beard too
      when kept) -- multiply the warp mask by ``1 - occlusion``;
    * ``target`` float32 ``[h, w, 3]`` RGB or None (nothing to clean): the target with its
      facial hair replaced by its skin shading -- what a blend's coarse bands should see, so
      a beard does not come back as shading near the mask edge.
    """

    image: np.ndarray
    occlusion: np.ndarray
    target: np.ndarray | None


def skin_swap(source: np.ndarray, target: np.ndarray, mask: np.ndarray, landmarks: np.ndarray,
              *, light: float = TARGET_LIGHT, exclude: bool = True, occlusion: bool = True,
              keep_beard: bool = False, glasses: np.ndarray | None = None,
              source_face: np.ndarray | None = None, target_visible: np.ndarray | None = None,
              stats=None) -> SkinSwap | None:
    """Skin tone, exclusions and occlusion for a source face already warped onto a target face.

    ``source``, ``target``: float32 ``[h, w, 3]`` RGB 0..1 of the target face's box (the
    warp and the frame); ``mask`` ``[h, w]``: where the warp is defined; ``landmarks``: the
    target's ``[478, 2+]`` in the box.  Returns None when either face has no usable skin.
    The skin analysis runs with the face scaled to at most :data:`ANALYSIS_HEIGHT` px; the
    recolouring is applied at full resolution.

    * Tone: the source's skin shading (:attr:`FaceSkin.shading`) is swapped for the
      target's in L*a*b*: chroma and mean lightness fully, the lightness's variation across
      the face by ``light`` (0 keeps the source's own shading, 1 takes the target's).
    * ``exclude``: source pixels its own skin model rejects outside the features (hair over
      the forehead, dark glasses frames) and a :func:`fringe` take the target's skin shading
      instead; with ``glasses`` (the source wears them: :func:`wears_glasses`) so do its
      frames around the eyes and over the nose, light ones too (:func:`glasses_frames`).
    * ``occlusion``: target pixels inside the face that its skin model rejects outside the
      features (a hand, a microphone, thick hair) stay in front (:func:`occluders`); the
      target's facial hair (lower face, darker and greyer than the skin: :data:`BEARD_CHROMA`)
      is replaced by the source unless ``keep_beard``.
    * ``source_face``, ``target_visible`` (float32 ``[h, w]`` 0..1, from learned masks:
      :func:`vision.face_parsing.visible_face`): where the warped source is its own face
      (replaces its skin model in ``exclude``; eyes, brows, lips and nose always travel), and
      where the target's face is visible (what covers the face oval elsewhere is the
      occluder, in place of the skin-colour one).
    * ``stats``: optional hook ``[2, 3] -> [2, 3]`` given the mean skin shading (L*a*b*) of
      the source and of the target over the target's skin inside the warp, returning those
      to use (e.g. :class:`vision.tracking.StatsSmoother` per video track): the tone shift
      moves by the difference, its shape across the face stays this frame's.
    """
    h, w = mask.shape
    scale = min(1.0, ANALYSIS_HEIGHT / max(face_height(landmarks), 1.0))
    small = (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1))
    shrink = (lambda x: cv2.resize(x, small, interpolation=cv2.INTER_AREA)) if scale < 1 \
        else (lambda x: x)
    grow = (lambda x: cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)) if scale < 1 \
        else (lambda x: x)
    lm = np.array(landmarks, np.float32)
    lm[:, :2] = (lm[:, :2] + 0.5) * (np.array(small) / (w, h)) - 0.5
    features = feature_mask(lm, small[::-1])   # the same geometry for both faces
    src = face_skin(shrink(source), lm, valid=shrink(mask), features=features)
    tgt = face_skin(shrink(target), lm, features=features)
    if not src.found or not tgt.found:
        return None
    frames = None
    if glasses is not None and exclude and source_face is None:   # frames are not skin, light
        frames = glasses_frames(src, lm, glasses)   # ones too: out of weight and shading
        weight = src.weight * (1.0 - frames)
        src = replace(src, weight=weight, shading=skin_shading(
            src.lab, weight * (1.0 - features), SHADING_SCALE * face_height(lm)))
    shift = tgt.shading - src.shading
    inside = (shrink(mask) > 0.5) & (tgt.weight > 0.5)
    if stats is not None and inside.any():   # e.g. smoothed over the frames of a track
        where = inside.view(np.uint8)
        measured = np.array([cv2.mean(src.shading, where)[:3], cv2.mean(tgt.shading, where)[:3]])
        used = stats(measured)
        shift += ((used[1] - measured[1]) - (used[0] - measured[0])).astype(np.float32)
    if inside.any():   # the tone (mean lightness) always follows the target, the shading by light
        offset = float(shift[..., 0][inside].mean())
        shift[..., 0] = offset + float(light) * (shift[..., 0] - offset)
    keep = np.ones(shift.shape[:2], np.float32)
    if exclude:
        own = src.weight if source_face is None else shrink(source_face)
        features = src.features
        if source_face is None:   # a fringe's dark strands pass a colour model: not its shading
            own = own * (1.0 - fringe(src, lm))
            if frames is not None:   # over the nose too (not the eyes and brows)
                features = features * (1.0 - frames)
        keep = np.maximum(own, features)
    # the change is smooth: computed as an RGB offset at the analysis size, applied at full
    # size; dark pixels (pupils, shadows, frames) take it in proportion to their lightness,
    # so a big change of skin chroma does not tint them
    before = lab_to_rgb(src.shading)
    fill = lab_to_rgb(src.shading + shift)   # the source's skin shading moved to the target's
    grey = lambda rgb: rgb @ np.array([0.299, 0.587, 0.114], np.float32)  # noqa: E731
    if scale < 1:   # one resize for all the planes
        full = grow(np.dstack([fill - before, fill, grey(before), keep]).astype(np.float32))
        offset, fill, shading_grey, keep = full[..., :3], full[..., 3:6], full[..., 6], full[..., 7:]
    else:
        offset, shading_grey, keep = fill - before, grey(before), keep[..., None]
    dark = np.clip(grey(source) / np.maximum(shading_grey, 0.01), 0.0, 1.0)[..., None]
    out = source + offset * dark
    if exclude:
        out = fill + (out - fill) * keep
    shape = src.weight.shape
    face = region_mask(lm, shape, ["face"])
    other = (1.0 - tgt.weight) * (1.0 - tgt.features) * face   # not skin, not a feature
    chroma = np.hypot(tgt.lab[..., 1], tgt.lab[..., 2])
    skin_chroma = float(np.hypot(*tgt.model.mean[1:]))
    darker = np.clip((tgt.model.mean[0] - tgt.lab[..., 0]) / BEARD_DARKER - 0.5, 0, 1)
    hair_like = (chroma <= BEARD_CHROMA * skin_chroma) | (
        tgt.lab[..., 0] <= BEARD_BLACK * tgt.model.mean[0])
    beard = other * lower_face(lm, shape) * darker * hair_like
    kept = np.zeros(shape, np.float32)
    if occlusion and target_visible is not None:
        kept = _solid(face * (1.0 - beard) * (1.0 - shrink(target_visible)), face_height(lm),
                      thin=False)
    elif occlusion:
        kept = occluders(tgt, lm, face * (1.0 - beard))
    if keep_beard:
        kept = np.maximum(kept, beard)
    kept = grow(kept)
    kept[kept > 0.99] = 1.0   # an occluder's inside stays exactly the target's
    hair = np.clip(beard - kept if scale == 1 else grow(beard) - kept, 0, 1) * (mask > 0)
    cleaned = None
    if np.count_nonzero(hair > 0.5) >= MIN_PIXELS:   # a beard, not a few dark pixels
        cleaned = (target + (lab_to_rgb(grow(tgt.shading)) - target) * hair[..., None])
        cleaned = cleaned.astype(np.float32)
    return SkinSwap(np.clip(out, 0.0, 1.0).astype(np.float32), kept, cleaned)


def occluders(skin: FaceSkin, landmarks: np.ndarray, where: np.ndarray) -> np.ndarray:
    """float32 ``[h, w]`` 0..1: objects in front of the face within ``where`` -- pixels far
    outside the face's skin model (Mahalanobis distance beyond :data:`OCCLUDER_DISTANCE`),
    not eyes, brows, lips or nose, in blobs at least :data:`OCCLUDER_MIN` face heights
    across (thinner ones are wrinkles, frames, shadows).  0 without a skin model."""
    if skin.model is None:
        return np.zeros(where.shape, np.float32)
    height = face_height(landmarks)
    far = _distance(skin.lab, skin.model) > OCCLUDER_DISTANCE
    found = _solid(far * (1.0 - skin.features) * where, height)
    if found.max() < 1:
        return found
    # an occluder also covers the features it overlaps (a hand over the mouth): grow it into
    # them where the colour stays that of the nearest occluder pixel (smoothed)
    blob = found >= 1
    radius = max(int(OCCLUDER_MIN * height), 1)
    outside = (~blob).astype(np.uint8)
    distance, labels = cv2.distanceTransformWithLabels(outside, cv2.DIST_L2, 5,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(~outside.astype(bool))
    lookup = np.zeros((labels.max() + 1, 3), np.float32)
    w = blob.astype(np.float32)
    smooth = cv2.GaussianBlur(skin.lab * w[..., None], (0, 0), 2) \
        / np.maximum(cv2.GaussianBlur(w, (0, 0), 2), 1e-6)[..., None]
    lookup[labels[ys, xs]] = smooth[ys, xs]
    nearest = lookup[labels]
    near = distance <= radius
    alike = np.linalg.norm(skin.lab - nearest, axis=-1) < OCCLUDER_ALIKE
    grown = near & alike & (skin.features > 0) & (where > 0)
    return np.maximum(found, _solid(blob | grown, height, thin=False))


OCCLUDER_MIN = 0.08
"""Occluder blobs thinner than this (face heights) are texture (a wrinkle, a shadow, a
glasses frame), not an object in front of the face."""
OCCLUDER_ALIKE = 10.0
"""L*a*b* distance from an occluder's mean colour within which feature pixels next to it are
part of it."""
OCCLUDER_DISTANCE = 5.0
"""Mahalanobis distance from the skin model beyond which a pixel may be an occluder.
Calibrated with SKIN_DISTANCE on the Obama and Biden photos (no occluder found on their
bare faces)."""


def _solid(weight: np.ndarray, height: float, thin: bool = True) -> np.ndarray:
    """``weight`` without parts thinner than :data:`OCCLUDER_MIN` face heights (opening;
    kept when ``thin`` is False), then grown by one pixel and feathered, so an occluder's
    edge is covered."""
    hard = (weight > 0.5).astype(np.uint8)
    if thin:
        radius = max(int(round(OCCLUDER_MIN * height / 2)), 1)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
        hard = cv2.morphologyEx(hard, cv2.MORPH_OPEN, kernel)
    hard = cv2.dilate(hard, np.ones((3, 3), np.uint8))
    soft = cv2.GaussianBlur(hard.astype(np.float32), (3, 3), 0)
    return np.maximum(soft, hard.astype(np.float32))


def occlusion_mask(image: np.ndarray, landmarks: np.ndarray, maskers=()) -> np.ndarray:
    """float32 ``[H, W]``: what covers the face with ``landmarks`` ``[478, 2+]`` in ``image``
    (float32 ``[H, W, 3]`` RGB 0..1, a whole frame), over the face oval, computed in the
    face's box: from the learned ``maskers`` (:func:`vision.face_parsing.visible_face`) when
    given, else :func:`occluders` of the face's own skin colour."""
    out = np.zeros(image.shape[:2], np.float32)
    x0, y0 = np.maximum(np.floor(landmarks[:, :2].min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(landmarks[:, :2].max(0)).astype(int) + 3,
                        (image.shape[1], image.shape[0]))
    if x1 <= x0 or y1 <= y0:
        return out
    local = np.array(landmarks, np.float32)
    local[:, :2] -= (x0, y0)
    box = np.ascontiguousarray(image[y0:y1, x0:x1], np.float32)
    face = region_mask(local, box.shape[:2], ["face"])
    if maskers:
        visible = visible_face(image, landmarks, maskers, (x0, y0, x1, y1))
        out[y0:y1, x0:x1] = _solid(face * (1.0 - visible), face_height(local), thin=False)
    else:
        out[y0:y1, x0:x1] = occluders(face_skin(box, local), local, face)
    return out
