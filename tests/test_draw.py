"""`vision/draw.py`: what the face preview draws, where, in which colour and at which size,
on black synthetic frames (issue 15 item 4: outcomes that kill behaviour-changing mutants).
"""
import cv2
import numpy as np
import pytest

from face_pipeline.vision import draw
from face_pipeline.vision.face import Face

KEYPOINTS = [[60, 70], [100, 70], [80, 90], [65, 110], [95, 110]]


def face(**changes):
    landmarks = np.zeros((478, 3), np.float32)
    landmarks[:, :2] = [150, 40]           # mesh points all on one pixel ...
    landmarks[469:, :2] = [170, 40]        # ... the iris points on another
    landmarks[468, :2] = [190, 40]         # (the first iris point, the iris centre, apart)
    base = Face(np.array([40, 50, 120, 140], np.float32), 0.87,
                np.array(KEYPOINTS, np.float32), landmarks=landmarks)
    return base.with_(**changes)


def near(pixels, colour):
    """Pixels drawn in ``colour`` (anti-aliased lines reach about 90 % of it)."""
    return np.abs(np.asarray(pixels, int) - colour).max(-1) <= 30


def drawn(faces, size=256, grey=0, **options):
    frame = np.full((size, size, 3), grey, np.uint8)
    out = draw.draw_faces(frame, tuple(faces), **options)
    assert (frame == grey).all()           # a copy: the input frame is untouched
    return out


def test_boxes_keypoints_and_mesh_in_their_colours():
    out = drawn([face()], labels=False)
    assert near(out[[50, 140, 95, 95], [80, 80, 40, 120]], draw.BOX).all()
    assert out[95, 80].tolist() == [0, 0, 0]                        # inside the box: empty
    for (x, y), colour in zip(KEYPOINTS, draw.KEYPOINTS):
        assert near(out[y, x], colour) and near(out[y, x + 2], colour)   # radius 3 at unit 1
        assert not out[y, x + 5].any()
    assert near(out[40, 150], draw.MESH) and near(out[40, 170], draw.IRIS)
    assert near(out[40, 190], draw.IRIS)
    assert not out[40, 153].any()                                   # mesh dots: radius 1


def test_each_part_can_be_left_out():
    nothing = drawn([face()], boxes=False, landmarks=False, keypoints=False, labels=False)
    assert not nothing.any()
    no_box = drawn([face()], boxes=False, labels=False)
    assert not no_box[50, 80].any() and no_box[70, 60].any()
    no_mesh = drawn([face()], landmarks=False, labels=False)
    assert not no_mesh[40, 150].any() and no_mesh[50, 80].any()
    no_points = drawn([face()], keypoints=False, labels=False)
    assert not no_points[70, 60].any() and no_points[40, 150].any()
    bare = drawn([face(landmarks=None)], labels=False)              # no mesh yet: no dots
    assert not bare[40, 150].any()


def test_lines_and_dots_grow_with_the_frame():
    big = drawn([face(box=[400, 500, 800, 900], keypoints=[[600, 700]] * 5, landmarks=None)],
                size=1024, labels=False)                            # unit 2
    assert near(big[[500, 501], 600], draw.BOX).all()               # 2 px wide box line
    assert big[700, 604].any() and not big[700, 608].any()          # dot radius 5
    small = drawn([face(box=[40, 50, 120, 140])], size=700, labels=False)   # 700/512 -> 1
    assert not small[52, 80].any()
    three_halves = drawn([face(box=[40, 50, 120, 140])], size=768, labels=False)   # -> 2
    assert near(three_halves[[50, 51], 80], draw.BOX).all()
    dots = drawn([face(box=[400, 500, 800, 900], keypoints=[[600, 700]] * 5)], size=1024,
                 labels=False, boxes=False, keypoints=False)
    assert near(dots[40, 150], draw.MESH) and near(dots[40, 170], draw.IRIS)   # filled dots


def test_lines_and_dots_are_anti_aliased():
    out = drawn([face()], labels=False)
    line = out[47:54, 80, 1]                                        # across the top edge
    assert 0 < line.min(initial=255, where=line > 0) < 150          # soft fringe pixels
    for x, y in ((60, 70), (150, 40)):                              # a keypoint, a mesh dot
        ring = out[y - 5:y + 6, x - 5:x + 6].max(-1)
        assert ((ring > 0) & (ring < 240)).any()


def expected_label(text, box_xy, size=256, grey=128):
    """The label as the preview should draw it: ``text`` in OpenCV's simplex font at 0.4 x
    unit, a black outline 3 units wide under a box-coloured stroke of 1 unit, anti-aliased,
    4 units above the box (at least 10 units from the top)."""
    frame = np.full((size, size, 3), grey, np.uint8)
    unit = max(1, round(size / 512))
    origin = (int(box_xy[0]), max(int(box_xy[1]) - 4 * unit, 10 * unit))
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * unit, (0, 0, 0),
                3 * unit, cv2.LINE_AA)
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * unit, draw.BOX,
                unit, cv2.LINE_AA)
    return frame


@pytest.mark.parametrize("changes, text, size", [
    ({}, "#0 0.87", 256),
    ({"track_id": 3}, "#0 0.87 track 3", 256),
    ({"track_id": 12, "filled": True}, "#0 0.87 track 12 (filled)", 256),
    ({"pose": [10.4, -5, 2.6], "score": 0.5}, "#0 0.50 yaw +10 pitch -5 roll +3", 256),
    ({"box": [300, 400, 700, 800]}, "#0 0.87", 1024),
    ({"box": [40, 2, 120, 140]}, "#0 0.87", 256),                   # kept inside the frame
])
def test_labels_read_index_score_track_and_pose(changes, text, size):
    out = drawn([face(**changes)], size=size, grey=128, boxes=False, landmarks=False,
                keypoints=False)
    box = face(**changes).box
    assert np.array_equal(out, expected_label(text, box, size))


def label_pixels(**changes):
    out = drawn([face(**changes)], boxes=False, landmarks=False, keypoints=False)
    rows = out[20:56]                                   # the band above the box (descenders)
    assert not out[56:].any()
    return rows, int(near(rows, draw.BOX).sum())


def test_labels_sit_above_the_box_and_grow_with_what_is_known():
    rows, plain = label_pixels()
    assert plain > 20 and rows[:, :40].sum() == 0                   # starts at the box's left
    _, tracked = label_pixels(track_id=3)
    _, filled = label_pixels(track_id=3, filled=True)
    _, posed = label_pixels(pose=[10, -5, 2])
    assert plain < tracked < filled and plain < posed
    _, other = label_pixels(score=0.12)
    assert other != plain
    top = drawn([face(box=[40, 2, 120, 140])], boxes=False, landmarks=False, keypoints=False)
    assert top[:14].any()                                           # kept inside the frame
    two = drawn([face(), face(box=[140, 150, 200, 220])], landmarks=False, keypoints=False)
    assert near(two[150, 170], draw.BOX)                            # every face drawn
