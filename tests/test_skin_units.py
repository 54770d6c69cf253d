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
    # over the nose too (inside the features, not the eyes and brows), they are replaced
    h = face_height(local)
    eyes = skin.region_mask(local, target.shape[:2], ["eyes", "brows"], grow=0.015 * h,
                            blur=0.015 * h)
    nose = cv2.resize(skin.glasses_frames(fs, small, colour), target.shape[1::-1]) > 0.9
    nose &= (skin.feature_mask(local, target.shape[:2]) > 0.9) & (eyes < 0.01)
    assert nose.sum() > 50
    assert abs(lab(with_frames)[nose][:, 0].mean() - lab(target)[nose][:, 0].mean()) < 1
    assert abs(lab(without)[nose][:, 0].mean() - lab(target)[nose][:, 0].mean()) > 4
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


def _hair_share(out, bearded, local):
    """How far ``skin_swap``'s cleaned target moved each pixel of ``bearded`` toward the
    target's skin shading (0: kept, 1: replaced): the beard's per-pixel strength."""
    tgt = skin.face_skin(bearded, local)
    toward = lab_to_rgb(tgt.shading) - bearded
    return ((out.target - bearded) * toward).sum(-1) / np.maximum((toward ** 2).sum(-1), 1e-9), tgt


def _chin_bands(target, local, colours):
    """``target`` with the chin (lower face, outside the features) painted in vertical bands
    of the L*a*b* ``colours``; the bands (without their 2 px edges)."""
    shape = target.shape[:2]
    chin = (skin.lower_face(local, shape) > 0.99) & (skin.feature_mask(local, shape) < 0.01)
    xs = np.nonzero(chin)[1]
    edges = np.linspace(xs.min(), xs.max() + 1, len(colours) + 1).astype(int)
    painted, bands = lab(target), []
    for a, b, colour in zip(edges[:-1], edges[1:], colours):
        band = chin.copy()
        band[:, :a + 2] = False
        band[:, b - 2:] = False
        painted[band] = colour
        bands.append(band)
    return np.clip(lab_to_rgb(painted), 0, 1).astype(np.float32), bands


def test_skin_swap_grades_a_beard_by_how_much_darker_it_is(astronaut):
    """A grey chin is facial hair in proportion to how much darker than the skin model it is:
    0 up to BEARD_DARKER / 2 L* units, 1 from 1.5 x BEARD_DARKER, linear between."""
    image, lm = astronaut
    target, local = box_of(image, lm)   # 104 px high: analysed at its own size
    mean = skin.face_skin(target, local).model.mean
    darker = [2.0, 6.0, 8.0, 10.0, 16.0]
    bearded, bands = _chin_bands(target, local, [[mean[0] - d, 0, 0] for d in darker])
    out = skin.skin_swap(target, bearded, np.ones(target.shape[:2], np.float32), local,
                         occlusion=False)
    assert not out.occlusion.any() and out.target is not None
    hair, tgt = _hair_share(out, bearded, local)
    for band in bands:
        assert tgt.weight[band].max() == 0   # none of it is skin
        below = tgt.model.mean[0] - lab(bearded)[band][:, 0].mean()
        expected = np.clip(below / skin.BEARD_DARKER - 0.5, 0, 1)
        assert np.median(hair[band]) == pytest.approx(expected, abs=0.03)
    assert np.median(hair[bands[0]]) == 0 and np.median(hair[bands[-1]]) == pytest.approx(1)
    assert 0.2 < np.median(hair[bands[1]]) < np.median(hair[bands[3]]) < 0.85


def test_skin_swap_beard_is_grey_or_black_hair(astronaut):
    """16 L* darker than the skin: facial hair with at most BEARD_CHROMA of the skin's chroma,
    not with more (a hand, a shadow keeps the skin's colour) -- unless it is darker than
    BEARD_BLACK of the skin's lightness (dark hair)."""
    image, lm = astronaut
    target, local = box_of(image, lm)
    mean = skin.face_skin(target, local).model.mean
    chroma = np.hypot(*mean[1:])
    hue = mean[1:] / chroma
    colours = [[mean[0] - 16, *(0.5 * chroma * hue)], [mean[0] - 16, *(0.7 * chroma * hue)],
               [0.37 * mean[0], *(0.9 * chroma * hue)], [0.43 * mean[0], *(0.9 * chroma * hue)]]
    bearded, bands = _chin_bands(target, local, colours)
    out = skin.skin_swap(target, bearded, np.ones(target.shape[:2], np.float32), local,
                         occlusion=False)
    hair, tgt = _hair_share(out, bearded, local)
    painted = lab(bearded)
    skin_chroma = np.hypot(*tgt.model.mean[1:])
    for band, expected in zip(bands, (1, 0, 1, 0)):
        c = np.hypot(painted[band][:, 1], painted[band][:, 2]).mean() / skin_chroma
        light = painted[band][:, 0].mean() / tgt.model.mean[0]
        assert (c <= skin.BEARD_CHROMA or light <= skin.BEARD_BLACK) == bool(expected)
        assert np.median(hair[band]) == pytest.approx(expected, abs=0.02)


