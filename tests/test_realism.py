"""Swap realism on hard pairs built from the public-domain portraits: skin tone, a painted beard,
hair strands over the source's forehead, an occluder in front of the target, and identity.

The edits (tone shifts, painted beard, strands, occluder) are made here; thresholds were
calibrated on other edits (named at each test) and on the White House photos.
"""
import cv2
import numpy as np
import pytest
import torch

from test_meshwarp import load, with_faces
from face_pipeline.pipeline import faces as ops
from face_pipeline.pipeline import identity
from face_pipeline.models.maskers import load_maskers
from face_pipeline.models.registry import ModelUnavailableError
from face_pipeline.nodes.masks import FaceRegionMask
from face_pipeline.nodes.swap import FaceSwap
from face_pipeline.nodes.watermark import DetectSwapWatermark
from face_pipeline.pipeline.swap import face_swap
from face_pipeline.vision import meshwarp as mw
from face_pipeline.vision.color import delta_e2000, lab
from face_pipeline.vision.regions import region_mask


@pytest.fixture(scope="module")
def portraits():
    return {"astronaut": with_faces(load("faces/nasa_astronaut/1.png")),
            "hopper": with_faces(load("faces/grace_hopper/1.jpg"))}


def landmarks(pair):
    return pair[1].frames[0][0].landmarks


def disc_mask(points, lm, shape, radius=0.06):
    """bool mask of discs (``radius`` face heights) around landmark indices ``points``."""
    mask = np.zeros(shape, np.uint8)
    r = int(radius * mw.face_height(lm))
    for k in points:
        cv2.circle(mask, tuple(int(v) for v in lm[k, :2]), r, 1, -1)
    return mask > 0


CHEEKS = (205, 425)


def shift_tone(image, lm, shift):
    """A copy of IMAGE ``image`` whose skin-coloured pixels (a*b* near the face's median skin)
    are shifted by ``shift`` (L*, a*, b*): a person of another skin tone."""
    frame = image[0].numpy()
    lab_frame = lab(frame)
    skin = region_mask(lm, frame.shape[:2], ["skin"], grow=-3) > 0.5
    ref = np.median(lab_frame[skin], 0)
    distance = np.linalg.norm(lab_frame[..., 1:] - ref[1:], axis=-1)
    weight = np.clip(2 - distance / 10, 0, 1)[..., None]
    shifted = lab_frame + weight * np.array(shift, np.float32)
    rgb = np.clip(cv2.cvtColor(shifted, cv2.COLOR_LAB2RGB), 0, 1)
    return torch.from_numpy(rgb)[None]


def embedding(image):
    faces, _ = identity.embed_faces(image, ops.detect_faces(image))
    return faces.frames[0][0].embedding


def assert_identity_carries(out, source, target):
    swapped = embedding(out)
    assert np.linalg.norm(swapped - embedding(source)) < np.linalg.norm(swapped - embedding(target))


# Calibration (not asserted on): the unshifted pairs and shifts (-25, 4, 8) onto the
# astronaut: 1.6-4.0 with the default colour="skin" (whole-face Reinhard: 4.4-5.7).
@pytest.mark.parametrize("source,target,shift", [("astronaut", "hopper", (-25, 4, 8)),
                                                 ("astronaut", "hopper", (15, -3, -6)),
                                                 ("hopper", "astronaut", (12, -3, -8))])
def test_skin_tone_follows_the_target(portraits, source, target, shift):
    src, tgt = portraits[source], portraits[target]
    toned = shift_tone(tgt[0], landmarks(tgt), shift)
    out, _, _ = face_swap(src[0], toned, source_faces=src[1], target_faces=tgt[1])
    cheeks = disc_mask(CHEEKS, landmarks(tgt), toned.shape[1:3])
    before = lab(toned[0].numpy())[cheeks].mean(0)
    after = lab(out[0].numpy())[cheeks].mean(0)
    assert delta_e2000(after, before) <= 3.0
    assert_identity_carries(out, src[0], toned)


