"""`vision/face_parsing.py` with stand-in maskers (plain functions of the crop, no models):
where the crop sits, how parsing classes and occlusion probabilities become "visible face",
the feathered edge, boxes, and several maskers combined by the minimum (issue 15 item 4:
outcomes that kill behaviour-changing mutants).
"""
import numpy as np
import pytest

from face_pipeline.models.maskers import OCCLUSION, PARSING, FaceMasker
from face_pipeline.vision import face_parsing as fp
from face_pipeline.vision.geometry import Template
from face_pipeline.vision.landmarks import LEFT_IRIS, MOUTH_LEFT, MOUTH_RIGHT, NOSE_TIP, RIGHT_IRIS

SIZE, SHIFT = 64, np.array([10.0, 20.0])


def landmarks(template="ffhq_512", size=SIZE, shift=SHIFT):
    """478 points whose 5 keypoints are ``template`` at ``size`` moved by ``shift``: the crop
    is the image window at ``shift`` (a pure translation)."""
    points = np.zeros((478, 3), np.float32)
    points[[RIGHT_IRIS, LEFT_IRIS, NOSE_TIP, MOUTH_RIGHT, MOUTH_LEFT], :2] = \
        Template(template, size).points + shift
    return points


def masker(run, kind=OCCLUSION, size=SIZE, template="ffhq_512"):
    return FaceMasker("stand-in", kind, size, template, run)


def test_crop_matrix_aligns_the_keypoints_to_the_template():
    matrix = fp.crop_matrix(landmarks(), "ffhq_512", SIZE)
    assert np.allclose(matrix, [[1, 0, -10], [0, 1, -20]], atol=1e-3)
    double = fp.crop_matrix(landmarks(size=128, shift=0), "ffhq_512", SIZE)
    assert np.allclose(double[:, :2], 0.5 * np.eye(2), atol=1e-4)


def test_the_crop_the_model_sees_is_the_aligned_face_clipped_to_0_1():
    image = np.random.default_rng(0).uniform(-0.2, 1.2, (100, 100, 4)).astype(np.float32)
    seen = []
    fp.visible_face(image, landmarks(), [masker(lambda c: seen.append(c) or np.ones((SIZE, SIZE),
                                                                                  np.float32))])
    (crop,) = seen
    assert crop.shape == (SIZE, SIZE, 3) and crop.min() >= 0 and crop.max() <= 1
    assert np.allclose(crop, np.clip(image[20:84, 10:74, :3], 0, 1), atol=1e-4)


def test_occlusion_probability_is_feathered_into_the_face():
    image = np.zeros((100, 100, 3), np.float32)
    half = np.zeros((SIZE, SIZE), np.float32)
    half[:, 32:] = 1.0                                          # the crop's right half is face
    out = fp.visible_face(image, landmarks(), [masker(lambda c: half)])
    assert out.shape == (100, 100) and out.dtype == np.float32
    assert np.all(out[:20] == 1) and np.all(out[:, 75:] == 1)   # outside the crop: 1
    assert np.all(out[25:80, 12:40] == 0) and np.all(out[25:80, 45:72] == 1)
    assert out[50, 41] == 0 and 0.1 < out[50, 42] < 0.5 < out[50, 43]   # the edge moved inward
    sure = fp.visible_face(image, landmarks(), [masker(lambda c: np.full((SIZE, SIZE), 0.9,
                                                                         np.float32))])
    assert np.allclose(sure[30:70, 20:60], 0.6, atol=1e-5)      # 4 p - 3: only confident face


def test_the_feather_is_a_fraction_of_the_crop_width():
    assert fp.EDGE == pytest.approx(0.01)
    step = np.zeros((512, 512), np.float32)
    step[:, 256:] = 1.0
    prob = fp._face_probability(masker(lambda c: step, size=512), np.zeros((512, 512, 3)))
    first = int(np.argmax(prob[256] > 0))
    assert first == 259 and 0.2 < prob[256, 260] < 0.3              # shrinks ~2/3 of 5 px
    assert 0.99 < prob[256, 272] < 0.999 and prob[256, 300] == 1.0  # fades over ~3 times it
    across = fp._face_probability(masker(lambda c: np.ascontiguousarray(step.T), size=512),
                                  np.zeros((512, 512, 3)))
    assert np.allclose(across, prob.T, atol=1e-4)                   # feathered both ways
    small = fp._face_probability(masker(lambda c: step[:16, 248:264], size=16),
                                 np.zeros((16, 16, 3)))
    assert small[8, 7] == 0 and 0.5 < small[8, 8] < 0.65 < 0.99 < small[8, 9]   # sigma 0.5 px


def test_parsing_classes_count_as_face_or_not():
    assert fp.FACE_CLASSES == (1, 2, 3, 4, 5, 10, 11, 12, 13)
    assert [fp.CLASSES[c] for c in fp.FACE_CLASSES] == [
        "skin", "left_brow", "right_brow", "left_eye", "right_eye", "nose", "mouth",
        "upper_lip", "lower_lip"]
    for cls in range(len(fp.CLASSES)):
        labels = np.full((SIZE, SIZE), cls, np.float32)
        out = fp.visible_face(np.zeros((100, 100, 3), np.float32), landmarks(),
                              [masker(lambda c, l=labels: l, kind=PARSING)])
        assert out[50, 40] == (1.0 if cls in fp.FACE_CLASSES else 0.0), fp.CLASSES[cls]


def test_maskers_combine_by_the_minimum_and_boxes_cut_the_answer():
    image = np.zeros((100, 100, 3), np.float32)
    left, top = np.ones((SIZE, SIZE), np.float32), np.ones((SIZE, SIZE), np.float32)
    left[:, :32] = 0
    top[:32] = 0
    both = [masker(lambda c: left), masker(lambda c: top)]
    out = fp.visible_face(image, landmarks(), both)
    assert out[30, 30] == 0 and out[30, 60] == 0 and out[70, 30] == 0 and out[70, 60] == 1
    box = (5, 15, 60, 70)
    part = fp.visible_face(image, landmarks(), both, box=box)
    assert part.shape == (55, 55) and np.allclose(part, out[15:70, 5:60], atol=1e-5)
    assert np.all(fp.visible_face(image, landmarks(), []) == 1)
    wide = fp.visible_face(np.zeros((100, 130, 3), np.float32), landmarks(), both)
    assert wide.shape == (100, 130) and np.allclose(wide[:, :100], out, atol=1e-5)