def test_skin_shading_of_one_colour_is_that_colour_whatever_the_weight():
    """Normalised convolution: an even colour comes back exactly wherever skin is near,
    however uneven the weight (the weight and the weighted image are resampled and blurred
    alike); far from any skin it is still the colour, up to the floors."""
    h, w = 90, 150
    rng = np.random.default_rng(3)
    weight = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3)
    weight = np.clip((weight - weight.mean()) * 8 + 0.5, 0, 1).astype(np.float32)
    weight[:, 100:] = 0   # no skin on the right
    colour = np.float32([55, 12, -7])
    image = np.zeros((h, w, 3), np.float32) + colour
    for sigma in (3.0, 8.0, 13.0):
        out = skin.skin_shading(image, weight, sigma)
        assert np.abs(out[:, :100] - colour).max() < 1e-3
        assert np.abs(out - colour).max() < 0.5


def test_skin_shading_is_a_gaussian_of_sigma():
    """With skin everywhere, the shading is the image's Gaussian low-pass of ``sigma`` px:
    exact up to sigma 8 (full resolution), within 0.1 L* beyond (computed at 1 / (sigma // 4)
    the size); a blob spreads equally across and down."""
    h, w = 96, 160
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    blob = np.exp(-((xs - 70) ** 2 + (ys - 50) ** 2) / (2 * 5.0 ** 2)).astype(np.float32)
    image = np.dstack([40 + 30 * blob, 10 + 0 * blob, 5 - 20 * blob]).astype(np.float32)
    ones = np.ones((h, w), np.float32)
    for sigma, exact in ((4.0, True), (7.9, True), (8.0, False), (12.0, False), (21.0, False)):
        out = skin.skin_shading(image, ones, sigma)
        ref = cv2.GaussianBlur(image, (0, 0), sigma)
        error = np.abs(out - ref).max()
        assert error < 1e-4 if exact else 0.02 < error < 0.12
        d = out[..., 0] - 40   # second moments of the blurred blob: sqrt(5^2 + sigma^2)
        spread = [np.sqrt((d * (v - c) ** 2).sum() / d.sum()) for v, c in ((xs, 70), (ys, 50))]
        assert spread == pytest.approx([np.hypot(5, sigma)] * 2, rel=0.03)
    out = skin.skin_shading(image, ones, 8.0)   # at half size: the peak 0.1 under the exact one
    assert out[50, 70, 0] - 40 == pytest.approx(8.334, abs=0.02)


def test_occlusion_mask_reaches_the_face_ovals_edges_and_the_frames(astronaut):
    """The face's box is the mesh's bounds grown by 2 px (3 past the far side), enough for an
    occluder's grown, feathered edge: a dark patch over the chin is covered down to 2 rows
    under the mesh, one over the leftmost point from its column; a face cut by the frame
    (left) in a non-square picture is covered up to the frame's first column."""
    image, lm = astronaut
    covered, _ = paint(image, lm, 152, [0.05, 0.05, 0.05])   # over the chin
    occ = skin.occlusion_mask(covered, lm)
    bottom, x = int(np.ceil(lm[:, 1].max())), int(lm[152, 0])
    assert occ[bottom - 4:bottom + 2, x - 3:x + 4].min() == 1.0
    assert occ[bottom + 2, x - 3:x + 4].max() == pytest.approx(0.5)   # the feathered row
    assert occ[bottom + 3:].max() == 0
    k = int(lm[:, 0].argmin())
    covered, _ = paint(image, lm, k, [0.05, 0.05, 0.05])   # over the leftmost point
    occ = skin.occlusion_mask(covered, lm)
    left, y = int(np.floor(lm[k, 0])), int(lm[k, 1])
    assert occ[y - 3:y + 4, left:left + 4].min() == 1.0
    top, cut = 100, left + 6   # the frame cuts the face 6 px right of its leftmost point
    framed = np.ascontiguousarray(covered[top:400, cut:450])
    mesh = lm.copy()
    mesh[:, :2] -= (cut, top)
    occ = skin.occlusion_mask(framed, mesh)
    assert occ.shape == framed.shape[:2] == (300, 450 - cut)
    assert occ[y - top - 3:y - top + 4, :3].min() == 1.0


