"""Finding every face with Detect Faces' defaults (issue 9): small faces in large frames, a
small second face, rotated images, faces cut by the frame edge, and few false positives.

Frames come from tests/scenes.py.  Seeds here (1000+, 20000+) differ from the calibration
seeds the scan's thresholds were fitted on (vision/detection.py: SCAN_ACCEPT, FACE_RANGE).
"""
import cv2
import numpy as np
import pytest
from conftest import as_image, load_rgb
from scenes import PORTRAITS, crowd_frame, face_free, hits

from face_pipeline.pipeline import faces as ops
from face_pipeline.vision import detection as det

SIZES = [16, 24, 32, 48, 64, 96]


def boxes_of(faces, frame=0):
    return np.array([f.box for f in faces.frames[frame]], np.float32).reshape(-1, 4)


@pytest.mark.parametrize("height,width", [(720, 1280), (1080, 1920)])
def test_small_faces_found_with_defaults(height, width):
    """>= 95% of faces found at 24 px and above, >= 80% at 16 px, each within half a face width
    (6 portraits x flat and busy backgrounds per size)."""
    rates = {}
    for size in SIZES:
        found = []
        for kind in ("flat", "busy"):
            frame, centers = crowd_frame(height, width, size, kind, seed=1000 + size + height)
            found += list(hits(boxes_of(ops.detect_faces(as_image(frame))), centers, size))
        rates[size] = np.mean(found)
    assert rates[16] >= 0.8, rates
    assert all(rates[s] >= 0.95 for s in SIZES[1:]), rates


def test_small_second_face_is_found_next_to_a_large_one():
    """group/two_people.jpg upscaled to 2000 px wide with the right-hand face shrunk 4x."""
    rgb = load_rgb("group/two_people.jpg")
    faces = ops.detect_faces(as_image(rgb), order="left_to_right").frames[0]
    scale = 2000 / rgb.shape[1]
    frame = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    x1, y1, x2, y2 = (faces[1].box * scale).astype(int)
    cx, cy, side = (x1 + x2) // 2, (y1 + y2) // 2, int(0.8 * max(x2 - x1, y2 - y1))
    region = frame[cy - side:cy + side, cx - side:cx + side]
    small = cv2.resize(region, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    region[:] = cv2.GaussianBlur(region, (0, 0), side / 4)  # the large face is gone
    h = small.shape[0]
    region[side - h // 2:side - h // 2 + h, side - h // 2:side - h // 2 + h] = small
    found = ops.detect_faces(as_image(frame), order="left_to_right").frames[0]
    assert len(found) == 2, [f.box for f in found]
    small_face = found[1]
    assert abs(small_face.center[0] - cx) < 0.15 * side and small_face.width < 0.5 * side


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_rotated_portraits_one_face_keypoints_in_order(angle):
    """Every test portrait turned by ``angle``: one face; mapped back upright, its eye on the
    image's left is left of the other and both are above the mouth, close to the upright
    detection's keypoints."""
    for relpath in PORTRAITS:
        rgb = load_rgb(relpath)
        rgb = cv2.resize(rgb, None, fx=640 / max(rgb.shape[:2]), fy=640 / max(rgb.shape[:2]),
                         interpolation=cv2.INTER_AREA)
        upright = ops.detect_faces(as_image(rgb)).frames[0][0]
        turned = det.rotate_frame(rgb, angle)
        faces = ops.detect_faces(as_image(turned), rotations="0,90,180,270").frames[0]
        assert len(faces) == 1, (relpath, [f.box for f in faces])
        kps = det.unrotate_points(faces[0].keypoints, angle, *rgb.shape[:2])
        assert kps[0, 0] < kps[1, 0], relpath
        assert kps[:2, 1].max() < kps[3:, 1].min(), relpath
        assert np.abs(kps - upright.keypoints).max() < 0.15 * upright.width, relpath


@pytest.mark.parametrize("side", ["left", "right"])
def test_face_cut_in_half_by_the_frame_edge(side):
    rgb = cv2.resize(load_rgb("faces/grace_hopper/1.jpg"), (384, 450), interpolation=cv2.INTER_AREA)
    face = ops.detect_faces(as_image(rgb)).frames[0][0]
    frame = np.full((720, 1280, 3), 100, np.uint8)
    cut = int(face.center[0])  # the frame edge runs through the middle of the face
    y = 150
    if side == "left":
        frame[y:y + 450, :384 - cut] = rgb[:, cut:]
        edge_x = 0
    else:
        frame[y:y + 450, 1280 - cut:] = rgb[:, :cut]
        edge_x = 1280
    faces = ops.add_landmarks(as_image(frame), ops.detect_faces(as_image(frame)))
    assert faces.count == 1
    found = faces.frames[0][0]
    assert found.box[0] < edge_x < found.box[2]  # the box reaches past the edge
    assert abs(found.center[1] - (y + face.center[1])) < 0.25 * face.height
    assert found.landmark_score > 0.5


def test_face_free_frames_have_no_false_faces():
    """12 face-free 720p frames (busy shapes and grain, flat, blurred noise, stripes): no face,
    with the default scan and with every tile scanned."""
    frames = [face_free(720, 1280, 20000 + k) for k in range(12)]
    image = as_image(*frames)
    assert ops.detect_faces(image).count == 0
    assert ops.detect_faces(image, scan="whole_frame+tiles").count == 0
