"""No-reference face quality, asserted on photos it was not calibrated on.

The quality ranges were fitted on ../shared/testdata/lowres (tools/calibrate_quality.py); these
tests use Biden 1 and Obama 3, degraded here the way the lowres set was made (x4 and x8 bicubic
downscales, JPEG quality 10, blur 2 + x4 + noise 8 + JPEG 30).
"""
import cv2
import numpy as np
import pytest
from conftest import HELD_OUT, as_image, degraded, jpeg, load_rgb

from face_pipeline.nodes.blend import FaceQuality
from face_pipeline.pipeline import faces as ops
from face_pipeline.vision import quality
from face_pipeline.vision.geometry import Template


def face_of(frame):
    image = as_image(frame)
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    assert len(faces.frames[0]) == 1
    return faces.frames[0][0]


def measure(frame):
    face = face_of(frame)
    return quality.face_quality(frame, face.keypoints, face.box)


@pytest.fixture(scope="module", params=HELD_OUT)
def scores(request):
    return {kind: measure(image) for kind, image in degraded(load_rgb(request.param)).items()}


def test_calibration_orders_the_degradations(scores):
    q = {kind: s.quality for kind, s in scores.items()}
    assert q["hr"] >= 0.85
    assert q["x4"] < q["hr"] - 0.2                   # 80 px face
    assert q["x8"] < q["x4"] - 0.2                   # 40 px face
    assert q["jpeg10"] < q["hr"] - 0.3               # full size but blocky
    assert q["mixed"] < q["x4"] - 0.05


def test_each_term_flags_its_degradation(scores):
    assert scores["jpeg10"].blockiness > 0.8 > scores["hr"].blockiness + 0.5
    assert scores["x8"].resolution < 0.35
    assert scores["mixed"].sharpness < scores["x4"].sharpness