def test_solid_opens_thin_parts_then_grows_and_feathers_a_pixel():
    """_solid: weights over 0.5 only; parts thinner than OCCLUDER_MIN face heights dropped (an
    opening by a disc 2 * round(OCCLUDER_MIN * height / 2) + 1 px across, at least 3 px);
    what stays is grown by one pixel (1) and feathered by one more (0.25 on a straight
    edge), the same across and down."""
    weight = np.zeros((60, 120), np.float32)
    weight[10:50, 10:18] = 1     # 8 px wide: under the 9 px disc of a 100 px face
    weight[10:50, 30:39] = 1     # 9 px wide: stays
    weight[10:50, 60:70] = 0.5   # not over 0.5
    weight[10:50, 90:92] = 0.9   # 2 px wide
    weight[10:50, 100:103] = 0.9   # 3 px wide
    out = skin._solid(weight, 100.0)
    assert out.dtype == np.float32
    edge = [0, 0.25] + [1] * 11 + [0.25, 0]   # the 9 px bar grown by 1, feathered by 1
    assert np.allclose(out[30, 27:42], edge)
    assert np.allclose(out[7:22, 34], edge[:8] + [1] * 7)   # its top (rounded by the disc)
    assert np.allclose(out[38:53, 34], [1] * 7 + edge[-8:])
    out[:, 27:42] = 0
    assert not out.any()   # the rest is thinner or not over 0.5
    kept = skin._solid(weight, 100.0, thin=False)   # nothing dropped but the 0.5 weights
    assert np.allclose(kept[30, 7:22], [0, 0.25] + [1] * 10 + [0.25, 0, 0])
    assert np.allclose(kept[30, 87:95], [0, 0.25, 1, 1, 1, 1, 0.25, 0])
    assert not kept[:, 55:75].any()
    small = skin._solid(weight, 10.0)   # a 10 px face: a 3 px disc (the floor)
    assert np.allclose(small[30, 97:106], [0, 0.25, 1, 1, 1, 1, 1, 0.25, 0])
    assert not small[:, 85:96].any()


def test_fringe_is_the_feathered_smoothstep_of_how_much_darker_than_the_shading():
    """On a synthetic flat forehead (L* 70, all skin, the shading 70): strands 20 L* darker are
    1, 11 darker 0.5 (half way up FRINGE_DARKER), times 1 - features; exactly 8 darker they
    are 0 and left out of the shading (so they do not lower it under their neighbours);
    feathered by FRINGE_FEATHER face heights, never below itself; nothing under the brows."""
    from face_pipeline.vision import mesh_topology as topo
    image, lm = face(HOPPER)
    shape = image.shape[:2]
    h = face_height(lm)
    flat = np.zeros(shape + (3,), np.float32) + [70, 10, 15]
    colour = flat.copy()
    x, y = (int(v) for v in lm[151, :2])
    colour[y - 4:y + 4, x - 30:x - 22, 0] = 50      # 20 darker
    colour[y - 3:y + 3, x + 10:x + 40, 0] = 59      # 11 darker
    colour[y - 12:y + 12, x - 80:x - 50, 0] = 62    # exactly 8 darker ...
    colour[y - 2:y + 2, x - 70:x - 60, 0] = 59      # ... round an 11 darker strand
    features = np.zeros(shape, np.float32)
    features[y - 3:y + 3, x + 30:x + 40] = 0.5
    fs = skin.FaceSkin(colour, np.ones(shape, np.float32), features, None, flat)
    out = skin.fringe(fs, lm)
    found = np.zeros(shape, np.float32)
    found[y - 4:y + 4, x - 30:x - 22] = 1
    found[y - 3:y + 3, x + 10:x + 40] = 0.5
    found[y - 3:y + 3, x + 30:x + 40] = 0.25
    found[y - 2:y + 2, x - 70:x - 60] = 0.5
    expected = np.maximum(found, cv2.GaussianBlur(found, (0, 0), skin.FRINGE_FEATHER * h))
    near = (slice(y - 30, y + 14), slice(x - 100, x + 60))
    assert np.abs(out - expected)[near].max() < 1e-3
    assert out[y, x - 26] == 1 and out[y, x + 20] == pytest.approx(0.5, abs=1e-3)
    assert 0.2 < out[y, x - 32] == pytest.approx(out[y - 6, x - 26], abs=1e-3)   # feathered alike
    out[near] = 0
    brows = int(lm[[*topo.RIGHT_BROW, *topo.LEFT_BROW], 1].min())
    assert out[brows + 1:].max() < 0.01 and out.max() < 0.05


