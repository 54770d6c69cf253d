"""Pure geometry and detection helpers, on exact synthetic cases."""
import math

import cv2
import numpy as np
import pytest

from face_pipeline.vision import detection as det
from face_pipeline.vision import geometry, landmarks
from face_pipeline.vision.image import shrink_area


def test_similarity_transform_recovers_a_known_map():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = math.radians(25), 1.7, np.array([12.0, -7.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    matrix = geometry.similarity_transform(src, src @ rot.T + shift)
    np.testing.assert_allclose(matrix[:, :2], rot, atol=1e-5)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-3)
    np.testing.assert_allclose(geometry.invert(matrix) @ np.append(matrix[:, 2], 1), [0, 0], atol=1e-4)


def test_templates_scale_about_the_centre():
    base = geometry.Template("arcface_112_v2", 112).points
    zoomed = geometry.Template("arcface_112_v2", 224, scale=0.5).points
    np.testing.assert_allclose(zoomed, (base - 56) + 112, atol=1e-4)
    with pytest.raises(ValueError, match="unknown alignment template"):
        geometry.Template("nope", 112).points


def test_feather_mask_is_zero_on_the_border_and_one_inside():
    mask = geometry.feather_mask((64, 48), 8)
    assert mask.shape == (48, 64)
    assert mask[0].max() == 0 and mask[:, -1].max() == 0 and mask[24, 32] == 1
    assert np.all(np.diff(mask[24, :9]) >= 0)


@pytest.mark.parametrize("height, width, out_h, out_w", [
    (1080, 1920, 72, 128), (768, 1366, 72, 128), (1216, 832, 128, 88), (999, 1777, 72, 128)])
def test_shrink_area_is_opencvs_area_resize(height, width, out_h, out_w):
    """Integer and fractional factors, landscape and portrait: OpenCV's result to float rounding."""
    frame = np.random.default_rng(height).random((height, width, 3), dtype=np.float32)
    want = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(shrink_area(frame, (out_w, out_h)), want, rtol=0, atol=1e-6)


def test_adaptive_threshold_matches_the_seed_pipeline():
    assert det.adaptive_threshold(0.5, 48) == pytest.approx(0.3)
    assert det.adaptive_threshold(0.5, 20) == pytest.approx(0.3)
    assert det.adaptive_threshold(0.5, 256) == pytest.approx(0.5)
    assert 0.3 < det.adaptive_threshold(0.5, 110) < 0.5


def test_scan_levels_cover_every_face_size_the_whole_frame_pass_misses():
    for h, w in ((720, 1280), (1080, 1920), (512, 512), (2000, 3000)):
        scales = det.scan_scales(h, w, 128)
        assert scales[0] == 1.0
        smallest_whole = det.FACE_RANGE[0] * max(h, w) / 128
        assert det.FACE_RANGE[1] / scales[-1] >= smallest_whole  # the ranges join up
    assert det.scan_scales(100, 120, 128) == []  # the whole-frame pass sees 16 px faces already
    rng = np.random.default_rng(0)
    for lh, lw in ((720, 1280), (540, 960), (360, 640), (200, 300)):
        tile_h, tile_w, origins = det.level_tiles(lh, lw)
        assert tile_h % 32 == 0 and tile_w % 32 == 0
        for size in (16, 40, det.TILE_OVERLAP):
            for x, y in rng.uniform(0, (lw - size, lh - size), (30, 2)):
                assert any(x0 <= x and y0 <= y and x + size <= x0 + tile_w and y + size <= y0 + tile_h
                           for x0, y0 in origins)


def test_rotation_round_trip_and_keypoint_order():
    frame = np.zeros((40, 60, 3), np.uint8)
    for angle in (90, 180, 270):
        view = det.rotate_frame(frame, angle)
        # where pixel (10, 5) lands in the rotated frame, found by marking it
        marked = frame.copy()
        marked[5, 10] = 255
        ys, xs = np.nonzero(det.rotate_frame(marked, angle)[..., 0])
        back = det.unrotate_points(np.array([[xs[0] + 0.5, ys[0] + 0.5]]), angle, 40, 60)
        np.testing.assert_allclose(back[0], [10.5, 5.5], atol=1e-4)
        assert view.shape[:2] == ((60, 40) if angle in (90, 270) else (40, 60))
    with pytest.raises(ValueError, match="rotations"):
        det.parse_rotations("45")
    assert det.parse_rotations("0,270,90") == [0, 90, 270]


def test_weighted_nms_blends_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    kps = np.zeros((3, 5, 2), np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    b, _, s = det.nms(boxes, kps, scores, 0.3, weighted=True)
    assert list(s) == pytest.approx([0.9, 0.8])
    np.testing.assert_allclose(b[0], [0.4, 0.4, 10.4, 10.4], atol=1e-5)
    inner = np.array([[0, 0, 100, 100], [40, 40, 60, 60]], np.float32)
    assert len(det.nms(inner, kps[:2], scores[:2], 0.3)[2]) == 2
    assert len(det.nms(inner, kps[:2], scores[:2], 0.3, containment=True)[2]) == 1
    # blend_floor: 0.6 is below 0.7, so the confident box stays its own; a weak group blends
    assert det.nms(boxes, kps, scores, 0.3, weighted=True, blend_floor=0.7)[0][0] == pytest.approx([0, 0, 10, 10])
    weak = det.nms(boxes, kps, scores * 0.5, 0.3, weighted=True, blend_floor=0.7)[0][0]
    np.testing.assert_allclose(weak, [0.4, 0.4, 10.4, 10.4], atol=1e-5)


def test_ssd_anchors_count_matches_blazeface():
    assert det.ssd_anchor_centers(128, 128, [8, 16, 16, 16], [2, 2, 2, 2]).shape == (896, 2)
    assert det.ssd_anchor_centers(192, 192, [4], [1]).shape == (2304, 2)
    wide = det.ssd_anchor_centers(64, 96, [4], [1])  # any size: one anchor per 4 px cell
    assert wide.shape == (16 * 24, 2) and tuple(wide[0]) == (2.0, 2.0) and tuple(wide[-1]) == (94.0, 62.0)


def test_head_pose_of_a_rotated_synthetic_mesh():
    rng = np.random.default_rng(3)
    mesh = rng.normal(size=(478, 3))
    mesh[landmarks.RIGHT_EYE_OUTER] = [-1, 0, 0]
    mesh[landmarks.LEFT_EYE_OUTER] = [1, 0, 0]
    mesh[landmarks.FOREHEAD] = [0, -1, 0]
    mesh[landmarks.CHIN] = [0, 1.5, 0]
    assert np.abs(landmarks.head_pose(mesh)).max() < 1e-4
    yaw = math.radians(30)  # turn towards the image's right: the nose (-z) gains +x
    turn = np.array([[math.cos(yaw), 0, -math.sin(yaw)], [0, 1, 0], [math.sin(yaw), 0, math.cos(yaw)]])
    np.testing.assert_allclose(landmarks.head_pose(mesh @ turn.T), [30, 0, 0], atol=1e-3)


def test_ciede2000_matches_published_pairs():
    """Sharma, Wu & Dalal (2005), test data pairs 1-3, 7, 8, 13-17, 19-38 (hue wrap-around,
    near-neutral and large differences), both ways round."""
    from face_pipeline.vision.color import delta_e2000
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
             ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
             ((50, 2.8361, -74.0200), (50, 0, -82.7485), 3.4412),
             ((50, -1.3802, -84.2814), (50, 0, -82.7485), 1.0),
             ((50, 0, 0), (50, -1, 2), 2.3669),
             ((50, -1, 2), (50, 0, 0), 2.3669),
             ((50, 2.49, -0.001), (50, -2.49, 0.0009), 7.1792),
             ((50, 2.49, -0.001), (50, -2.49, 0.001), 7.1792),
             ((50, 2.49, -0.001), (50, -2.49, 0.0011), 7.2195),
             ((50, 2.49, -0.001), (50, -2.49, 0.0012), 7.2195),
             ((50, -0.001, 2.49), (50, 0.0009, -2.49), 4.8045),
             ((50, -0.001, 2.49), (50, 0.0011, -2.49), 4.7461),
             ((50, 2.5, 0), (50, 0, -2.5), 4.3065),
             ((50, 2.5, 0), (73, 25, -18), 27.1492),
             ((50, 2.5, 0), (61, -5, 29), 22.8977),
             ((50, 2.5, 0), (56, -27, -3), 31.9030),
             ((50, 2.5, 0), (58, 24, 15), 19.4535),
             ((50, 2.5, 0), (50, 3.1736, 0.5854), 1.0),
             ((50, 2.5, 0), (50, 3.2972, 0), 1.0),
             ((50, 2.5, 0), (50, 1.8634, 0.5757), 1.0),
             ((50, 2.5, 0), (50, 3.2592, 0.335), 1.0),
             ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
             ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
             ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
             ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
             ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
             ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
             ((90.8027, -2.0831, 1.441), (91.1528, -1.6435, 0.0447), 1.4441),
             ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
             ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
             ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]
    a, b, expected = (np.array(v, float) for v in zip(*pairs))
    np.testing.assert_allclose(delta_e2000(a, b), expected, atol=1e-4)
    np.testing.assert_allclose(delta_e2000(b, a), expected, atol=1e-4)


def test_ciede2000_agrees_with_scikit_image():
    """Random far and near pairs, neutral colours, and every input shape: the same values as
    scikit-image's independent implementation."""
    from skimage.color import deltaE_ciede2000

    from face_pipeline.vision.color import delta_e2000
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(0, 100, 4000), rng.uniform(-110, 110, (4000, 2))])
    b = np.column_stack([rng.uniform(0, 100, 4000), rng.uniform(-110, 110, (4000, 2))])
    near = a + rng.normal(0, 3, a.shape)
    grey = a * [1, 0, 0]
    for x, y in ((a, b), (a, near), (grey, a), (a, grey), (grey, grey[::-1])):
        np.testing.assert_allclose(delta_e2000(x, y), deltaE_ciede2000(x, y), atol=1e-9)
    image = a[:12].reshape(2, 2, 3, 3)
    np.testing.assert_allclose(delta_e2000(image, image[::-1]),
                               deltaE_ciede2000(image, image[::-1]), atol=1e-9)
    assert delta_e2000(a[0], b[0]) == pytest.approx(float(deltaE_ciede2000(a[0], b[0])), abs=1e-9)


