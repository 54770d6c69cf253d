"""No-reference face quality on the degraded Obama set (../shared/testdata/lowres)."""
import time

import cv2
import numpy as np
import pytest
from conftest import as_image, load_rgb

from face_pipeline.nodes.blend import FaceQuality
from face_pipeline.pipeline import faces as ops
from face_pipeline.vision import quality
from face_pipeline.vision.geometry import Template

LOWRES = ["hr_gt.png", "lr_x4_bicubic.png", "lr_x8_bicubic.png", "jpeg_q10.jpg",
          "mixed_blur2_x4_noise8_jpeg30.png", "obama_240p.jpg"]


def face_of(frame):
    image = as_image(frame)
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    assert len(faces.frames[0]) == 1
    return faces.frames[0][0]


def measure(frame):
    face = face_of(frame)
    return quality.face_quality(frame, face.keypoints, face.box)


@pytest.fixture(scope="module")
def scores():
    return {name: measure(load_rgb(f"lowres/{name}")) for name in LOWRES}


def test_calibration_orders_the_degradations(scores):
    q = {name.split(".")[0]: s.quality for name, s in scores.items()}
    assert q["hr_gt"] >= 0.9
    assert q["lr_x4_bicubic"] < q["hr_gt"] - 0.3            # 70 px face
    assert q["lr_x8_bicubic"] < q["lr_x4_bicubic"] - 0.2    # 35 px face
    assert q["jpeg_q10"] < q["hr_gt"] - 0.3                 # full size but blocky
    assert q["mixed_blur2_x4_noise8_jpeg30"] < q["lr_x4_bicubic"] - 0.05
    assert 0.25 < q["obama_240p"] < 0.7                     # moderate


def test_each_term_flags_its_degradation(scores):
    assert scores["jpeg_q10.jpg"].blockiness > 0.8 > scores["hr_gt.png"].blockiness + 0.5
    assert scores["lr_x8_bicubic.png"].resolution < 0.3
    assert scores["mixed_blur2_x4_noise8_jpeg30.png"].sharpness < scores["lr_x4_bicubic.png"].sharpness
    frame = load_rgb("lowres/hr_gt.png")
    face = face_of(frame)
    noisy = np.clip(frame + np.random.default_rng(0).normal(0, 15, frame.shape), 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(frame, (0, 0), 3.0)
    clean = quality.face_quality(frame, face.keypoints, face.box)
    noisy_q = quality.face_quality(noisy, face.keypoints, face.box)
    blurred_q = quality.face_quality(blurred, face.keypoints, face.box)
    assert noisy_q.noise > 0.5 and noisy_q.quality < clean.quality - 0.3
    assert blurred_q.sharpness < 0.5 and blurred_q.quality < clean.quality - 0.3


def test_upsampled_small_face_scores_low_at_the_same_pixel_size():
    """What a warped swap source looks like: a small face enlarged to the target's size."""
    hr = load_rgb("lowres/hr_gt.png")
    face = face_of(hr)
    box = face.landmarks[:468, :2].min(0).tolist() + face.landmarks[:468, :2].max(0).tolist()
    for name in ("lr_x4_bicubic.png", "mixed_blur2_x4_noise8_jpeg30.png"):
        enlarged = cv2.resize(load_rgb(f"lowres/{name}"), (hr.shape[1], hr.shape[0]),
                              interpolation=cv2.INTER_CUBIC)
        assert quality.oval_quality(enlarged, box).quality < 0.6 * quality.oval_quality(hr, box).quality


def test_deterministic_and_fast():
    frame = load_rgb("lowres/hr_gt.png")
    face = face_of(frame)
    first = quality.face_quality(frame, face.keypoints, face.box)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        again = quality.face_quality(frame, face.keypoints, face.box)
        times.append(time.perf_counter() - start)
        assert again == first
    assert min(times) < 0.005


def test_node_scores_crops_and_faces():
    frames = [load_rgb("lowres/hr_gt.png"), load_rgb("lowres/jpeg_q10.jpg")]
    image = as_image(*frames)
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    crops, _ = ops.align_faces(image, faces, Template("ffhq_512", 512))
    on_crops, report = FaceQuality().score(crops)
    on_frames, frame_report = FaceQuality().score(image, faces)
    assert report.count("\n") == 1 and frame_report.startswith("face 0: 1.00")
    assert 0.0 < on_frames < 1.0 and 0.5 < on_crops <= 1.0
    assert FaceQuality().score(as_image(np.zeros((64, 64, 3), np.uint8)))[0] == 0.0