def test_occluders_grow_into_alike_features_within_their_reach():
    """A synthetic face (unit model: the distance is the L*a*b* distance; a 203 px face, so
    blobs under OCCLUDER_MIN x 203 = 16 px are texture): a far 40 px block is an occluder; a
    feature of its colour beside it is covered up to 16 px from it (not where ``where`` is
    0), one of another colour is not; a 4 px strip out of it (not a feature) is dropped as
    thin, and a block exactly OCCLUDER_DISTANCE from the skin is not an occluder."""
    _, lm = face(HOPPER)
    assert int(skin.OCCLUDER_MIN * face_height(lm)) == 16
    H, W = 160, 240
    mean = np.array([60.0, 10.0, 15.0])
    colour = np.zeros((H, W, 3), np.float32) + mean.astype(np.float32)
    features = np.zeros((H, W), np.float32)
    colour[60:100, 100:140] = [30, 0, 0]                               # the occluder
    colour[60:100, 140:180] = [32, 1, 1]
    features[60:100, 140:180] = 1                                      # a feature alike, right
    colour[60:100, 60:100] = [60, 40, 40]
    features[60:100, 60:100] = 1                                       # not alike, left
    colour[100:130, 118:122] = [30, 0, 0]                              # a thin strip down
    colour[20:50, 20:60] = [55, 10, 15]                                # exactly 5 off
    where = np.ones((H, W), np.float32)
    where[90:100, 140:180] = 0
    fs = skin.FaceSkin(colour, np.ones((H, W), np.float32), features,
                       skin.SkinModel(mean, np.eye(3)), colour)
    out = skin.occluders(fs, lm, where)
    # across: the block (grown by a pixel twice) and the alike feature up to 16 px past it
    assert np.array_equal(out[80, 95:162], [0, 0, 0.25] + [1] * 60 + [0.25, 0, 0, 0])
    assert np.array_equal(out[55:112, 120], [0, 0, 0.25] + [1] * 45 + [0.25] + [0] * 8)
    assert np.array_equal(out[85:100, 150], [1] * 6 + [0.25] + [0] * 8)   # where is 0
    assert out[20:50, 20:60].max() == 0 and out[104:, :].max() == 0
    assert out[:, :97].max() == 0 and out[:, 159:].max() == 0
    assert skin.occluders(fs, lm, np.zeros((H, W), np.float32)).max() == 0