def test_noise_and_blur_lower_quality():
    frame = load_rgb(HELD_OUT[0])
    face = face_of(frame)
    noisy = np.clip(frame + np.random.default_rng(0).normal(0, 15, frame.shape), 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(frame, (0, 0), 3.0)
    clean = quality.face_quality(frame, face.keypoints, face.box)
    noisy_q = quality.face_quality(noisy, face.keypoints, face.box)
    blurred_q = quality.face_quality(blurred, face.keypoints, face.box)
    assert noisy_q.noise > 0.5 and noisy_q.quality < clean.quality - 0.3
    assert blurred_q.sharpness < 0.5 and blurred_q.quality < clean.quality - 0.3


def enlarged_scores(photo):
    """oval_quality of the sharp photo and of its degraded versions enlarged back to its size
    (what a warped swap source looks like: a small face enlarged onto a large target)."""
    hr = load_rgb(photo)
    face = face_of(hr)
    box = face.landmarks[:468, :2].min(0).tolist() + face.landmarks[:468, :2].max(0).tolist()
    scores = {"hr": quality.oval_quality(hr, box).quality}
    for name, image in degraded(hr).items():
        if name in ("x4", "x8", "mixed"):
            big = cv2.resize(image, (hr.shape[1], hr.shape[0]), interpolation=cv2.INTER_CUBIC)
            scores[name] = quality.oval_quality(big, box).quality
    return scores


@pytest.mark.parametrize("photo", HELD_OUT)
def test_upsampled_small_faces_score_lower_at_the_same_pixel_size(photo):
    q = enlarged_scores(photo)
    assert q["x8"] < q["mixed"] - 0.1 < q["x4"] - 0.2 < q["hr"] - 0.3, q


@pytest.mark.xfail(strict=True, reason=(
    "claimed on the calibration set (lowres), not true on held-out photos: the x4 downscale "
    "enlarged back scores 0.72 (Biden) and 0.61 (Obama 3) against 0.99 and 0.91, i.e. above "
    "0.6x; the blend's quality gate therefore barely limits such sources"))
def test_upsampled_x4_face_scores_below_0_6_of_the_sharp_one():
    q = enlarged_scores(HELD_OUT[0])
    assert q["x4"] < 0.6 * q["hr"]


def test_deterministic():
    """(Speed is measured by the benchmarks, not asserted here.)"""
    frame = load_rgb(HELD_OUT[0])
    face = face_of(frame)
    first = quality.face_quality(frame, face.keypoints, face.box)
    assert all(quality.face_quality(frame, face.keypoints, face.box) == first for _ in range(3))


def test_node_scores_crops_and_faces():
    hr = load_rgb(HELD_OUT[0])
    frames = [hr, jpeg(hr, 10)]
    image = as_image(*frames)
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    crops, _ = ops.align_faces(image, faces, Template("ffhq_512", 512))
    on_crops, report = FaceQuality().score(crops)
    on_frames, frame_report = FaceQuality().score(image, faces)
    per_face = [float(line.split(": ")[1].split(" ")[0]) for line in frame_report.splitlines()]
    assert report.count("\n") == 1 and per_face[0] >= 0.9 and per_face[1] < per_face[0] - 0.3
    assert 0.0 < on_frames < 1.0 and 0.5 < on_crops <= 1.0
    assert FaceQuality().score(as_image(np.zeros((64, 64, 3), np.uint8)))[0] == 0.0


def test_pose_frontality_from_the_nose_offset():
    """``1 - |offset| / 0.5`` with the nose's offset along the eye line in eye distances,
    whatever the face's position, size and roll."""
    def kps(nose_x, angle=0.0, scale=1.0, shift=(0.0, 0.0)):
        points = np.array([[0, 0], [10, 0], [nose_x, 8], [2, 14], [8, 14]], np.float64)
        a = np.radians(angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        return points @ rot.T * scale + shift
    for angle, scale, shift in ((0, 1, (0, 0)), (30, 3.5, (100, -40)), (-75, 0.2, (5, 5)), (10, 0.05, (1, 1))):
        f = lambda x: quality.pose_frontality(kps(x, angle, scale, shift))  # noqa: E731
        assert f(5) == pytest.approx(1.0)
        assert f(7) == pytest.approx(0.6) and f(3) == pytest.approx(0.6)
        assert f(8.5) == pytest.approx(0.3)
        assert f(11) == 0.0 and f(-2) == 0.0
    same = np.array([[4, 4], [4, 4], [4, 9], [2, 14], [8, 14]], np.float64)
    assert 0.0 <= quality.pose_frontality(same) <= 1.0


def test_frame_score_formula():
    """``sqrt(r (0.25 + 0.75 s)) (1 - 0.5 n) (1 - 0.5 b) (0.5 + 0.5 p)``."""
    def q(r=1.0, s=1.0, n=0.0, b=0.0):
        return quality.Quality(0.0, r, s, n, b, 0.0, 1.0)
    assert quality.frame_score(q(), 1.0) == pytest.approx(1.0)
    assert quality.frame_score(q(), 0.0) == pytest.approx(0.5)
    assert quality.frame_score(q(s=0.0), 1.0) == pytest.approx(0.5)
    assert quality.frame_score(q(r=0.25), 1.0) == pytest.approx(0.5)
    assert quality.frame_score(q(n=1.0), 1.0) == pytest.approx(0.5)
    assert quality.frame_score(q(b=1.0), 1.0) == pytest.approx(0.5)
    want = np.sqrt(0.64 * (0.25 + 0.75 * 0.4)) * (1 - 0.5 * 0.2) * (1 - 0.5 * 0.6) * (0.5 + 0.5 * 0.7)
    assert quality.frame_score(q(0.64, 0.4, 0.2, 0.6), 0.7) == pytest.approx(want)


# --- the measurements one by one, on synthetic images with known answers -------------------

def _texture(shape, seed=0, blur=1.2):
    """Smooth random texture, grey levels 0..255 (float32)."""
    noise = np.random.default_rng(seed).normal(128, 60, shape).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), blur), 0, 255)


def test_grey_is_luma_of_rgb_for_uint8_float_and_rgba():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0], rgb[0, 1], rgb[0, 2], rgb[1, :] = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
    grey = quality._grey(rgb)
    assert grey[0].tolist() == pytest.approx([0.299 * 255, 0.587 * 255, 0.114 * 255], abs=1e-3)
    assert grey[1].tolist() == pytest.approx([255.0] * 3, abs=1e-3)
    np.testing.assert_allclose(quality._grey(rgb.astype(np.float32) / 255.0), grey, atol=1e-3)
    rgba = np.concatenate([rgb, np.full((2, 3, 1), 77, np.uint8)], axis=2)
    np.testing.assert_allclose(quality._grey(rgba), grey, atol=1e-3)