def test_lab_round_trip_takes_any_float_and_clips():
    from face_pipeline.vision.color import lab, lab_to_rgb
    rgb = np.random.default_rng(1).random((4, 5, 3))
    np.testing.assert_allclose(lab(rgb), lab(rgb.astype(np.float32)), atol=1e-4)
    np.testing.assert_allclose(lab_to_rgb(lab(rgb).astype(np.float64)), rgb, atol=3e-3)
    out = lab_to_rgb(np.array([[[100.0, 120.0, 120.0], [0.0, -120.0, -120.0]]]))
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0


def test_skin_inliers_keep_two_robust_sigmas_around_the_median():
    """Per channel: kept within SKIN_SIGMAS x (1.4826 x MAD + 0.5) of the median."""
    from face_pipeline.vision.color import SKIN_SIGMAS, skin_inliers
    centre, half = np.array([60.0, 15.0, 20.0]), np.array([10.0, 4.0, 6.0])
    base = centre + np.linspace(-1, 1, 3001)[:, None] * half          # uniform: MAD = half / 2
    spread = 1.4826 * half / 2 + 0.5
    probes = []
    for c in range(3):
        for k, kept in ((1.9, True), (2.1, False), (-1.9, True), (-2.1, False)):
            p = centre.copy()
            p[c] += k / 2.0 * SKIN_SIGMAS * spread[c]
            probes.append((p, kept))
    lab = np.vstack([base, [p for p, _ in probes]])
    keep = skin_inliers(lab)
    assert keep[:len(base)].all()
    assert list(keep[len(base):]) == [kept for _, kept in probes]
    assert skin_inliers(base[:10]).all()            # too few to measure: all kept