def lower_face_mask(lm, shape):
    """The oval below the nose, without the lips (where a beard grows)."""
    h = mw.face_height(lm)
    lower = region_mask(lm, shape, ["face"], forehead=0.0).copy()
    lower[:int(lm[2, 1] + 0.02 * h)] = 0
    return np.clip(lower - region_mask(lm, shape, ["lips", "mouth"], grow=0.015 * h), 0, 1) > 0.5


def paint_beard(image, lm, seed=0):
    """A dark, stubbly full beard painted over the lower face."""
    frame = image[0].numpy().copy()
    area = lower_face_mask(lm, frame.shape[:2]).astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, 0.05, frame.shape[:2]).astype(np.float32)
    beard = np.clip(np.array([0.2, 0.14, 0.1], np.float32) + cv2.GaussianBlur(noise, (0, 0), 0.7)[..., None], 0, 1)
    alpha = cv2.GaussianBlur(area, (0, 0), 2)[..., None]
    return torch.from_numpy(frame * (1 - alpha) + beard * alpha)[None]


def paint_strands(image, lm, seed=1):
    """Dark hair strands hanging over the forehead (a fringe)."""
    frame = image[0].numpy().copy()
    h = mw.face_height(lm)
    rng = np.random.default_rng(seed)
    top, brow = lm[10, :2], lm[9, :2]
    width = max(int(0.015 * h), 2)
    for k in range(7):
        x = top[0] + (k - 3) * 0.07 * h + rng.normal(0, 0.01 * h)
        pts = np.array([[x + 0.04 * h * np.sin(t * 3 + k), top[1] - 0.05 * h + t * (brow[1] - top[1] + 0.05 * h)]
                        for t in np.linspace(0, 1, 12)], np.int32)
        cv2.polylines(frame, [pts], False, (0.25, 0.17, 0.1), width, cv2.LINE_AA)
    return torch.from_numpy(frame)[None]


# Calibration (not asserted on): a painted beard with the astronaut as the target gave 5.5 and
# a lighter (grey) beard 3.x; the previous blend (whole-face Reinhard, target lighting band)
# left 20-31 L* units of beard.
def test_target_beard_does_not_ghost_through(portraits):
    src, tgt = portraits["astronaut"], portraits["hopper"]
    lm = landmarks(tgt)
    bearded = paint_beard(tgt[0], lm)
    out, _, _ = face_swap(src[0], bearded, source_faces=src[1], target_faces=tgt[1])
    clean, _, _ = face_swap(src[0], tgt[0], source_faces=src[1], target_faces=tgt[1])
    h = mw.face_height(lm)
    area = lower_face_mask(lm, out.shape[1:3]) & (
        region_mask(lm, out.shape[1:3], ["face"], forehead=0.0, grow=-0.05 * h) > 0.5)
    lightness = lambda image: lab(image[0].numpy())[area][:, 0].mean()
    assert lightness(bearded) < lightness(clean) - 25   # the painted beard is dark
    assert abs(lightness(out) - lightness(clean)) < 8.0
    assert_identity_carries(out, src[0], bearded)
    kept, _, _ = face_swap(src[0], bearded, source_faces=src[1], target_faces=tgt[1], keep_beard=True)
    assert lightness(kept) < lightness(out) - 10   # the option keeps it


# Calibration (not asserted on): strands over Grace Hopper's forehead swapped onto the
# astronaut: 0.2 (whole-face Reinhard: 3.3; here 4.4).
def test_source_hair_does_not_travel(portraits):
    src, tgt = portraits["astronaut"], portraits["hopper"]
    stranded = paint_strands(src[0], landmarks(src))
    out, _, _ = face_swap(stranded, tgt[0], source_faces=src[1], target_faces=tgt[1])
    clean, _, _ = face_swap(src[0], tgt[0], source_faces=src[1], target_faces=tgt[1])
    forehead = disc_mask((151, 9, 108, 337), landmarks(tgt), out.shape[1:3], radius=0.05)
    colour = lambda image: lab(image[0].numpy())[forehead].mean(0)
    assert delta_e2000(colour(out), colour(clean)) <= 2.0
    assert_identity_carries(out, stranded, tgt[0])