@pytest.mark.parametrize("sigma", [5.0, 10.0, 20.0])
def test_noise_sigma_reads_gaussian_noise_on_flat_and_textured_images(sigma):
    """Within 1 grey level of the true sigma, whether the image is flat or half covered by a
    strong fine texture (the 30 % flattest pixels keep the texture out)."""
    rng = np.random.default_rng(int(sigma))
    flat = np.full((256, 256), 120.0, np.float32) + rng.normal(0, sigma, (256, 256)).astype(np.float32)
    textured = flat.copy()
    textured[:, :128] += 4.0 * (_texture((256, 128), blur=0.7) - 128)
    assert quality.noise_sigma(flat) == pytest.approx(sigma, abs=1.0)
    assert quality.noise_sigma(textured) == pytest.approx(sigma, abs=1.0)
    assert quality.noise_sigma(textured, None) == pytest.approx(sigma, abs=1.0)
    stripes = flat.copy()                                 # 1-D stripes: the Immerkaer kernel ignores them
    wave = 60.0 * np.sin(np.arange(128) * 2.0).astype(np.float32)
    stripes[:128, :128] += wave[None, :]
    stripes[:128, 128:] += wave[:, None]
    assert quality.noise_sigma(stripes) == pytest.approx(sigma, abs=1.0)


def test_noise_sigma_measures_the_central_patch():
    big = _texture((40, 50), seed=3, blur=0.8) + np.random.default_rng(4).normal(0, 6, (40, 50)).astype(np.float32)
    centre = big[15:25, 20:30]
    value = quality.noise_sigma(centre, None)
    assert value > 1.0
    assert quality.noise_sigma(big, 10) == value
    assert quality.noise_sigma(centre) == value          # patch larger than the image: all of it
    padded = np.pad(centre, 1)
    assert quality.noise_sigma(padded, 10) == value
    assert quality.noise_sigma(big, None) != value
    ring = np.full((512, 512), 100.0, np.float32)        # noise only in the central 256 square
    ring[128:384, 128:384] += np.random.default_rng(5).normal(0, 10, (256, 256)).astype(np.float32)
    assert quality.noise_sigma(ring) == pytest.approx(10.0, abs=1.0)
    assert quality.noise_sigma(ring, None) < 5.0


def test_noise_sigma_of_tiny_patches():
    noise = np.random.default_rng(6).normal(100, 10, (8, 8)).astype(np.float32)
    assert quality.noise_sigma(noise) > 1.0               # 8 x 8 is measured
    assert quality.noise_sigma(noise[:7]) == 0.0           # under 8: 0


def _blocky(step=0.25, blocks=8, row_jump=3.0):
    """Columns rise by ``step`` per pixel and jump by ``(k + 2) * step`` at the end of block k;
    rows rise by ``step`` and jump by ``row_jump * step`` every 8th row: beta of the columns
    is the mean of k + 2, of the rows ``row_jump``."""
    width = 8 * blocks + 1
    dx = np.full(width - 1, step)
    dx[7::8] = (np.arange(blocks) + 2) * step
    dy = np.full(8 * 5, step)
    dy[7::8] = row_jump * step
    columns = np.concatenate([[0.0], np.cumsum(dx)])
    rows = np.concatenate([[0.0], np.cumsum(dy)])
    return (rows[:, None] + columns[None, :]).astype(np.float32)


def test_block_ratio_of_known_8x8_blocking():
    assert quality.block_ratio(_blocky()) == pytest.approx(0.5 * (5.5 + 3.0))
    assert quality.block_ratio(_blocky(blocks=2)) == pytest.approx(0.5 * (2.5 + 3.0))   # 16 steps
    assert quality.block_ratio(_blocky().T) == pytest.approx(0.5 * (5.5 + 3.0))
    two_rows = _blocky()[:2]
    assert quality.block_ratio(two_rows) == pytest.approx(0.5 * (5.5 + 1.0))
    assert quality.block_ratio(_blocky()[:1]) == 1.0
    assert quality.block_ratio(np.full((32, 32), 128.0, np.float32)) == 1.0   # flat: no blocking
    assert quality.block_ratio(_blocky()[:10, :10]) == 1.0  # under 16 steps: no phase measured


def test_block_ratio_sees_jpeg_blocking_not_clean_texture():
    image = np.clip(_texture((128, 128), seed=7, blur=2.0), 0, 255).astype(np.uint8)
    compressed = jpeg(np.repeat(image[..., None], 3, axis=2), 10)[..., 0].astype(np.float32)
    clean = quality.block_ratio(image.astype(np.float32))
    assert clean < 1.2 and quality.block_ratio(compressed) > 1.8