def skin_face(skin_lab, patch_lab, patch_rows, size=64, seed=0):
    """An RGB image of noisy skin of mean ``skin_lab`` with a ``patch_lab`` band (a beard)."""
    from face_pipeline.vision.color import lab_to_rgb
    rng = np.random.default_rng(seed)
    lab = np.array(skin_lab, np.float32) + rng.normal(0, 2, (size, size, 3)).astype(np.float32)
    lab[patch_rows] = np.array(patch_lab, np.float32) + rng.normal(0, 2, lab[patch_rows].shape)
    return lab_to_rgb(lab)


def test_skin_transfer_matches_skin_and_ignores_what_covers_it():
    """``skin`` takes the target's skin tone whatever dark patch (beard) either face has;
    whole-mask ``reinhard`` is pulled off by the patches."""
    from face_pipeline.vision.color import lab, transfer_color
    source = skin_face((70, 10, 15), (25, 4, 6), slice(40, 64), seed=1)
    target = skin_face((50, 20, 25), (20, 3, 4), slice(0, 10), seed=2)
    mask = np.ones((64, 64), np.float32)
    skin_rows = slice(16, 40)   # skin on both faces
    want = lab(target)[skin_rows].reshape(-1, 3).mean(0)
    for method, close in (("skin", True), ("reinhard", False)):
        got = lab(transfer_color(source, target, mask, method))[skin_rows].reshape(-1, 3).mean(0)
        assert (np.abs(got - want).max() < 1.5) == close, (method, got, want)
    assert np.array_equal(transfer_color(source, target, mask), transfer_color(source, target,
                                                                               mask, "skin"))


