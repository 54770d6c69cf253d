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
    for angle, scale, shift in ((0, 1, (0, 0)), (30, 3.5, (100, -40)), (-75, 0.2, (5, 5))):
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