def paint_occluder(image, lm, colour=(0.45, 0.29, 0.2)):
    """A hand-coloured blob (a hand of a darker skin tone) over the target's cheek and mouth
    corner; returns the image and the blob's mask."""
    frame = image[0].numpy().copy()
    h = mw.face_height(lm)
    blob = np.zeros(frame.shape[:2], np.uint8)
    centre = tuple(int(v) for v in (lm[205, :2] + lm[61, :2]) / 2)
    cv2.ellipse(blob, centre, (int(0.12 * h), int(0.07 * h)), 30, 0, 360, 1, -1)
    frame[blob > 0] = colour
    return torch.from_numpy(frame)[None], blob > 0


def test_occluder_stays_in_front(portraits):
    src, tgt = portraits["astronaut"], portraits["hopper"]
    covered, blob = paint_occluder(tgt[0], landmarks(tgt))
    out, mask, _ = face_swap(src[0], covered, source_faces=src[1], target_faces=tgt[1],
                             occlusion=True)   # defaults otherwise: the watermark is on
    inner = cv2.erode(blob.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.abs(out[0].numpy()[inner] - covered[0].numpy()[inner]).max() <= 1 / 255
    assert DetectSwapWatermark().detect(jpeg_half(out))[0]
    # the Face Region Mask option outputs the occluder (inside the face oval)
    found = FaceRegionMask().mask(covered, tgt[1], "occluders", "", 0, 0.0, 0.15, "image")[0]
    face = region_mask(landmarks(tgt), blob.shape, ["face"], grow=-2) > 0.99
    assert (found[0].numpy()[inner & face] >= 1).all() and found[0].numpy()[~blob].mean() < 0.05
    assert mask[0].numpy()[~blob].max() > 0.9   # the rest of the face is swapped
    assert_identity_carries(out, src[0], covered)


def jpeg_half(image):
    """IMAGE -> halved (area) and saved as JPEG quality 75 -> IMAGE."""
    frame = (image[0].numpy() * 255 + 0.5).astype(np.uint8)
    half = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", half[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
    back = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return torch.from_numpy(back.astype(np.float32) / 255)[None]


UNSWAPPED = ["faces/nasa_astronaut/1.png", "faces/grace_hopper/1.jpg", "faces/obama/1.jpg",
             "faces/obama/2.jpg", "faces/obama/3.jpg", "faces/biden/1.jpg",
             "group/two_people.jpg", "lowres/obama_240p.jpg", "lowres/lr_x4_bicubic.png"]


def test_swaps_carry_a_watermark_that_survives_jpeg_and_resizing(portraits, tmp_path):
    from face_pipeline.runner.core_nodes import FOLDERS, SaveImage
    detect = DetectSwapWatermark().detect
    for source, target in (("astronaut", "hopper"), ("hopper", "astronaut")):
        src, tgt = portraits[source], portraits[target]
        extra = {}
        out, _, report = FaceSwap().swap(src[0], tgt[0], "mesh_warp", 0, "all", 0.5, False, True,
                                         1.0, 15.0, "skin", False, False, True, 0.0, "128",
                                         "cpu", src[1], tgt[1], extra_pnginfo=extra)
        assert "watermark" in report
        assert detect(out)[0] and detect(jpeg_half(out))[0], detect(jpeg_half(out))
        # the PNG text entry: SaveImage writes what the swap node recorded
        FOLDERS.configure(str(tmp_path), str(tmp_path))
        saved = SaveImage().save_images(out, "swap", extra_pnginfo=extra)["ui"]["images"][0]
        from PIL import Image
        with Image.open(tmp_path / saved["filename"]) as png:
            assert "face_swap" in png.text and "swapped" in png.text["face_swap"]
    for path in UNSWAPPED:
        original = load(path)
        assert not detect(original)[0] and not detect(jpeg_half(original))[0], path
    off, _, _ = face_swap(src[0], tgt[0], source_faces=src[1], target_faces=tgt[1], watermark=False)
    assert not detect(off)[0]
    # at most one grey level anywhere, whether 8-bit output rounds (PIL) or truncates (Save
    # Image), and exactly one on most pixels (the mark is not weaker than it can be)
    on = face_swap(src[0], tgt[0], source_faces=src[1], target_faces=tgt[1])[0][0].numpy()
    for to8 in (lambda f: np.clip(f * 255 + 0.5, 0, 255).astype(np.int16),
                lambda f: np.clip(255. * f, 0, 255).astype(np.uint8).astype(np.int16)):
        change = np.abs(to8(on) - to8(off[0].numpy()))
        assert change.max() == 1 and (change == 1).mean() > 0.9


KEY = (0.1, 0.2, 0.9)
"""The colour the tiny XSeg / BiSeNet models of these tests mark (tests/tiny_models.py)."""


def paint_square(image, lm, point, side):
    """A copy of IMAGE ``image`` with a square of the colour KEY (``side`` face heights)
    centred on landmark ``point``; returns it and the square's bool mask."""
    frame = image[0].numpy().copy()
    half = max(int(side * mw.face_height(lm) / 2), 2)
    x, y = (int(v) for v in lm[point, :2])
    square = np.zeros(frame.shape[:2], bool)
    square[y - half:y + half, x - half:x + half] = True
    frame[square] = KEY
    return torch.from_numpy(frame)[None], square


def test_learned_occlusion_masks_keep_occluders_in_front(portraits, tmp_path, monkeypatch):
    from tiny_models import tiny_bisenet, tiny_xseg
    src, tgt = portraits["astronaut"], portraits["hopper"]
    covered, square = paint_square(tgt[0], landmarks(tgt), 205, 0.06)
    inner = cv2.erode(square.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    change = lambda model: np.abs(face_swap(  # noqa: E731
        src[0], covered, source_faces=src[1], target_faces=tgt[1], occlusion=True,
        mask_model=model)[0][0].numpy()[inner] - covered[0].numpy()[inner]).max()
    # the skin-colour model misses an occluder this small: it is swapped over
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    assert change("skin colour") > 0.1 and change("auto") > 0.1   # auto: no file, skin colour
    with pytest.raises(ModelUnavailableError, match="xseg_1.onnx"):
        change("xseg_1")   # named but missing: says where to put it
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    tiny_bisenet(wrong / "xseg_1.onnx", KEY)   # a parser under the occluder's name
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(wrong))
    with pytest.raises(ValueError, match="not a xseg_1 model"):
        change("auto")
    for name, build in (("xseg_1", tiny_xseg), ("bisenet_resnet_34", tiny_bisenet)):
        folder = tmp_path / name
        folder.mkdir()
        build(folder / f"{name}.onnx", KEY)
        monkeypatch.setenv("FACE_PIPELINE_MODELS", str(folder))
        assert change(name) <= 1 / 255 and change("auto") <= 1 / 255, name
        # auto without occlusion loads only what it would use (a parser, not XSeg)
        assert [m.id for m in load_maskers("auto", occlusion=False)] == (
            [] if name == "xseg_1" else [name])
        found = FaceRegionMask().mask(covered, tgt[1], "occluders", "", 0, 0.0, 0.15, "image",
                                      "auto")[0][0].numpy()
        assert found[inner].min() > 0.99 and found[~square].mean() < 0.01, name


def test_face_parser_decides_what_of_the_source_travels(portraits, tmp_path, monkeypatch):
    from tiny_models import tiny_bisenet
    src, tgt = portraits["astronaut"], portraits["hopper"]
    marked, _ = paint_square(src[0], landmarks(src), 151, 0.06)   # blue, b* about -70
    spot = disc_mask((151,), landmarks(tgt), tgt[0].shape[1:3], radius=0.02)
    colour = lambda image: lab(image[0].numpy())[spot].mean(0)  # noqa: E731
    swap = lambda image: face_swap(  # noqa: E731
        image, tgt[0], source_faces=src[1], target_faces=tgt[1], mask_model="bisenet_resnet_34")[0]
    clean = colour(face_swap(src[0], tgt[0], source_faces=src[1], target_faces=tgt[1])[0])
    for name, key in (("hair", KEY), ("all_skin", None)):
        folder = tmp_path / name
        folder.mkdir()
        tiny_bisenet(folder / "bisenet_resnet_34.onnx", key)
        monkeypatch.setenv("FACE_PIPELINE_MODELS", str(folder))
        found = colour(swap(marked))
        if key is None:   # parsed as skin: the square travels, blue
            assert found[2] < clean[2] - 20
        else:             # parsed as hair: left behind, the target's skin shading instead
            assert abs(found[1:] - clean[1:]).max() < 5 and delta_e2000(found, clean) < 15


def test_a_fringe_of_the_skins_own_hue_is_told_from_skin(portraits):
    """Strands of the skin's own hue, 16 L* darker (hair in shadow, which passes the colour
    model): above the brows it is a fringe (left behind by the swap), on the cheek it is not."""
    from face_pipeline.vision import skin
    image, faces = portraits["hopper"]
    lm = landmarks(portraits["hopper"])
    frame = lab(image[0].numpy())
    h = mw.face_height(lm)
    bands = []
    for k in (151, 205):   # forehead, cheek
        x, y = (int(v) for v in lm[k, :2])
        band = np.zeros(frame.shape[:2], bool)
        band[y - 1:y + 2, x - int(0.1 * h):x + int(0.1 * h)] = True   # a 3 px strand
        frame[band] = frame[band] - [16, 0, 0]
        bands.append(band)
    rgb = np.clip(cv2.cvtColor(frame, cv2.COLOR_LAB2RGB), 0, 1)
    found = skin.fringe(skin.face_skin(rgb, lm), lm)
    forehead, cheek = bands
    assert np.median(found[forehead]) > 0.9 and found[cheek].max() == 0.0


def test_skin_shading_fills_a_hole_from_the_skin_around_it():
    """A hole in the skin weight far wider than the shading scale (a beard, a hand) is filled
    from the skin around it, not from the whole image's mean."""
    from face_pipeline.vision import skin
    h, w = 120, 200
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.dstack([40 + 0.2 * xs, np.full_like(xs, 15), np.full_like(xs, 20)])   # a light ramp
    weight = np.ones((h, w), np.float32)
    hole = (xs - 160) ** 2 + (ys - 60) ** 2 < 25 ** 2
    weight[hole] = 0
    shading = skin.skin_shading(image, weight, sigma=4.0)
    assert abs(shading[60, 160, 0] - image[60, 160, 0]) < 3    # 72 there; the image mean is 60
    assert np.abs(shading[~hole] - image[~hole]).max() < 1.5


def paint_glasses(image, lm, shift=(-9.0, 5.0, 9.0)):
    """A copy of IMAGE ``image`` wearing round glasses of a light colour near the skin's own
    (the face's median skin in L*a*b* moved by ``shift``: a translucent amber frame, like Grace
    Hopper's): a ring around each eye, a bridge over the nose; returns it and the frame's mask."""
    from face_pipeline.vision import mesh_topology as topo
    frame = image[0].numpy().copy()
    h = mw.face_height(lm)
    drawn = np.zeros(frame.shape[:2], np.uint8)
    thick = max(int(round(0.015 * h)), 2)
    inner = []
    for eye, corners in ((topo.RIGHT_EYE, (133, 33)), (topo.LEFT_EYE, (362, 263))):
        width = np.hypot(*(lm[corners[0], :2] - lm[corners[1], :2]))
        centre = lm[list(eye), :2].mean(0) + [0.08 * width * np.sign(
            lm[corners[1], 0] - lm[corners[0], 0]), 0.05 * width]
        cv2.circle(drawn, tuple(int(v) for v in centre), int(0.8 * width), 1, thick)
        inner.append(centre + [0.8 * width * np.sign(lm[corners[0], 0] - lm[corners[1], 0]),
                               -0.25 * width])
    cv2.line(drawn, tuple(int(v) for v in inner[0]), tuple(int(v) for v in inner[1]), 1, thick)
    skin_lab = np.median(lab(frame)[region_mask(lm, frame.shape[:2], ["skin"], grow=-3) > 0.5], 0)
    colour = cv2.cvtColor((skin_lab + np.float32(shift))[None, None], cv2.COLOR_LAB2RGB)[0, 0]
    frame[drawn > 0] = np.clip(colour, 0, 1)
    return torch.from_numpy(frame)[None], drawn > 0


# Calibration (not asserted on): bare bridges of the Biden and Obama 1-3 photos, and dark,
# amber and thin grey elliptic frames and light or dark rectangular frames painted on them.
def test_glasses_of_the_source_are_found_on_its_nose_bridge(portraits):
    from face_pipeline.vision import skin
    found = lambda image, lm: skin.wears_glasses(image[0].numpy(), lm)  # noqa: E731
    hopper, astronaut = portraits["hopper"], portraits["astronaut"]
    assert found(hopper[0], landmarks(hopper)) is not None         # her own glasses
    assert found(astronaut[0], landmarks(astronaut)) is None       # a bare bridge
    for shift in ((-9.0, 5.0, 9.0), (10.0, 2.0, 4.0), (-40.0, 0.0, 0.0)):  # light, pale, dark
        assert found(paint_glasses(astronaut[0], landmarks(astronaut), shift)[0],
                     landmarks(astronaut)) is not None, shift


# Calibration (not asserted on): the same glasses (and paler ones, +10 L*) on the Obama 1-3
# and Biden photos swapped onto Grace Hopper: 1.7-3.4 CIEDE2000 where found (7 of 8), 2.9-11.9
# with the frames travelling.
def test_light_glasses_frames_of_the_source_stay_behind(portraits, monkeypatch):
    """Frames of a colour near the skin's pass the skin model; found from the bridge, they are
    left behind: where they land on the target's lower face the swap looks as without them;
    Grace Hopper's own glasses go, and her identity still carries."""
    from face_pipeline.vision import skin
    src, tgt = portraits["astronaut"], portraits["hopper"]
    src_lm, tgt_lm = landmarks(src), landmarks(tgt)
    wearing, drawn = paint_glasses(src[0], src_lm)
    # where the frame lands: its mask warped as the swap warps the source, below the eyes
    source = mw.prepare_source(np.dstack([drawn.astype(np.float32)] * 3), src_lm)
    warped = mw.warp_face(source, mw.transfer_shape(tgt_lm, src_lm, 0.5), tgt[0].shape[1:3],
                          keep_landmarks=tgt_lm)
    lands = np.zeros(tgt[0].shape[1:3], bool)
    x0, y0, x1, y1 = warped.box
    lands[y0:y1, x0:x1] = warped.image[..., 0] * warped.mask > 0.5
    lands[:int(tgt_lm[[33, 133, 362, 263], 1].mean() + 0.1 * mw.face_height(tgt_lm))] = False
    clean = face_swap(src[0], tgt[0], source_faces=src[1], target_faces=tgt[1])[0]
    swap = lambda: face_swap(wearing, tgt[0], source_faces=src[1],  # noqa: E731
                             target_faces=tgt[1])[0]
    change = lambda out: delta_e2000(lab(out[0].numpy()[lands][None]),  # noqa: E731
                                     lab(clean[0].numpy()[lands][None])).mean()
    out = swap()
    left_behind = change(out)
    assert_identity_carries(out, wearing, tgt[0])
    hopper = face_swap(tgt[0], src[0], source_faces=tgt[1], target_faces=src[1])[0]
    assert_identity_carries(hopper, tgt[0], src[0])
    monkeypatch.setattr(skin, "GLASSES_BRIDGE", np.inf)   # glasses not looked for: they travel
    assert left_behind <= 4.0 < change(swap())
