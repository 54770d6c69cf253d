"""`vision/skin.py` on the stored 478-point meshes (tests/data/landmarks_reference.npz, no
model run) of the public-domain portraits and on synthetic images: sample discs, the skin
colour model and its weight, shading from skin only, the lower face, a fringe, glasses,
occluders and the skin swap (issue 15 item 4: outcomes that kill behaviour-changing mutants;
fast enough for mutation runs).  The thresholds were calibrated on other photos (see their
docstrings); these tests assert on the astronaut, Grace Hopper and edits of them.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import load_rgb
from face_pipeline.vision import skin
from face_pipeline.vision.color import lab, lab_to_rgb
from face_pipeline.vision.meshwarp import face_height

STORED = np.load(Path(__file__).parent / "data" / "landmarks_reference.npz")


def face(name):
    """float32 RGB 0..1 image and its stored mesh ``[478, 3]``."""
    return (load_rgb(name).astype(np.float32) / 255.0,
            STORED[f"{name}|landmarks"][0].astype(np.float32))


HOPPER = "faces/grace_hopper/1.jpg"
ASTRONAUT = "faces/nasa_astronaut/1.png"


@pytest.fixture(scope="module")
def hopper():
    return face(HOPPER)


@pytest.fixture(scope="module")
def astronaut():
    return face(ASTRONAUT)


def disc(lm, k, shape, radius):
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    x, y = lm[k, :2]
    return (xs - x) ** 2 + (ys - y) ** 2 <= radius ** 2


def test_constants():
    assert skin.SAMPLE_POINTS == (50, 280, 205, 425, 151, 108, 337, 9, 6, 197)
    assert skin.SAMPLE_RADIUS == 0.05 and skin.SKIN_DISTANCE == (3.0, 5.0)
    assert skin.MIN_SPREAD == 2.0 and skin.SHADING_SCALE == 0.03 and skin.FEATURE_GROW == 0.015
    assert skin.GLASSES_BRIDGE == 5.0 and skin.OCCLUDER_DISTANCE == 5.0


def test_sample_mask_is_discs_at_the_sample_points(hopper):
    image, lm = hopper
    shape = image.shape[:2]
    mask = skin.sample_mask(lm, shape)
    assert mask.dtype == bool
    radius = int(round(0.05 * face_height(lm)))
    expected = np.zeros(shape, np.uint8)
    for k in skin.SAMPLE_POINTS:
        cv2.circle(expected, (int(lm[k, 0]), int(lm[k, 1])), radius, 1, -1)
    assert np.array_equal(mask, expected > 0)
    for k in skin.SAMPLE_POINTS:   # each disc is there, of the radius
        x, y = int(lm[k, 0]), int(lm[k, 1])
        assert mask[y, x] and mask[y, x + radius - 1]
    tiny = lm.copy()
    tiny[:, :2] = lm[:, :2] * 0.02   # a face 4 px high: discs of radius 1 (the floor)
    small = skin.sample_mask(tiny, (20, 20))
    dots = np.zeros((20, 20), np.uint8)
    for k in skin.SAMPLE_POINTS:
        cv2.circle(dots, (int(tiny[k, 0]), int(tiny[k, 1])), 1, 1, -1)
    assert small.any() and np.array_equal(small, dots > 0)


def test_feature_mask_covers_eyes_lips_nose_not_cheeks(hopper):
    image, lm = hopper
    feats = skin.feature_mask(lm, image.shape[:2])
    assert feats.dtype == np.float32 and feats.min() >= 0 and feats.max() <= 1
    for k in (468, 473, 13, 14, 4):   # irises, lips, nose tip
        assert feats[int(lm[k, 1]), int(lm[k, 0])] > 0.99
    for k in (50, 280, 151, 152):   # cheeks, forehead, chin
        assert feats[int(lm[k, 1]), int(lm[k, 0])] < 0.01
    # grown by FEATURE_GROW face heights beyond the eye's outline
    bare = skin.region_mask(lm, image.shape[:2], ["eyes", "brows", "lips", "mouth", "nose"])
    assert feats.sum() > bare.sum() * 1.1


def test_fit_skin_model_is_the_inliers_gaussian():
    rng = np.random.default_rng(0)
    cov = np.array([[9.0, 2.0, 0.0], [2.0, 4.0, 1.0], [0.0, 1.0, 6.0]])
    pixels = rng.multivariate_normal([60, 15, 20], cov, size=4000).astype(np.float32)
    pixels[:100] = [10, -40, 60]   # outliers: a strand of hair
    image = pixels.reshape(40, 100, 3)
    model = skin.fit_skin_model(image, np.ones((40, 100), bool))
    assert np.allclose(model.mean, [60, 15, 20], atol=0.3)
    inliers = pixels[100:][skin.skin_inliers(pixels[100:])].astype(np.float64)
    expected = np.linalg.inv(np.cov(inliers.T) + 4 * np.eye(3))   # MIN_SPREAD ** 2 added
    assert np.allclose(model.inverse, expected, rtol=0.05)
    samples = np.zeros((40, 100), bool)
    samples[0, :15] = True   # 15 pixels: fewer than MIN_PIXELS
    assert skin.fit_skin_model(image, samples) is None
    samples[0, :16] = True
    assert skin.fit_skin_model(image, samples) is not None
    flat = np.full((10, 10, 3), 50, np.float32)   # no spread: floored at MIN_SPREAD
    even = skin.fit_skin_model(flat, np.ones((10, 10), bool))
    assert np.allclose(even.inverse, np.eye(3) / 4) and np.allclose(even.mean, 50)


def test_distance_and_weight_follow_the_mahalanobis_distance():
    inverse = np.array([[0.5, 0.1, 0.0], [0.1, 0.25, 0.05], [0.0, 0.05, 1.0]])
    model = skin.SkinModel(np.array([50.0, 10.0, 20.0]), inverse)
    rng = np.random.default_rng(1)
    image = (np.array([50, 10, 20]) + rng.normal(0, 6, (7, 9, 3))).astype(np.float32)
    d = image.astype(np.float64) - model.mean
    expected = np.sqrt(np.einsum("hwi,ij,hwj->hw", d, inverse, d))
    assert np.allclose(skin._distance(image, model), expected, rtol=1e-4)
    unit = skin.SkinModel(np.zeros(3), np.eye(3))
    line = np.zeros((1, 5, 3), np.float32)
    line[0, :, 0] = [0, 3, 4, 5, 7]   # distances
    weight = skin.skin_weight(line, unit)
    assert weight.dtype == np.float32
    assert np.allclose(weight[0], [1, 1, 0.5, 0, 0], atol=1e-6)
    line[0, :, 0] = [0, -3, -3.5, -4, -4.5]
    assert np.allclose(skin.skin_weight(line, unit)[0], [1, 1, 0.84375, 0.5, 0.15625], atol=1e-5)


def test_skin_weight_keeps_the_cheeks_and_drops_a_blue_patch(hopper):
    image, lm = hopper
    painted = image.copy()
    x, y = (int(v) for v in lm[205, :2])
    painted[y - 10:y + 10, x - 10:x + 10] = [0.1, 0.2, 0.9]
    image_lab = lab(painted)
    model = skin.fit_skin_model(image_lab, skin.sample_mask(lm, image.shape[:2]))
    weight = skin.skin_weight(image_lab, model)
    assert weight[y - 8:y + 8, x - 8:x + 8].max() == 0.0
    for k in (50, 280, 425, 151):
        kx, ky = (int(v) for v in lm[k, :2])
        assert np.median(weight[ky - 3:ky + 4, kx - 3:kx + 4]) > 0.9
    assert weight[5:40, 5:40].mean() < 0.1   # the background


def test_skin_shading_is_the_low_pass_of_skin_only():
    h, w = 120, 200
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.dstack([40 + 0.2 * xs, np.full_like(xs, 15), np.full_like(xs, 20)])
    weight = np.ones((h, w), np.float32)
    shading = skin.skin_shading(image, weight, sigma=8.0)
    assert shading.shape == (h, w, 3) and shading.dtype == np.float32
    inner = (slice(20, -20), slice(30, -30))
    assert np.abs(shading[inner] - image[inner]).max() < 0.5   # a ramp passes a low-pass
    # non-skin pixels (a dark beard stripe) do not darken it
    beard = image.copy()
    beard[50:70] = [10, 2, 3]
    weight[50:70] = 0
    filled = skin.skin_shading(beard, weight, sigma=8.0)
    assert np.abs(filled[55:65, 30:-30] - image[55:65, 30:-30]).max() < 1.0
    # blurred without the weight the stripe would show
    assert np.abs(skin.skin_shading(beard, np.ones((h, w), np.float32), 8.0)[60, 100, 0]
                  - image[60, 100, 0]) > 10
    # no skin anywhere near: the weighted mean of the image
    far = np.zeros((h, w), np.float32)
    far[:, :10] = 1
    out = skin.skin_shading(image, far, sigma=2.0)
    mean = image[:, :10].reshape(-1, 3).mean(0)
    assert np.allclose(out[60, 150], mean, atol=0.05)
    assert abs(out[60, 2, 0] - image[60, 2, 0]) < 1.0


def test_skin_shading_blends_toward_the_coarse_estimate_in_holes():
    h, w = 120, 240
    image = np.zeros((h, w, 3), np.float32)
    image[:, :120] = [30, 10, 10]
    image[:, 120:] = [70, 10, 10]
    weight = np.ones((h, w), np.float32)
    weight[:, 40:200] = 0   # a wide hole between a dark and a light side
    out = skin.skin_shading(image, weight, sigma=4.0)
    assert 35 < out[60, 120, 0] < 65   # filled from both sides
    assert out[60, 20, 0] == pytest.approx(30, abs=0.5) and out[60, 220, 0] == pytest.approx(70, abs=0.5)


def test_face_skin_on_a_portrait(astronaut):
    image, lm = astronaut
    fs = skin.face_skin(image, lm)
    assert fs.found and fs.model is not None
    assert np.allclose(fs.lab, lab(image))
    assert np.array_equal(fs.features, skin.feature_mask(lm, image.shape[:2]))
    for k in (50, 280):
        x, y = (int(v) for v in lm[k, :2])
        assert fs.weight[y, x] > 0.9
        assert np.linalg.norm(fs.shading[y, x] - fs.model.mean) < 12
    valid = np.ones(image.shape[:2], np.float32)
    valid[:, : int(lm[1, 0])] = 0   # the right half of the picture only
    half = skin.face_skin(image, lm, valid=valid)
    assert half.weight[valid == 0].max() == 0 and np.array_equal(
        half.weight[valid > 0], fs.weight[valid > 0])
    sigma = skin.SHADING_SCALE * face_height(lm)   # the skin outside the features only
    assert np.allclose(fs.shading, skin.skin_shading(fs.lab, fs.weight * (1 - fs.features),
                                                     sigma), atol=1e-4)
    given = np.zeros(image.shape[:2], np.float32)
    assert skin.face_skin(image, lm, features=given).features is given
    none = skin.face_skin(np.zeros((4, 4, 3), np.float32), lm * 0.001)
    assert not none.found and none.weight.max() == 0 and np.array_equal(none.shading, none.lab)
    assert none.weight.shape == (4, 4) and none.weight.dtype == np.float32
    assert np.array_equal(none.features, skin.feature_mask(lm * 0.001, (4, 4)))


def test_lower_face_is_the_oval_below_the_nose(hopper):
    image, lm = hopper
    shape = image.shape[:2]
    lower = skin.lower_face(lm, shape)
    h = face_height(lm)
    top = int(lm[2, 1] - 0.02 * h)
    assert lower[:top].max() == 0 and lower.dtype == np.float32
    assert lower[top + 1, int(lm[2, 0])] > 0.5   # just above the nose's base: it starts there
    soft = (lower > 0.05) & (lower < 0.95)   # feathered by 2 % of the face height
    assert 0.05 * (lower > 0.5).sum() < soft.sum() < 0.3 * (lower > 0.5).sum()
    for k in (200, 18, 175):   # chin and under the lip
        assert lower[int(lm[k, 1]), int(lm[k, 0])] > 0.85
    assert lower[int(lm[152, 1]) - 1, int(lm[152, 0])] < 0.5   # the jaw's edge is shrunk
    assert lower[int(lm[152, 1]) + 10:].max() == 0
    face = skin.region_mask(lm, shape, ["face"], forehead=0.0)
    assert (lower <= face + 0.2).all()


def test_fringe_finds_dark_strands_above_the_brows_only(hopper):
    image, lm = hopper
    frame = lab(image)
    h = face_height(lm)
    bands = []
    for k in (151, 205):   # forehead, cheek
        x, y = (int(v) for v in lm[k, :2])
        band = np.zeros(frame.shape[:2], bool)
        band[y - 1:y + 2, x - int(0.1 * h):x + int(0.1 * h)] = True
        frame[band] -= [16, 0, 0]
        bands.append(band)
    rgb = np.clip(lab_to_rgb(frame), 0, 1)
    found = skin.fringe(skin.face_skin(rgb, lm), lm)
    forehead, cheek = bands
    assert np.median(found[forehead]) > 0.9 and found[cheek].max() == 0.0
    clean = skin.fringe(skin.face_skin(image, lm), lm)
    x, y = (int(v) for v in lm[151, :2])
    assert clean[y - 5:y + 5, x - 20:x + 20].mean() < 0.1   # a bare forehead
    # feathered: the strands' neighbours take some of it, never more than the strand
    assert 0.05 < found[y + 4, x] < found[y, x]


def test_glasses_bridge_and_wears_glasses(hopper, astronaut):
    image, lm = hopper
    strength, colour = skin.glasses_bridge(lab(image), lm)
    assert strength > 15 and np.isclose(np.linalg.norm(colour), strength)
    worn = skin.wears_glasses(image, lm)
    assert worn is not None and worn.shape == (3,) and worn[0] < -5   # darker frames
    for name in (ASTRONAUT, "faces/obama/1.jpg", "faces/biden/1.jpg"):
        img, mesh = face(name) if name != ASTRONAUT else astronaut
        assert skin.glasses_bridge(lab(img), mesh)[0] < skin.GLASSES_BRIDGE
        assert skin.wears_glasses(img, mesh) is None
    # a dark bar painted over the astronaut's bridge: glasses
    img, mesh = astronaut
    painted = img.copy()
    y = int((mesh[168, 1] + mesh[6, 1]) / 2)
    x0, x1 = int(mesh[133, 0]), int(mesh[362, 0])
    painted[y - 1:y + 2, x0:x1] = 0.1
    found = skin.wears_glasses(painted, mesh)
    assert found is not None and found[0] < -20
    tiny = lm.copy()
    tiny[:, :2] *= 0.01   # eyes 1 px apart: no bridge to read
    s, c = skin.glasses_bridge(lab(image), tiny)
    assert s == 0.0 and not c.any()
    assert skin.wears_glasses(image, lm + [5000, 5000, 0]) is None   # outside the image


def test_glasses_frames_are_found_around_the_eyes(hopper):
    image, lm = hopper
    fs = skin.face_skin(image, lm)
    colour = skin.wears_glasses(image, lm)
    frames = skin.glasses_frames(fs, lm, colour)
    assert frames.dtype == np.float32 and frames.min() >= 0 and frames.max() <= 1
    h = face_height(lm)
    y = int((lm[168, 1] + lm[6, 1]) / 2)
    bridge = frames[y - int(0.05 * h):y + int(0.05 * h), int(lm[133, 0]):int(lm[362, 0])]
    assert bridge.max() > 0.9   # the bridge of her glasses
    assert frames[int(lm[152, 1]) - 30:].max() == 0   # the chin: outside the ring
    for k in (468, 473):   # the irises themselves are not frames
        assert frames[int(lm[k, 1]), int(lm[k, 0])] == 0
    assert 0.002 < (frames > 0.5).mean() < 0.1


def paint(image, lm, k, colour, size=0.12):
    out = image.copy()
    x, y = (int(v) for v in lm[k, :2])
    r = int(size * face_height(lm))
    out[y - r:y + r, x - r:x + r] = colour
    return out, (slice(y - r, y + r), slice(x - r, x + r))


def test_occluders_find_a_patch_over_the_cheek(astronaut):
    image, lm = astronaut
    for colour in ([0.35, 0.2, 0.12], [0.05, 0.05, 0.05]):   # a darker hand, a dark object
        covered, box = paint(image, lm, 205, colour)
        occ = skin.occlusion_mask(covered, lm)
        assert occ[box].mean() > 0.95
        assert occ.shape == image.shape[:2]
    clean = skin.occlusion_mask(image, lm)
    for k in (205, 425, 50, 280):
        _, box = paint(image, lm, k, 0, size=0.06)
        assert clean[box].max() == 0
    # thin lines are texture, not occluders
    lined = image.copy()
    x, y = (int(v) for v in lm[205, :2])
    lined[y:y + 2, x - 20:x + 20] = 0.05
    assert skin.occlusion_mask(lined, lm)[y:y + 2, x - 15:x + 15].max() == 0
    fs = skin.face_skin(image, lm)
    assert not skin.occluders(skin.FaceSkin(fs.lab, fs.weight, fs.features, None, fs.shading),
                              lm, np.ones(image.shape[:2], np.float32)).any()
    assert not skin.occlusion_mask(image, lm + [5000, 5000, 0]).any()


def test_an_occluder_grows_into_the_features_it_covers(astronaut):
    image, lm = astronaut
    covered, box = paint(image, lm, 14, [0.35, 0.2, 0.12], size=0.15)   # a hand over the mouth
    occ = skin.occlusion_mask(covered, lm)
    assert occ[int(lm[14, 1]), int(lm[14, 0])] > 0.99   # the lips under it too


def shifted(image, shift):
    return np.clip(lab_to_rgb(lab(image) + np.float32(shift)), 0, 1).astype(np.float32)


def box_of(image, lm, margin=0.1):
    h = face_height(lm)
    x0, y0 = np.maximum(lm[:, :2].min(0) - margin * h, 0).astype(int)
    x1, y1 = (lm[:, :2].max(0) + margin * h).astype(int)
    local = lm.copy()
    local[:, :2] -= (x0, y0)
    return np.ascontiguousarray(image[y0:y1, x0:x1]), local


@pytest.mark.parametrize("name", [ASTRONAUT, HOPPER])
def test_skin_swap_takes_the_targets_tone(name, astronaut, hopper):
    image, lm = astronaut if name == ASTRONAUT else hopper
    target, local = box_of(image, lm)
    source = shifted(target, (-15, 6, -8))   # the same face, another tone
    mask = np.ones(target.shape[:2], np.float32)
    out = skin.skin_swap(source, target, mask, local)
    assert out is not None and out.image.dtype == np.float32
    cheeks = skin.sample_mask(local, target.shape[:2]) & (skin.feature_mask(
        local, target.shape[:2]) < 0.01)
    same = skin.skin_swap(target, target, mask, local).image   # the face swapped onto itself
    if name == HOPPER:   # her cheeks are all skin: it is the target there
        assert np.linalg.norm(lab(same)[cheeks].mean(0) - lab(target)[cheeks].mean(0)) < 1
    before = np.linalg.norm(lab(source)[cheeks].mean(0) - lab(same)[cheeks].mean(0))
    after = np.linalg.norm(lab(out.image)[cheeks].mean(0) - lab(same)[cheeks].mean(0))
    assert before > 15 and after < 1.5
    # light 0 keeps the source's own shading across the face, its mean tone still the target's
    flat = skin.skin_swap(source, target, mask, local, light=0.0)
    assert np.linalg.norm(lab(flat.image)[cheeks].mean(0) - lab(same)[cheeks].mean(0)) < 2
    # the occlusion stays within the face oval (grown by its feathered pixel)
    oval = cv2.dilate((skin.region_mask(local, target.shape[:2], ["face"]) > 0).astype(
        np.uint8), np.ones((11, 11), np.uint8))
    assert out.occlusion[oval == 0].max() < 0.3
    # without exclusion or occlusion the same face comes back within a few L*a*b* units
    plain = skin.skin_swap(target, target, mask, local, exclude=False, occlusion=False)
    assert not plain.occlusion.any()
    assert np.abs(lab(plain.image) - lab(target))[cheeks].mean() < 2


def test_skin_swap_keeps_an_occluder_and_leaves_no_skin_as_none(astronaut):
    image, lm = astronaut
    target, local = box_of(image, lm)
    covered, box = paint(target, local, 205, [0.35, 0.2, 0.12])
    mask = np.ones(target.shape[:2], np.float32)
    out = skin.skin_swap(target, covered, mask, local)
    assert out.occlusion[box].mean() > 0.85
    inner = (slice(box[0].start + 3, box[0].stop - 3), slice(box[1].start + 3, box[1].stop - 3))
    assert (out.occlusion[inner] == 1.0).mean() > 0.8   # exactly the target's there
    assert not skin.skin_swap(target, covered, mask, local, occlusion=False).occlusion.any()
    speck = np.full((4, 4, 3), 0.5, np.float32)   # a face too small for a skin model
    dot = local * 0.001
    assert skin.skin_swap(speck, speck, np.ones((4, 4), np.float32), dot) is None


def test_skin_swap_cleans_a_painted_beard_unless_kept(astronaut):
    image, lm = astronaut
    target, local = box_of(image, lm)
    shape = target.shape[:2]
    chin = (skin.lower_face(local, shape) > 0.9) & (skin.feature_mask(local, shape) < 0.01)
    bearded = target.copy()
    bearded[chin] = [0.2, 0.14, 0.1]
    mask = np.ones(shape, np.float32)
    out = skin.skin_swap(target, bearded, mask, local)
    assert out.target is not None and out.target.dtype == np.float32
    assert out.occlusion[chin].mean() < 0.05   # a beard is not an occluder
    assert lab(out.target)[chin][:, 0].mean() > lab(bearded)[chin][:, 0].mean() + 25
    outside = skin.lower_face(local, shape) == 0
    assert np.allclose(out.target[outside], bearded[outside], atol=1e-6)
    kept = skin.skin_swap(target, bearded, mask, local, keep_beard=True)
    assert kept.occlusion[chin].mean() > 0.9 and kept.target is None
    clean = skin.skin_swap(target, target, mask, local)
    assert clean.target is None   # nothing to clean


def test_skin_swap_stats_hook_moves_the_tone(hopper):
    image, lm = hopper
    target, local = box_of(image, lm)
    mask = np.ones(target.shape[:2], np.float32)
    seen = []

    def brighter(measured):
        seen.append(measured.copy())
        return measured + [[0, 0, 0], [6, 0, 0]]   # the target's tone 6 L* lighter

    base = skin.skin_swap(target, target, mask, local)
    moved = skin.skin_swap(target, target, mask, local, stats=brighter)
    assert seen[0].shape == (2, 3) and np.allclose(seen[0][0], seen[0][1], atol=0.5)
    cheeks = skin.sample_mask(local, target.shape[:2]) & (skin.feature_mask(
        local, target.shape[:2]) < 0.01)
    gain = lab(moved.image)[cheeks].mean(0) - lab(base.image)[cheeks].mean(0)
    assert gain[0] == pytest.approx(6, abs=1.0) and np.abs(gain[1:]).max() < 1.5
    dimmer = skin.skin_swap(target, target, mask, local,
                            stats=lambda m: m + [[6, 0, 0], [0, 0, 0]])   # source lighter
    assert (lab(dimmer.image)[cheeks].mean(0) - lab(base.image)[cheeks].mean(0))[0] \
        == pytest.approx(-6, abs=1.0)


def test_skin_swap_takes_a_sources_glasses_out(hopper):
    image, lm = hopper
    target, local = box_of(image, lm)
    mask = np.ones(target.shape[:2], np.float32)
    colour = skin.wears_glasses(image, lm)
    with_frames = skin.skin_swap(target, target, mask, local).image
    without = skin.skin_swap(target, target, mask, local, glasses=colour).image
    scale = 128 / face_height(local)
    small = local.copy()
    small[:, :2] = (local[:, :2] + 0.5) * scale - 0.5
    fs = skin.face_skin(cv2.resize(target, None, fx=scale, fy=scale,
                                   interpolation=cv2.INTER_AREA), small)
    frames = cv2.resize(skin.glasses_frames(fs, small, colour), target.shape[1::-1]) > 0.9
    frames &= skin.feature_mask(local, target.shape[:2]) < 0.01   # the bridge, outside the eyes
    assert frames.sum() > 50
    dark = lab(target)[frames][:, 0].mean()
    took = lab(without)[frames][:, 0].mean()   # the frames took the skin's shading ...
    assert took > dark + 10 and took > lab(with_frames)[frames][:, 0].mean() + 2.5   # ... more
    # learned masks replace the colour model: no frame search then
    own = np.ones(target.shape[:2], np.float32)
    learned = skin.skin_swap(target, target, mask, local, glasses=colour, source_face=own)
    assert abs(lab(learned.image)[frames][:, 0].mean() - dark) < 1


def test_skin_swap_with_learned_masks(astronaut):
    image, lm = astronaut
    target, local = box_of(image, lm)
    shape = target.shape[:2]
    mask = np.ones(shape, np.float32)
    visible = np.ones(shape, np.float32)
    x, y = (int(v) for v in local[205, :2])
    visible[y - 3:y + 3, x - 3:x + 3] = 0   # a small thing the model sees on the cheek
    out = skin.skin_swap(target, target, mask, local, target_visible=visible)
    assert out.occlusion[y - 3:y + 3, x - 3:x + 3].min() == 1.0   # kept however thin
    assert out.occlusion[y + 8:y + 20, x - 3:x + 3].max() == 0
    nothing = np.zeros(shape, np.float32)   # no own face at all: skin shading everywhere
    flat = skin.skin_swap(target, target, mask, local, source_face=nothing).image
    cheeks = skin.sample_mask(local, shape) & (skin.feature_mask(local, shape) < 0.01)
    assert lab(flat)[cheeks][:, 0].std() < 0.6 * lab(target)[cheeks][:, 0].std()
    eye = (int(local[468, 1]), int(local[468, 0]))   # features always travel
    assert np.abs(flat[eye] - target[eye]).max() < 0.05


def test_occlusion_mask_from_learned_maskers(astronaut):
    from face_pipeline.models.maskers import OCCLUSION, FaceMasker
    image, lm = astronaut
    covered, box = paint(image, lm, 205, [0.1, 0.2, 0.9])   # blue
    not_blue = FaceMasker("stand-in", OCCLUSION, 128, "ffhq_512",
                          lambda crop: (crop[..., 2] < 0.8).astype(np.float32))
    occ = skin.occlusion_mask(covered, lm, [not_blue])
    inner = (slice(box[0].start + 6, box[0].stop - 6), slice(box[1].start + 6, box[1].stop - 6))
    assert occ[inner].min() == 1.0
    x, y = (int(v) for v in lm[425, :2])
    assert occ[y - 5:y + 5, x - 5:x + 5].max() == 0   # the other cheek is clean
    face = skin.region_mask(lm, image.shape[:2], ["face"])
    grown = cv2.dilate((face > 0).astype(np.uint8), np.ones((5, 5), np.uint8))
    assert occ[grown == 0].max() == 0   # over the face oval only
    everything = FaceMasker("stand-in", OCCLUSION, 128, "ffhq_512",
                            lambda crop: np.ones(crop.shape[:2], np.float32))
    assert not skin.occlusion_mask(covered, lm, [everything]).any()


def test_glasses_readings_match_the_documented_values(hopper, astronaut):
    """The numbers GLASSES_BRIDGE's docstring quotes (Hopper scaled to ANALYSIS_HEIGHT 17.8,
    the astronaut 2.6), pinned so that a change of the strip, the window or the scaling shows;
    an alpha channel is ignored."""
    image, lm = hopper
    colour = skin.wears_glasses(image, lm)
    assert np.linalg.norm(colour) == pytest.approx(17.8, abs=0.1)
    rgba = np.dstack([image, np.full(image.shape[:2], 0.3, np.float32)])
    assert np.allclose(skin.wears_glasses(rgba, lm), colour, atol=1e-4)
    assert skin.glasses_bridge(lab(image), lm)[0] == pytest.approx(19.52, abs=0.05)
    img, mesh = astronaut   # 104 px high: read at its own size
    assert skin.glasses_bridge(lab(img), mesh)[0] == pytest.approx(2.60, abs=0.05)


def test_learned_occluders_are_kept_however_small(astronaut):
    """The learned masks are trusted as they are: a 4 px patch they see is an occluder (the
    colour model's opening would drop it), grown by a pixel."""
    from face_pipeline.models.maskers import OCCLUSION, FaceMasker
    image, lm = astronaut
    x, y = (int(v) for v in lm[205, :2])
    covered = image.copy()
    covered[y - 2:y + 2, x - 2:x + 2] = [0.1, 0.2, 0.9]
    not_blue = FaceMasker("stand-in", OCCLUSION, 512, "ffhq_512",
                          lambda crop: (crop[..., 2] < 0.8).astype(np.float32))
    occ = skin.occlusion_mask(covered, lm, [not_blue])
    assert occ.dtype == np.float32
    assert occ[y - 1:y + 1, x - 1:x + 1].min() == 1.0
    assert occ[y - 12:y + 12, x - 12:x + 12].sum() < 400   # and nothing much around it
    assert occ[y - 12, x - 12] == 0 and occ[y + 12, x + 12] == 0


def test_glasses_frames_stay_in_the_ring_and_go_round_it(hopper):
    """Frames are searched in an ellipse of GLASSES_RING eye widths round each eye (tilted
    with the eye line) and a band between the eyes; Grace Hopper's rims are found on every
    side of both eyes."""
    from face_pipeline.vision import mesh_topology as topo
    image, lm = hopper
    fs = skin.face_skin(image, lm)
    frames = skin.glasses_frames(fs, lm, skin.wears_glasses(image, lm))
    ring = np.zeros(frames.shape, np.uint8)
    tilt = np.degrees(np.arctan2(lm[263, 1] - lm[33, 1], lm[263, 0] - lm[33, 0]))
    centres = []
    for eye, (inner, outer) in ((topo.RIGHT_EYE, (133, 33)), (topo.LEFT_EYE, (362, 263))):
        c = lm[list(eye), :2].mean(0)
        width = np.hypot(*(lm[inner, :2] - lm[outer, :2]))
        cv2.ellipse(ring, (int(c[0]), int(c[1])), (int(1.15 * width), int(width)), tilt,
                    0, 360, 1, -1)
        centres.append((c, width))
        ys, xs = np.nonzero(frames > 0.5)
        dx, dy = xs - c[0], ys - c[1]
        near = np.hypot(dx / 1.15, dy) < width
        for side in (dx > 0.5 * width, dx < -0.5 * width, dy > 0.4 * width, dy < -0.4 * width):
            assert (near & side).sum() > 5
    (a, wa), (b, wb) = centres
    cv2.line(ring, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, int(min(wa, wb)))
    assert frames[ring == 0].max() == 0
    assert (frames[ring > 0] > 0.5).mean() > 0.05