def test_sharpness_ratio_is_contrast_free():
    crop = _texture((192, 192), seed=8, blur=1.0)
    rho = quality.sharpness_ratio(crop)
    assert 0.15 < rho < 0.6
    assert quality.sharpness_ratio(0.002 * crop) == pytest.approx(rho, rel=1e-3)


def test_score_combines_the_terms():
    normalised = _texture((192, 192), seed=9, blur=1.6)
    noisy = 120 + np.random.default_rng(10).normal(0, 20, (64, 64)).astype(np.float32)
    for native in (noisy, _blocky() * 8, noisy[:2]):
        for width in (64.0, 200.0, -5.0):
            q = quality.score(normalised, native, width)
            assert q.resolution == pytest.approx(min(max(width / 128, 0.0), 1.0))
            assert q.noise_sigma == quality.noise_sigma(native)
            assert q.block_ratio == quality.block_ratio(native)
            want = np.sqrt(q.resolution * q.sharpness) * (1 - 0.5 * q.noise) * (1 - 0.5 * q.blockiness)
            assert q.quality == pytest.approx(want)
    assert quality.score(normalised, noisy, 200).noise == 1.0
    assert quality.score(normalised, _blocky() * 8, 200).blockiness == 1.0
    assert 0 < quality.score(normalised, noisy, 200).sharpness < 1


def test_inner_is_the_central_60_percent_clipped_to_the_image():
    image = np.random.default_rng(11).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    np.testing.assert_array_equal(quality._inner(image, (10, 20, 60, 120)), quality._grey(image[40:100, 20:50]))
    np.testing.assert_array_equal(quality._inner(image, (-50, -50, 50, 50)), quality._grey(image[:30, :30]))
    np.testing.assert_array_equal(quality._inner(image, (100, 60, 200, 200)), quality._grey(image[88:, 120:]))
    assert quality._inner(image, (-200, -200, -50, -50)).shape == (0, 0)


def test_face_quality_resolution_is_the_box_width_or_the_given_width():
    frame = np.clip(_texture((220, 200), seed=12), 0, 255).astype(np.uint8)
    frame = np.repeat(frame[..., None], 3, axis=2)
    kps = quality.CROP.points * 0.5 + [40, 50]
    assert quality.face_quality(frame, kps, np.array([30, 10, 94, 150])).resolution == pytest.approx(0.5)
    assert quality.face_quality(frame, kps, np.array([30, 10, 94, 150]), 32.0).resolution == pytest.approx(0.25)


def test_crop_quality_of_a_192_crop_measures_its_own_pixels():
    crop = np.clip(_texture((192, 192), seed=13, blur=1.4), 0, 255).astype(np.uint8)
    crop = np.repeat(crop[..., None], 3, axis=2)
    grey = quality._grey(crop)
    want = quality.score(grey, quality._grey(crop[38:153, 38:153]), 192.0)
    assert quality.crop_quality(crop) == want
    assert quality.crop_quality(crop, 64.0).resolution == pytest.approx(0.5)
    half = cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)     # same framing, smaller
    assert quality.crop_quality(half).resolution == pytest.approx(0.75)
    blurred = [quality.crop_quality(cv2.GaussianBlur(crop, (0, 0), s)).quality for s in (0.6, 1.2, 2.4)]
    assert want.quality > blurred[0] > blurred[1] > blurred[2]


def test_oval_quality_frames_the_box_like_the_arcface_template():
    """A 100 px box frames a 150 px square centred 9 px above the box centre: the same
    sharpness as that square cut out and scored as an aligned crop.  Outside the square the
    image is blurred, so a wrongly placed window reads lower."""
    sharp = _texture((400, 400), seed=14, blur=1.8)
    image = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    image[116:266, 125:275] = sharp[116:266, 125:275]
    image = np.clip(image, 0, 255).astype(np.uint8)
    box = (150, 150, 250, 250)                            # centre (200, 200) -> square centre (200, 191)
    oval = quality.oval_quality(image, box)
    cut = quality.crop_quality(image[116:266, 125:275], 100.0)
    assert 0 < cut.sharpness < 1 and oval.resolution == pytest.approx(100 / 128)
    assert oval.sharpness == pytest.approx(cut.sharpness, abs=1e-3)
    assert quality.oval_quality(image, (5, 5, 5, 5)).resolution == pytest.approx(1 / 128)