def _tilted(lm, degrees):
    """The mesh turned by ``degrees`` about the nose bridge (point 168)."""
    t = np.radians(degrees)
    turn = np.float32([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    out = lm.copy()
    out[:, :2] = (lm[:, :2] - lm[168, :2]) @ turn.T + lm[168, :2]
    return out


def test_glasses_frames_ring_lines_and_contrast_on_a_synthetic_face():
    """Grace Hopper's mesh tilted 15 degrees over synthetic colours (flat L*a*b* 70, 10, 15,
    the shading flat too; the frames' colour 20 L* darker): where every pixel is 40 off the
    shading, the frames are exactly the ring (an ellipse GLASSES_RING eye widths round each
    eye, along the eye line, and the band between the eyes) outside the grown eyes and brows;
    a 1 px line half the frame's offset darker is a line grown by one pixel each way, as
    strong as its offset from its surroundings at GLASSES_SCALE makes it; inside a block 15
    darker (half way up GLASSES_CONTRAST) the frames are 0.5."""
    from face_pipeline.vision import mesh_topology as topo
    image, lm = face(HOPPER)
    shape = image.shape[:2]
    mesh = _tilted(lm, 15)
    h = face_height(mesh)
    flat = np.zeros(shape + (3,), np.float32) + [70, 10, 15]
    ones, zeros = np.ones(shape, np.float32), np.zeros(shape, np.float32)
    frame = np.float32([-20, 0, 0])
    out = skin.glasses_frames(skin.FaceSkin(flat + [40, 0, 0], ones, zeros, None, flat),
                              mesh, frame)
    ring = np.zeros(shape, np.uint8)
    tilt = np.degrees(np.arctan2(mesh[263, 1] - mesh[33, 1], mesh[263, 0] - mesh[33, 0]))
    assert tilt == pytest.approx(12.06, abs=0.01)
    centres, widths = [], []
    for eye, (inner, outer) in ((topo.RIGHT_EYE, (133, 33)), (topo.LEFT_EYE, (362, 263))):
        c = mesh[list(eye), :2].mean(0)
        width = np.hypot(*(mesh[inner, :2] - mesh[outer, :2]))
        cv2.ellipse(ring, (int(c[0]), int(c[1])), (int(1.15 * width), int(width)), tilt,
                    0, 360, 1, -1)
        centres.append((int(c[0]), int(c[1])))
        widths.append(width)
    cv2.line(ring, *centres, 1, int(min(widths)))
    grow = skin.FEATURE_GROW * h
    kept = skin.region_mask(mesh, shape, ["eyes", "brows"], grow=grow, blur=grow)
    assert np.abs(out - ring * (1 - kept)).max() < 1e-6
    colour = flat.copy()
    bx, by = (int(v) for v in (mesh[6, :2] + mesh[168, :2]) / 2)
    colour[by, bx - 10:bx + 10, 0] -= 10   # a line on the bridge
    ex, ey = (int(v) for v in mesh[list(topo.RIGHT_EYE), :2].mean(0))
    qy = int(ey + 0.6 * widths[0])
    colour[qy - 15:qy + 15, ex - 15:ex + 15, 0] -= 15   # a block under the right eye
    out = skin.glasses_frames(skin.FaceSkin(colour, ones, zeros, None, flat), mesh, frame)
    assert ring[by, bx] and kept[by, bx] == 0 and ring[qy, ex] and kept[qy, ex] == 0
    around = cv2.GaussianBlur(colour, (0, 0), skin.GLASSES_SCALE * h)
    share = (around[by, bx - 1:bx + 2, 0] - colour[by, bx - 1:bx + 2, 0]) / 20
    expected = skin.smoothstep(share, skin.GLASSES_LINE).max()
    assert 0.6 < expected < 0.9
    assert np.allclose(out[by - 1:by + 2, bx - 1:bx + 2], expected, atol=2e-3)
    assert out[by - 2, bx - 3:bx + 4].max() == 0 and out[by + 2, bx - 3:bx + 4].max() == 0
    assert out[by, bx + 10] > 0.5 and out[by, bx + 11] == 0 and out[by, bx - 11] > 0.5
    assert np.allclose(out[qy - 5:qy + 5, ex - 5:ex + 5], 0.5, atol=1e-6)


def _bridge_strip_frame():
    """Grace Hopper's mesh tilted 15 degrees, its frame's shape, and the glasses-bridge strip's
    own coordinates per pixel: ``u`` across (along the inner eye corners' line, from their
    midpoint), ``v`` down; the corners' distance ``span`` and ``v`` of points 9 and 197."""
    image, lm = face(HOPPER)
    shape = image.shape[:2]
    mesh = _tilted(lm, 15)
    right, left = mesh[133, :2], mesh[362, :2]
    axis = left - right
    span = np.hypot(*axis)
    across, down = axis / span, np.array([-axis[1], axis[0]]) / span
    centre = (right + left) / 2
    top, bottom = ((mesh[k, :2] - centre) @ down for k in (9, 197))
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    u = (xs - centre[0]) * across[0] + (ys - centre[1]) * across[1]
    v = (xs - centre[0]) * down[0] + (ys - centre[1]) * down[1]
    return mesh, shape, span, u, v, top, bottom


def test_glasses_bridge_reads_the_strip_between_the_eyes_only():
    """glasses_bridge on synthetic colours (flat L*a*b* 70, 10, 15) under Grace Hopper's mesh
    tilted 15 degrees: lines 40 L* darker, 3 px high, drawn in the strip's own frame (across:
    along the inner eye corners' line, the strip half their distance wide; down: from point 9
    to point 197).  A line over the whole width reads ~40; over a quarter of it ~10; just
    outside the strip's sides, above point 9 or below point 197 nothing; at its top and
    bottom rows it is read in full."""
    mesh, shape, span, u, v, top, bottom = _bridge_strip_frame()
    mid, inside = (top + bottom) / 2, np.abs(u) < span / 4

    def reading(where):
        painted = np.zeros(shape + (3,), np.float32) + [70, 10, 15]
        painted[where] -= [40, 0, 0]
        strength, colour = skin.glasses_bridge(painted, mesh)
        assert np.isclose(np.linalg.norm(colour), strength) and not colour[1:].any()
        assert colour[0] <= 0
        return strength

    band = np.abs(v - mid) < 1.5
    assert reading(inside & band) == pytest.approx(38.91, abs=0.05)
    assert reading((u > -span / 4) & (u < -span / 8) & band) == pytest.approx(10.36, abs=0.05)
    assert reading((u < -span / 4 - 1) & (u > -span / 4 - 8) & band) == 0
    assert reading((u > span / 4 + 1) & (u < span / 4 + 8) & band) == 0
    assert reading(inside & (v < top - 1) & (v > top - 4)) == 0
    assert reading(inside & (v > bottom + 1) & (v < bottom + 4)) == 0
    assert reading(inside & (v > top + 1) & (v < top + 4)) == pytest.approx(39.13, abs=0.05)
    assert reading(inside & (v < bottom - 1) & (v > bottom - 4)) == pytest.approx(39.74, abs=0.05)


def test_wears_glasses_reads_the_bridge_at_the_analysis_height():
    """A 2 px line 30 L* darker across the bridge of Grace Hopper's tilted mesh (203 px high)
    on flat colours: read at ANALYSIS_HEIGHT (scaled by 128 / 203 from a crop 0.1 face
    heights round the mesh) it is ~16 L*, at full size ~29; the same wherever the face is
    in the frame by whole pixels, the crop starting at the frame's edge when the face is cut
    by it (pinned: the resampling's phase then moves the reading)."""
    mesh, shape, span, u, v, top, bottom = _bridge_strip_frame()
    painted = np.zeros(shape + (3,), np.float32) + [70, 10, 15]
    painted[(np.abs(u) < span / 4) & (np.abs(v - (top + bottom) / 2) < 1.0)] -= [30, 0, 0]
    rgb = np.clip(lab_to_rgb(painted), 0, 1).astype(np.float32)
    colour = skin.wears_glasses(rgb, mesh)
    assert np.linalg.norm(colour) == pytest.approx(16.22, abs=0.01) and colour[0] < -16
    assert skin.glasses_bridge(lab(rgb), mesh)[0] == pytest.approx(29.08, abs=0.01)
    for dx, dy in ((1, 0), (3, 2)):
        moved = mesh.copy()
        moved[:, :2] += (dx, dy)
        assert np.allclose(skin.wears_glasses(np.roll(rgb, (dy, dx), (0, 1)), moved), colour,
                           atol=1e-4)
    h = face_height(mesh)
    x0, y0 = np.floor(mesh[:, :2].min(0) - 0.1 * h).astype(int)
    for (dx, dy), expected in (((5, 5), 16.287), ((5, 6), 16.862), ((7, 3), 16.453)):
        cut = mesh.copy()
        cut[:, :2] -= (x0 + dx, y0 + dy)
        found = skin.wears_glasses(np.ascontiguousarray(rgb[y0 + dy:, x0 + dx:]), cut)
        assert np.linalg.norm(found) == pytest.approx(expected, abs=0.005)


def test_skin_swap_stats_hook_sees_the_means_over_the_targets_skin_inside_the_warp(astronaut):
    """The stats hook is given the mean skin shading of the source and of the target over the
    target's skin (weight over 0.5) where the warp is defined (mask over 0.5), and the tone
    moves by what it returns minus that: a hook returning fixed tones sets the change."""
    image, lm = astronaut
    target, local = box_of(image, lm)   # 104 px high: analysed at its own size
    shape = target.shape[:2]
    source = shifted(target, (-15, 6, -8))
    mask = np.ones(shape, np.float32)
    mask[:, shape[1] // 2:] = 0.5   # the warp only counts on the left half
    seen, used = [], np.array([[60.0, 5, 5], [70.0, 12, 20]])

    def fixed(measured):
        seen.append(measured.copy())
        return used

    base = skin.skin_swap(source, target, mask, local)
    out = skin.skin_swap(source, target, mask, local, stats=fixed)
    features = skin.feature_mask(local, shape)
    src = skin.face_skin(source, local, valid=mask, features=features)
    tgt = skin.face_skin(target, local, features=features)
    inside = (mask > 0.5) & (tgt.weight > 0.5)
    measured = np.array([src.shading[inside].mean(0), tgt.shading[inside].mean(0)])
    assert len(seen) == 1 and np.allclose(seen[0], measured, atol=1e-3)
    assert seen[0][1, 0] - seen[0][0, 0] > 10   # the source is darker
    cheeks = skin.sample_mask(local, shape) & (features < 0.01) & (mask > 0.5)
    gain = lab(out.image)[cheeks].mean(0) - lab(base.image)[cheeks].mean(0)
    expected = (used[1] - measured[1]) - (used[0] - measured[0])   # -5.1, 13.0, 7.0
    assert np.allclose(gain, expected, atol=0.4)


def test_lower_face_cut_at_the_nose_wherever_the_face_is_in_the_frame(hopper):
    """The cut just above the nose's base is clipped to the frame: with the nose's base above
    the frame the whole visible lower face stays (from row 0); in a frame taller than wide
    it is still at the nose (rows, not columns)."""
    image, lm = hopper
    h = face_height(lm)
    raised = lm.copy()
    raised[:, 1] -= lm[2, 1] + 5   # the nose's base 5 rows above the frame
    assert skin.lower_face(raised, (400, 512))[0].max() > 0.5
    lowered = lm.copy()
    lowered[:, 1] += 300   # the nose's base at row 553 of a 1000 x 512 frame
    tall = skin.lower_face(lowered, (1000, 512))
    top = int(lowered[2, 1] - 0.02 * h)
    assert top > 512 and tall[:top].max() == 0 and tall[top:top + 3].min(1).max() == 0
    assert tall[top:top + 3].max() > 0.99


def test_feature_mask_is_feathered(hopper):
    """feature_mask is feathered by FEATURE_GROW face heights: a soft band round the
    features, not a hard edge."""
    image, lm = hopper
    feats = skin.feature_mask(lm, image.shape[:2])
    soft = (feats > 0.05) & (feats < 0.95)
    assert soft.sum() > 0.3 * (feats > 0.5).sum()


def _noisy(seed=5, shape=(120, 180)):
    """A ramp (L* 30 -> 70 left to right, 20 more in the lower half) with noise of 10 L*."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    image = np.dstack([30 + 40 * xs / shape[1] + 20 * (ys > shape[0] / 2), 10 + 0 * xs,
                       10 + 0 * xs]).astype(np.float32)
    return image + rng.normal(0, 10, image.shape).astype(np.float32), ys, xs


def test_skin_shading_at_a_reduced_size_averages_the_pixels_it_drops():
    """At sigma 12 the shading is computed at a third of the size: area-averaged, so even on
    noise it stays within 0.3 L* of the full-size Gaussian (point sampling would not)."""
    image, _, _ = _noisy()
    image[..., 0] += np.random.default_rng(6).normal(0, 10, image.shape[:2]).astype(np.float32)
    ones = np.ones(image.shape[:2], np.float32)
    for sigma in (12.0, 13.0):
        out = skin.skin_shading(image, ones, sigma)
        ref = cv2.GaussianBlur(image, (0, 0), sigma)
        assert np.abs(out - ref)[20:-20, 20:-20].max() < 0.3


def test_skin_shading_fills_a_hole_from_hole_scale_times_sigma():
    """Inside a skin hole wider than sigma (no skin within its reach) the shading is the
    normalised convolution at HOLE_SCALE x sigma -- the surrounding skin's, not the image's
    overall mean; a weight totalling under 1 still gives the weighted mean far from it."""
    image, ys, xs = _noisy()
    weight = np.ones(image.shape[:2], np.float32)
    weight[(ys - 50) ** 2 + (xs - 70) ** 2 < 35 ** 2] = 0
    overall = (image * weight[..., None]).sum((0, 1)) / weight.sum()
    for sigma in (4.0, 5.0):
        out = skin.skin_shading(image, weight, sigma)
        wide = skin.HOLE_SCALE * sigma
        ref = cv2.GaussianBlur(image * weight[..., None], (0, 0), wide) \
            / cv2.GaussianBlur(weight, (0, 0), wide)[..., None]
        assert np.abs(out - ref)[45:56, 65:76].max() < 0.4
        assert abs(out[50, 70, 0] - overall[0]) > 5
    colour = np.float32([42, 7, -3])
    flat = np.zeros((60, 90, 3), np.float32) + colour
    one = np.zeros((60, 90), np.float32)
    one[2, 2] = 0.5   # half a pixel of skin in the corner
    out = skin.skin_shading(flat, one, 4.0)
    assert np.allclose(out[40:, 60:], colour, atol=1e-3)


def test_skin_swap_light_takes_the_targets_shading_across_the_face(astronaut):
    """``light`` moves the lightness's variation across the face from the source's (0) to
    the target's (1): a source lit 20 L* more from the right keeps less of that the higher
    ``light`` is."""
    image, lm = astronaut
    target, local = box_of(image, lm)
    shape = target.shape[:2]
    xs = np.mgrid[0:shape[0], 0:shape[1]][1].astype(np.float32)
    lit = lab(target)
    lit[..., 0] += 20 * (xs / shape[1] - 0.5)
    source = np.clip(lab_to_rgb(lit), 0, 1).astype(np.float32)
    cheeks = skin.sample_mask(local, shape) & (skin.feature_mask(local, shape) < 0.01)
    right, left = cheeks & (xs > local[4, 0]), cheeks & (xs < local[4, 0])

    def tilt(rgb):   # right cheeks minus left cheeks, L*
        light = lab(rgb)[..., 0]
        return light[right].mean() - light[left].mean()

    mask = np.ones(shape, np.float32)
    tilts = [tilt(skin.skin_swap(source, target, mask, local, light=a).image)
             for a in (0.0, 0.5, 1.0)]
    assert tilt(target) < -8 and tilt(source) > tilt(target) + 6
    assert tilts[0] > tilts[1] + 2 > tilts[2] + 4 and tilts[2] < tilt(source) - 1.5


def test_skin_swap_dark_pixels_take_the_change_in_proportion_to_their_lightness(astronaut):
    """Without exclusion a source pixel takes the tone change times its grey level over the
    skin shading's, clipped to 0..1: black stays black, a grey half the shading's takes half
    of what a pixel lighter than the shading takes (not more than all of it)."""
    image, lm = astronaut
    target, local = box_of(image, lm)
    shape = target.shape[:2]
    mask = np.ones(shape, np.float32)
    source = shifted(target, (-15, 6, -8))
    grey = lambda rgb: rgb @ np.float32([0.299, 0.587, 0.114])  # noqa: E731
    shading = grey(lab_to_rgb(skin.face_skin(source, local).shading))
    (x, y), (x2, y2) = ((int(v) for v in local[k, :2]) for k in (187, 411))   # lower cheeks
    changes = []
    for level in (0.75, 0.5 * shading[y2, x2]):
        painted = source.copy()
        painted[y - 3:y + 3, x - 3:x + 3] = 0.0
        painted[y2 - 3:y2 + 3, x2 - 3:x2 + 3] = level
        out = skin.skin_swap(painted, target, mask, local, exclude=False, occlusion=False).image
        assert out[y - 2:y + 2, x - 2:x + 2].max() == 0
        changes.append((out - painted)[y2 - 2:y2 + 2, x2 - 2:x2 + 2].mean((0, 1)))
    assert 0.75 > 1.5 * shading[y2, x2] and changes[0].min() > 0.05
    assert np.allclose(changes[1] / changes[0], 0.5, atol=0.04)


def test_skin_swap_gives_a_sources_fringe_the_targets_skin(hopper):
    """Dark strands on the source's forehead (16 L* darker: they pass its colour model) take
    the target's skin shading through :func:`fringe`; with a learned own-face mask (no fringe
    search) they stay more of their own."""
    image, lm = hopper
    target, local = box_of(image, lm)   # 203 px high: analysed at 128
    shape = target.shape[:2]
    h = face_height(local)
    frame = lab(target)
    x, y = (int(v) for v in local[151, :2])
    band = np.zeros(shape, bool)
    band[y - 2:y + 2, x - int(0.1 * h):x + int(0.1 * h)] = True
    frame[band] -= [16, 0, 0]
    source = np.clip(lab_to_rgb(frame), 0, 1).astype(np.float32)
    mask = np.ones(shape, np.float32)
    strands = lambda rgb: lab(rgb)[band][:, 0].mean()  # noqa: E731
    out = skin.skin_swap(source, target, mask, local).image
    learned = skin.skin_swap(source, target, mask, local,
                             source_face=np.ones(shape, np.float32)).image
    assert strands(target) > strands(source) + 15
    assert strands(out) > strands(source) + 6 and strands(out) > strands(learned) + 3


def test_skin_swap_cleans_a_beard_on_a_face_analysed_smaller(hopper):
    """Grace Hopper (203 px high, analysed at 128 and the beard grown back to full size): a
    grey chin 16 L* darker than her skin is replaced by her skin shading, one 2 L* darker is
    kept."""
    image, lm = hopper
    target, local = box_of(image, lm)
    mean = skin.face_skin(target, local).model.mean
    bearded, bands = _chin_bands(target, local, [[mean[0] - 16, 0, 0], [mean[0] - 2, 0, 0]])
    out = skin.skin_swap(target, bearded, np.ones(target.shape[:2], np.float32), local,
                         occlusion=False)
    assert out.target is not None and not out.occlusion.any()
    hair, _ = _hair_share(out, bearded, local)
    inner = [cv2.erode(b.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for b in bands]
    assert np.median(hair[inner[0]]) > 0.9 and np.abs(hair[inner[1]]).max() < 0.05


def test_fringe_searches_the_face_oval_grown_by_two_percent():
    """Strands are looked for in the face oval grown by 2 % of the face height: a strand 20
    L* darker just outside the oval (inside the grown band) is found in full, one further
    out in the background is not."""
    image, lm = face(HOPPER)
    shape = image.shape[:2]
    h = face_height(lm)
    bare = skin.region_mask(lm, shape, ["face"])
    grown = skin.region_mask(lm, shape, ["face"], grow=0.02 * h)
    y = int(lm[[*skin.topo.RIGHT_BROW, *skin.topo.LEFT_BROW], 1].min()) - 25
    edge = int(np.nonzero(bare[y] > 0.5)[0].min())   # the oval's left edge on that row
    assert bare[y, edge - 4:edge].max() == 0 and grown[y, edge - 4:edge].min() == 1
    flat = np.zeros(shape + (3,), np.float32) + [70, 10, 15]
    colour = flat.copy()
    colour[y - 2:y + 2, edge - 4:edge, 0] = 50   # in the grown band only
    colour[y - 2:y + 2, edge - 60:edge - 50, 0] = 50   # in the background
    fs = skin.FaceSkin(colour, np.ones(shape, np.float32), np.zeros(shape, np.float32), None,
                       flat)
    out = skin.fringe(fs, lm)
    assert out[y - 1:y + 1, edge - 3:edge - 1].min() == 1
    assert out[y - 5:y + 5, edge - 62:edge - 48].max() == 0


def test_skin_swap_on_a_face_analysed_smaller_keeps_occluders_exactly(hopper):
    """Grace Hopper (analysed at 128, the masks grown back): an occluder's inside is exactly
    the target's (the grown mask snapped to 1 above 0.99, no 0.99x left), and a beard kept
    with ``keep_beard`` is not also cleaned."""
    image, lm = hopper
    target, local = box_of(image, lm)
    mask = np.ones(target.shape[:2], np.float32)
    covered, box = paint(target, local, 205, [0.35, 0.2, 0.12])
    occ = skin.skin_swap(target, covered, mask, local).occlusion
    assert (occ[box] == 1).mean() > 0.5 and not ((occ > 0.99) & (occ < 1)).any()
    mean = skin.face_skin(target, local).model.mean
    bearded, bands = _chin_bands(target, local, [[mean[0] - 16, 0, 0]])
    kept = skin.skin_swap(target, bearded, mask, local, keep_beard=True)
    assert kept.occlusion[bands[0]].mean() > 0.9 and kept.target is None