def test_reinhard_matches_mean_and_spread_even_of_a_very_even_source():
    from face_pipeline.vision.color import lab, transfer_color
    source = skin_face((60, 12, 18), (60, 12, 18), slice(0, 0), seed=3)
    even = lab(source)
    even = (even - even.mean((0, 1))) * 0.2 + even.mean((0, 1))   # std about 0.4
    from face_pipeline.vision.color import lab_to_rgb
    source = lab_to_rgb(even)
    target = skin_face((45, 22, 28), (45, 22, 28), slice(0, 0), seed=4)
    out = lab(transfer_color(source, target, np.ones((64, 64), np.float32), "reinhard"))
    t = lab(target)
    np.testing.assert_allclose(out.mean((0, 1)), t.mean((0, 1)), atol=0.3)
    np.testing.assert_allclose(out.std((0, 1)), t.std((0, 1)), rtol=0.1)


def test_histogram_transfer_matches_the_targets_quantiles():
    from face_pipeline.vision.color import lab, transfer_color
    source = skin_face((65, 10, 15), (65, 10, 15), slice(0, 0), seed=5)
    target = skin_face((45, 20, 25), (30, 10, 10), slice(0, 20), seed=6)
    out = lab(transfer_color(source, target, np.ones((64, 64), np.float32), "histogram"))
    q = [10, 25, 50, 75, 90]
    np.testing.assert_allclose(np.percentile(out[..., 0], q), np.percentile(lab(target)[..., 0], q),
                               atol=0.8)


def test_colour_transfer_mask_rules():
    """Only pixels with mask > 0.5 count; MIN_PIXELS of them are enough, fewer give the
    source back (as float32)."""
    from face_pipeline.vision.color import MIN_PIXELS, transfer_color
    source = skin_face((65, 10, 15), (65, 10, 15), slice(0, 0), seed=7)
    target = skin_face((45, 20, 25), (80, 0, 0), slice(0, 32), seed=8)   # top half bright grey
    lower = np.zeros((64, 64), np.float32)
    lower[32:] = 1.0
    half = np.where(lower > 0, 1.0, 0.5).astype(np.float32)   # 0.5 is not "inside"
    assert np.array_equal(transfer_color(source, target, half, "reinhard"),
                          transfer_color(source, target, lower, "reinhard"))
    few = np.zeros((64, 64), np.float32)
    few[40:44, 40:44] = 1.0   # MIN_PIXELS = 16 pixels
    assert MIN_PIXELS == 16 and not np.allclose(transfer_color(source, target, few, "reinhard"), source)
    few[40, 40] = 0.0
    copy = transfer_color(source.astype(np.float64), target, few, "reinhard")
    assert copy.dtype == np.float32 and np.allclose(copy, source)
