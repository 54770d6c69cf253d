"""Unit tests of vision/detection.py on synthetic inputs with known answers (issue 15 item 4:
they kill mutants; tools/mutation/modules.txt runs them against vision/detection.py).

The stand-in detector finds "faces" drawn as white squares with a dark mark in their upper
half (so it only sees upright faces): no models, milliseconds per test.
"""
import math

import cv2
import numpy as np
import pytest

from face_pipeline.vision import detection as det


class MarkedSquares:
    """Stand-in detector: a face is a white blob (> 200) with a dark hole in its upper half.
    Boxes in pixel-edge coordinates; keypoint 0 is the hole's centre, the others the box's."""

    def __init__(self, size=128, score=0.9):
        self.size, self.score, self.calls, self.batches = size, score, 0, []

    def _find(self, img, threshold):
        g = img.astype(np.float32)
        if img.dtype != np.uint8:
            g = g * 255
        mask = (g.mean(-1) > 200).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        boxes, kps, scores = [], [], []
        for x, y, bw, bh, _area in stats[1:]:
            if bw < 4 or bh < 4 or self.score < threshold:
                continue
            region = mask[y:y + bh, x:x + bw] == 0
            top, bottom = region[:bh // 2].sum(), region[bh - bh // 2:].sum()
            if top <= 2 * bottom or top == 0:
                continue
            ys, xs = np.nonzero(region[:bh // 2])
            c = (x + bw / 2, y + bh / 2)
            boxes.append([x, y, x + bw, y + bh])
            kps.append([(x + xs.mean() + 0.5, y + ys.mean() + 0.5)] + [c] * 4)
            scores.append(self.score)
        return (np.array(boxes, np.float32).reshape(-1, 4), np.array(kps, np.float32).reshape(-1, 5, 2),
                np.array(scores, np.float32))

    def __call__(self, frame, threshold):
        self.calls += 1
        return self._find(frame, threshold)

    def detect_batch(self, images, threshold):
        self.batches.append(images.shape)
        return [self._find(im, threshold) for im in images]


class Letterboxed(MarkedSquares):
    """The whole-frame pass sees the frame shrunk to ``size`` (as the real detectors do)."""

    def __call__(self, frame, threshold):
        self.calls += 1
        s = min(1.0, self.size / max(frame.shape[:2]))
        small = cv2.resize(frame, (round(frame.shape[1] * s), round(frame.shape[0] * s)),
                           interpolation=cv2.INTER_AREA)
        b, k, sc = self._find(small, threshold)
        return b / s, k / s, sc


def draw_face(frame, x, y, side):
    """A marked square at (x, y) of ``side`` px; returns its box and the mark's centre."""
    frame[y:y + side, x:x + side] = 255
    m = max(1, side // 4)
    mx, my = x + side // 2 - m // 2, y + side // 8
    frame[my:my + m, mx:mx + m] = 0
    return np.array([x, y, x + side, y + side], np.float32), np.array([mx + m / 2, my + m / 2])


# --------------------------------------------------------------------------- pre-processing

def test_letterbox_centred_and_top_left():
    frame = np.full((100, 200, 3), 255, np.uint8)
    out, lb = det.letterbox(frame, 100)
    assert out.shape == (100, 100, 3) and out.dtype == np.uint8
    assert (lb.scale, lb.pad_x, lb.pad_y) == (0.5, 0.0, 25.0)
    assert out[:25].max() == 0 and out[75:].max() == 0 and out[25:75].min() == 255
    np.testing.assert_allclose(lb.to_frame(np.array([[50.0, 50.0], [0.0, 25.0]])), [[100, 50], [0, 0]])
    out, lb = det.letterbox(frame, 100, center=False)
    assert (lb.pad_x, lb.pad_y) == (0.0, 0.0)
    assert out[:50].min() == 255 and out[50:].max() == 0


def test_letterbox_enlarges_small_frames_linearly():
    frame = np.zeros((10, 20, 3), np.float32)
    frame[:, 10:] = 1.0
    out, lb = det.letterbox(frame, 40)
    assert (lb.scale, lb.pad_x, lb.pad_y) == (2.0, 0.0, 10.0)
    assert out[10:30, :18].max() == 0 and out[10:30, 22:].min() == 1.0
    assert 0 < out[20, 19, 0] < 1  # bilinear, not nearest
    tall = np.ones((30, 7, 3), np.float32)
    out, lb = det.letterbox(tall, 8)
    assert lb.pad_x == 3.0 and out[:, 3, 0].min() > 0.99 and out[:, :3].max() == 0


# --------------------------------------------------------------------------- anchors, decoding

def test_ssd_anchor_centres_blazeface_layout():
    a = det.ssd_anchor_centers(128, 128, [8, 16, 16, 16], [2, 2, 2, 2])
    assert a.shape == (16 * 16 * 2 + 8 * 8 * 6, 2) and a.dtype == np.float32
    np.testing.assert_allclose(a[:3], [[4, 4], [4, 4], [12, 4]])
    np.testing.assert_allclose(a[32], [4, 12])
    np.testing.assert_allclose(a[512:519], [[8, 8]] * 6 + [[24, 8]])
    b = det.ssd_anchor_centers(64, 128, [32], [1])  # not square: x runs fastest
    np.testing.assert_allclose(b, [[16, 16], [48, 16], [80, 16], [112, 16],
                                   [16, 48], [48, 48], [80, 48], [112, 48]])
    c = det.ssd_anchor_centers(40, 40, [16], [1])  # ceil(40/16) = 3 cells, spread over 40 px
    np.testing.assert_allclose(c[:3, 0], [40 / 6, 20, 40 - 40 / 6], rtol=1e-6)


def test_decode_ssd_boxes_keypoints_scores():
    raw = np.array([[1, 2, 10, 20, 3, 4, -5, 6]], np.float32)
    anchors = np.array([[50, 60]], np.float32)
    boxes, kps, scores = det.decode_ssd(raw, np.array([2.0]), anchors, 2)
    np.testing.assert_allclose(boxes, [[46, 52, 56, 72]])
    np.testing.assert_allclose(kps, [[[53, 64], [45, 66]]])
    np.testing.assert_allclose(scores, [1 / (1 + math.exp(-2))])
    _, _, s = det.decode_ssd(np.zeros((3, 6)), np.array([0.0, -1e4, 1e4]), np.zeros((3, 2)), 1)
    assert s[0] == 0.5 and 0 <= s[1] < 1e-40 and s[2] == 1.0 and np.isfinite(s).all()


def test_scrfd_anchors_and_decoding():
    c = det.scrfd_anchor_centers(32, 64, 16, 2)
    assert c.shape == (16, 2) and c.dtype == np.float32
    np.testing.assert_allclose(c[:4], [[0, 0], [0, 0], [16, 0], [16, 0]])
    np.testing.assert_allclose(c[8], [0, 16])
    boxes, points, scores = det.decode_scrfd(np.array([[0.7]]), np.array([[1, 2, 3, 4]], np.float32),
                                             np.array([[1, 1, 2, -2]], np.float32),
                                             np.array([[16, 16]], np.float32), 8)
    np.testing.assert_allclose(boxes, [[8, 0, 40, 48]])
    np.testing.assert_allclose(points, [[[24, 24], [32, 0]]])
    assert scores.shape == (1,) and scores[0] == pytest.approx(0.7)
    assert det.decode_scrfd(np.ones(1), np.ones((1, 4)), None, np.zeros((1, 2)), 8)[1] is None


# --------------------------------------------------------------------------- NMS

def test_iou_and_containment():
    box = np.array([0, 0, 10, 10], np.float32)
    boxes = np.array([[5, 0, 15, 10], [2, 2, 4, 4], [20, 20, 30, 30], [0, 0, 10, 10],
                      [3, 3, 3, 9], [0, 5, 10, 20]], np.float32)
    np.testing.assert_allclose(det.iou(box, boxes), [1 / 3, 0.04, 0, 1, 0, 50 / 200], rtol=1e-6)
    np.testing.assert_allclose(det.iou(box, boxes, containment=True), [0.5, 1, 0, 1, 0, 50 / 100],
                               rtol=1e-6)
    # boxes with x2 < x1 have no area (not a negative one)
    assert det.iou(box, np.array([[8, 0, 2, 10]], np.float32))[0] == 0
    assert det.iou(box, np.array([[0, 8, 10, 2]], np.float32))[0] == 0
    inv = np.array([[5, 5, 15, 15]], np.float32)
    np.testing.assert_allclose(det.iou(np.array([0, 0, 10, 10]), inv), [25 / 175])
    np.testing.assert_allclose(det.iou(np.array([12, 0, 2, 10]), np.array([[0, 0, 10, 10]])), [0])


def test_nms_indices_keeps_best_and_boundary():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [40, 40, 50, 50], [1, 0, 11, 10]], np.float32)
    scores = np.array([0.5, 0.9, 0.3, 0.7])
    assert det.nms_indices(boxes, scores, 0.3).tolist() == [1, 2]  # iou(1, 3) 0.43, (1, 0) 1/3
    assert det.nms_indices(boxes, scores, 0.5).tolist() == [1, 3, 2]  # iou(3, 0) = 0.82
    assert det.nms_indices(boxes, scores, 0.9).tolist() == [1, 3, 0, 2]
    # iou exactly at the threshold is not suppressed
    two = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], np.float32)
    assert det.nms_indices(two, np.array([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert det.nms_indices(two, np.array([0.9, 0.8]), 0.49).tolist() == [0]
    # containment: a box inside a better one goes
    inside = np.array([[0, 0, 100, 100], [10, 10, 30, 30]], np.float32)
    assert det.nms_indices(inside, np.array([0.9, 0.8]), 0.3).tolist() == [0, 1]
    assert det.nms_indices(inside, np.array([0.9, 0.8]), 0.3, containment=True).tolist() == [0]
    assert det.nms_indices(inside[:1], np.array([0.2]), 0.3).tolist() == [0]
    assert det.nms_indices(inside[:0], np.zeros(0), 0.3).tolist() == []
    # ties keep the input order
    far = np.array([[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]], np.float32)
    assert det.nms_indices(far, np.array([0.5, 0.5, 0.5]), 0.3).tolist() == [0, 1, 2]
    assert det.nms_indices(far, np.array([0.1, 0.5, 0.5]), 0.3).dtype == np.int64


def test_nms_plain_and_weighted():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    kps = np.array([[[0, 0]], [[4, 2]], [[55, 55]]], np.float32)
    scores = np.array([0.6, 0.9, 0.4], np.float32)
    b, k, s = det.nms(boxes, kps, scores, 0.3)
    np.testing.assert_allclose(b, [[2, 0, 12, 10], [50, 50, 60, 60]])
    np.testing.assert_allclose(k, [[[4, 2]], [[55, 55]]])
    np.testing.assert_allclose(s, [0.9, 0.4])
    assert b.dtype == k.dtype == s.dtype == np.float32
    b, k, s = det.nms(boxes, kps, scores, 0.3, weighted=True)
    w = np.array([0.9, 0.6]) / 1.5
    np.testing.assert_allclose(b[0], w[0] * boxes[1] + w[1] * boxes[0], rtol=1e-6)
    np.testing.assert_allclose(k[0], w[0] * kps[1] + w[1] * kps[0], rtol=1e-6)
    np.testing.assert_allclose(s, [0.9, 0.4])
    np.testing.assert_allclose(b[1], boxes[2])
    # a weak overlapping detection below blend_floor does not move a confident box ...
    b, _, _ = det.nms(boxes, kps, scores, 0.3, weighted=True, blend_floor=0.7)
    np.testing.assert_allclose(b[0], boxes[1])
    b, _, _ = det.nms(boxes, kps, scores, 0.3, weighted=True, blend_floor=0.6)
    np.testing.assert_allclose(b[0], w[0] * boxes[1] + w[1] * boxes[0], rtol=1e-6)
    # ... but a weak kept one still blends all its group
    b, _, s = det.nms(boxes, kps, scores * 0.5, 0.3, weighted=True, blend_floor=0.7)
    np.testing.assert_allclose(b[0], w[0] * boxes[1] + w[1] * boxes[0], rtol=1e-6)
    # overlap exactly at the threshold is a separate face
    b, _, _ = det.nms(boxes[:2], kps[:2], scores[:2], float(det.iou(boxes[0], boxes[1:2])[0]))
    assert len(b) == 2
    b, k, s = det.nms(boxes[:0], kps[:0], scores[:0], 0.3)
    assert b.shape == (0, 4) and k.shape == (0, 1, 2) and s.shape == (0,)
    inside = np.array([[0, 0, 100, 100], [10, 10, 30, 30]], np.float32)
    assert len(det.nms(inside, kps[:2], scores[:2], 0.3)[0]) == 2
    assert len(det.nms(inside, kps[:2], scores[:2], 0.3, containment=True)[0]) == 1


# --------------------------------------------------------------------------- selection

def test_adaptive_threshold():
    assert det.adaptive_threshold(0.5, 256) == pytest.approx(0.5)
    assert det.adaptive_threshold(0.5, 4000) == pytest.approx(0.5)
    assert det.adaptive_threshold(0.5, 48) == pytest.approx(0.3)
    assert det.adaptive_threshold(0.5, 10) == pytest.approx(0.3)
    assert det.adaptive_threshold(0.5, 0) == pytest.approx(0.3)
    assert det.adaptive_threshold(0.5, round(math.sqrt(48 * 256))) == pytest.approx(0.4, abs=2e-3)
    assert det.adaptive_threshold(0.8, 48, floor_ratio=0.5) == pytest.approx(0.4)
    assert det.adaptive_threshold(0.5, 100, small=100, large=400) == pytest.approx(0.3)
    assert det.adaptive_threshold(0.5, 200, small=100, large=400) == pytest.approx(0.4)
    assert det.adaptive_threshold(0.5, 400, small=100, large=400) == pytest.approx(0.5)


def test_order_indices():
    boxes = np.array([[50, 0, 60, 10], [0, 30, 30, 60], [20, 5, 25, 80]], np.float32)
    scores = np.array([0.7, 0.5, 0.9])
    assert det.order_indices(boxes, scores, "largest").tolist() == [1, 2, 0]  # 900, 375, 100
    assert det.order_indices(boxes, scores, "left_to_right").tolist() == [1, 2, 0]
    assert det.order_indices(boxes[[0, 2]], scores[:2], "left_to_right").tolist() == [1, 0]
    assert det.order_indices(boxes, scores, "top_to_bottom").tolist() == [0, 2, 1]  # 10, 85, 90
    assert det.order_indices(boxes, scores, "score").tolist() == [2, 0, 1]
    wide = np.array([[0, 0, 10, 10], [0, 0, 20, 4]], np.float32)  # 100 > 80: not by width
    assert det.order_indices(wide, scores[:2], "largest").tolist() == [0, 1]
    tall = np.array([[0, 0, 4, 20], [0, 0, 10, 10]], np.float32)  # not by height
    assert det.order_indices(tall, scores[:2], "largest").tolist() == [1, 0]
    # ties keep the detection order; left_to_right uses centres (x1 + x2), not x1 alone
    same = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 0, 7, 10]], np.float32)
    assert det.order_indices(same[:2], np.array([0.5, 0.5]), "largest").tolist() == [0, 1]
    assert det.order_indices(same, np.array([0.5, 0.5, 0.5]), "left_to_right").tolist() == [2, 0, 1]
    assert det.order_indices(same[:, [1, 0, 3, 2]], np.zeros(3), "top_to_bottom").tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="unknown face order 'biggest'.*largest"):
        det.order_indices(boxes, scores, "biggest")


# --------------------------------------------------------------------------- scan geometry

def test_scan_scales():
    assert det.scan_scales(720, 1280, 128) == [1.0, 0.25]
    assert det.scan_scales(4096, 3000, 128) == [0.5, 0.125]
    assert det.scan_scales(128, 128, 128) == []
    assert det.scan_scales(100, 60, 128) == []
    assert det.scan_scales(300, 200, 128) == [1.0]  # 100 px at 1.0 >= 16 / (128/300) = 37.5
    assert det.scan_scales(1920, 1080, 128) == [1.0, 0.25]
    assert det.scan_scales(3840, 2160, 128) == [1.0, 0.25, 0.0625]  # 32 px: not > 32, stays at 1
    assert det.scan_scales(3841, 100, 128) == [0.5, 0.125]
    assert det.scan_scales(2000, 2000, 1500) == [1.0]
    assert det.scan_scales(2000, 2000, 2000) == []
    assert det.scan_scales(2000, 10, 1000) == [1.0]  # whole 0.5: 100 >= 32 stops at one level
    assert det.scan_scales(6000, 10, 100) == [0.5, 0.125, 0.03125]


def test_axis_tiles_and_level_tiles():
    assert det._axis_tiles(1000, 64, 32) == (384, [0, 308, 616])
    assert det._axis_tiles(100, 64, 32) == (128, [0])
    assert det._axis_tiles(384, 64, 32) == (384, [0])
    assert det._axis_tiles(385, 64, 32) == (256, [0, 129])
    assert det._axis_tiles(700, 64, 16) == (384, [0, 316])
    assert det._axis_tiles(700, 100, 16) == (304, [0, 198, 396])
    side, xs = det._axis_tiles(5000, 64, 32)
    assert side <= det.MAX_TILE and xs[0] == 0 and xs[-1] + side == 5000
    assert min(b - a for a, b in zip(xs, xs[1:])) <= side - 64  # neighbours overlap >= 64
    th, tw, origins = det.level_tiles(400, 1000)
    assert (th, tw) == (256, 384)
    assert origins == [(0, 0), (308, 0), (616, 0), (0, 144), (308, 144), (616, 144)]
    assert det.level_tiles(400, 1000, multiple=64)[:2] == (256, 384)
    assert det.level_tiles(90, 90, multiple=64) == (128, 128, [(0, 0)])


def test_cut_by_inner_edge_and_covered():
    boxes = np.array([[0, 10, 20, 30], [1, 10, 20, 30], [2, 10, 20, 30], [10, 1, 20, 20],
                      [10, 10, 99, 20], [10, 10, 98, 20], [10, 10, 20, 99]], np.float32)
    # a tile in the middle of the image: every edge is inner
    cut = det._cut_by_inner_edge(boxes, 100, 100, 100, 100, 1000, 1000)
    assert cut.tolist() == [True, True, False, True, True, False, True]
    # the image's own top-left corner: left and top edges are not cuts
    cut = det._cut_by_inner_edge(boxes, 0, 0, 100, 100, 1000, 1000)
    assert cut.tolist() == [False, False, False, False, True, False, True]
    # the image's bottom-right corner: right and bottom edges are not cuts
    cut = det._cut_by_inner_edge(boxes, 900, 900, 100, 100, 1000, 1000)
    assert cut.tolist() == [True, True, False, True, False, False, False]
    # only the top edge inner / only the right edge inner
    assert det._cut_by_inner_edge(boxes, 0, 5, 100, 100, 100, 1000).tolist() == \
        [False, False, False, True, False, False, True]
    assert det._cut_by_inner_edge(boxes, 0, 0, 100, 100, 101, 100).tolist() == \
        [False, False, False, False, True, False, False]
    skip = np.array([[0, 0, 50, 50], [100, 100, 200, 200]], np.float32)
    assert det._covered(10, 10, 50, 50, skip) is True
    assert det._covered(100, 100, 200, 200, skip) is True
    assert det._covered(10, 10, 51, 50, skip) is False
    assert det._covered(10, 10, 50, 51, skip) is False
    assert det._covered(99, 100, 150, 150, skip) is False
    assert det._covered(100, 99, 150, 150, skip) is False
    assert det._covered(0, 0, 1, 1, skip[:0]) is False


# --------------------------------------------------------------------------- rotations

@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_rotation_round_trip(angle):
    h, w = 60, 100
    frame = np.zeros((h, w, 3), np.uint8)
    frame[10:20, 30:50] = 255  # box [30, 10, 50, 20]
    view = det.rotate_frame(frame, angle)
    assert view.flags["C_CONTIGUOUS"]
    assert view.shape[:2] == ((h, w) if angle in (0, 180) else (w, h))
    ys, xs = np.nonzero(view[..., 0])
    rbox = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    if angle == 90:  # clockwise: the top of the frame is now its right side
        assert xs.min() == h - 20 and rbox[0, 2] == h - 10
    kps = np.array([[[30, 10], [50, 20]]], np.float32)
    rk = det._rotate_boxes(kps.reshape(1, 4), angle, h, w).reshape(1, 2, 2)
    np.testing.assert_allclose(rk.reshape(1, 4), rbox)
    np.testing.assert_allclose(det._rotate_boxes(np.array([[30, 10, 50, 20]], np.float32), angle, h, w),
                               rbox)
    boxes, k, s = det._unrotate((rbox, rk, np.array([0.7])), angle, h, w)
    np.testing.assert_allclose(boxes, [[30, 10, 50, 20]])
    assert s.tolist() == [0.7]
    pts = det.unrotate_points(np.array([[rbox[0, 0], rbox[0, 1]], [rbox[0, 2], rbox[0, 3]]]), angle, h, w)
    assert pts.dtype == np.float32
    np.testing.assert_allclose(np.sort(pts, 0), [[30, 10], [50, 20]])


def test_unrotate_points_maps_each_corner():
    # the frame's top-left corner (0, 0) seen in each rotated view
    h, w = 60, 100
    views = {90: (h, 0), 180: (w, h), 270: (0, w)}
    for angle, p in views.items():
        np.testing.assert_allclose(det.unrotate_points(np.array(p, np.float32), angle, h, w), [0, 0])
    np.testing.assert_allclose(det.unrotate_points(np.array([[3, 4]]), 0, h, w), [[3, 4]])
    np.testing.assert_allclose(det.unrotate_points(np.array([[3, 4]]), 90, h, w), [[4, 57]])
    np.testing.assert_allclose(det.unrotate_points(np.array([[3, 4]]), 270, h, w), [[96, 3]])


def test_parse_rotations():
    assert det.parse_rotations("0") == [0]
    assert det.parse_rotations("270, 90,0,90") == [0, 90, 270]
    assert det.parse_rotations(" 180 ,") == [180]
    assert det.parse_rotations(180) == [180]
    for bad in ("", "45", "0,x", ",", "0,360", None):
        with pytest.raises(ValueError, match=r"rotations: expected angles from 0, 90, 180, 270 .*"
                                             r"'0,90,180,270'.*got"):
            det.parse_rotations(bad)


# --------------------------------------------------------------------------- passes

def test_scan_pyramid_finds_small_face_in_frame_pixels():
    frame = np.zeros((720, 1280, 3), np.uint8)
    box, mark = draw_face(frame, 600, 300, 24)
    d = MarkedSquares()
    found = det.scan_pyramid(frame, d, 0.5)
    assert len(found) == 2  # 1 and 1/4
    b, k, s = found[0]
    assert len(b) == 1, b  # found whole in one tile; the cut parts in its neighbours dropped
    np.testing.assert_allclose(b[0], box, atol=0.01)
    np.testing.assert_allclose(k[0, 0], mark, atol=0.01)
    assert s.tolist() == [pytest.approx(0.9)]
    assert d.batches[0][1:] == (320, 384, 3) and d.batches[0][0] == 12
    # below threshold: nothing
    assert [len(level[0]) for level in det.scan_pyramid(frame, MarkedSquares(score=0.4), 0.5)] == [0, 0]
    # a verified face covering the frame: no tile is looked at
    d = MarkedSquares()
    assert det.scan_pyramid(frame, d, 0.5, skip_boxes=np.array([[-50, -50, 1400, 800]])) == []
    assert d.batches == []
    # flat tiles skipped only when asked
    d = MarkedSquares()
    found = det.scan_pyramid(frame, d, 0.5, skip_flat=True)
    assert len(found) == 2 and len(found[0][0]) == 1 and d.batches[0][0] < 12
    d = MarkedSquares()
    det.scan_pyramid(np.zeros((720, 1280, 3), np.uint8), d, 0.5, skip_flat=True)
    assert d.batches == []


def test_scan_pyramid_coarse_level_and_too_large_faces():
    frame = np.zeros((720, 1280, 3), np.float32)
    box, _ = draw_face(frame, 400, 200, 240)  # 240 px: too wide at 1.0 (> 200), 60 px at 0.25
    found = det.scan_pyramid(frame, MarkedSquares(), 0.5)
    assert len(found) == 2 and len(found[0][0]) == 0  # too wide at 1.0: the next level's
    b = found[1][0]
    assert len(b) == 1
    np.testing.assert_allclose(b[0], box, atol=4)


def test_scan_pyramid_drops_mirror_images_and_keeps_edge_faces():
    frame = np.zeros((720, 1280, 3), np.uint8)
    box, _ = draw_face(frame, 0, 100, 30)  # touching the left edge: its mirror is centred outside
    found = det.scan_pyramid(frame, MarkedSquares(), 0.5)
    b = found[0][0]
    assert len(b) == 1 and b[0, 2] - b[0, 0] > 50  # the mirrored, completed face
    assert b[0, 0] < 0 < (b[0, 0] + b[0, 2]) / 2
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_face(frame, 1260, 300, 30)  # cut by the right edge
    b = det.scan_pyramid(frame, MarkedSquares(), 0.5)[0][0]
    assert len(b) == 1 and b[0, 2] > 1280 > (b[0, 0] + b[0, 2]) / 2 and b[0, 1] == 300


def test_edge_pass_keeps_only_faces_crossing_the_border():
    frame = np.zeros((200, 200, 3), np.uint8)
    draw_face(frame, 0, 60, 40)       # cut by the left edge
    draw_face(frame, 100, 100, 40)    # inside: not the edge pass's
    d = MarkedSquares()
    b, k, s = det.edge_pass(frame, d, 0.5)
    assert len(b) == 1 and d.calls == 1
    assert b[0, 0] < 0 < (b[0, 0] + b[0, 2]) / 2 and abs(b[0, 1] - 60) < 3 and abs(b[0, 3] - 100) < 3
    assert abs(k[0, 0, 1] - 67) < 4  # the mark, in frame pixels
    assert s.tolist() == [pytest.approx(0.9)]
    frame = np.zeros((200, 200, 3), np.uint8)
    draw_face(frame, 180, 50, 20)     # cut, centred inside, but narrower than 0.1 x 200 ...
    b, _, _ = det.edge_pass(frame, MarkedSquares(size=400), 0.5)
    assert len(b) == 1  # ... mirrored it is 39 px: kept at full resolution (size 400 >= 300)
    frame = np.zeros((200, 200, 3), np.uint8)
    draw_face(frame, 191, 150, 9)     # 17 px once mirrored: < 20 px, dropped
    assert len(det.edge_pass(frame, MarkedSquares(size=400), 0.5)[0]) == 0
    frame = np.zeros((300, 100, 3), np.uint8)
    draw_face(frame, 80, 120, 30)     # a tall frame, cut by the right edge
    b, _, _ = det.edge_pass(frame, MarkedSquares(size=600), 0.5)
    assert len(b) == 1 and b[0, 2] > 100 and abs(b[0, 0] - 80) < 1e-3 and abs(b[0, 1] - 120) < 1e-3


def test_edge_pass_on_a_large_frame_maps_back_to_frame_pixels():
    frame = np.zeros((400, 800, 3), np.uint8)
    draw_face(frame, 740, 100, 120)   # cut by the right edge, shrunk 256/1200 for the detector
    b, k, _ = det.edge_pass(frame, MarkedSquares(size=256), 0.5)
    assert len(b) == 1
    assert abs(b[0, 0] - 740) < 6 and b[0, 2] > 800 and abs(b[0, 1] - 100) < 6 and abs(b[0, 3] - 220) < 6
    assert abs(k[0, 0, 1] - 130) < 3  # the mark


# --------------------------------------------------------------------------- find_faces

def test_find_faces_whole_frame_order_max_min_size():
    frame = np.zeros((200, 300, 3), np.uint8)
    big, _ = draw_face(frame, 200, 20, 60)
    small, _ = draw_face(frame, 20, 120, 30)
    d = MarkedSquares()
    b, k, s, extras = det.find_faces(frame, d, scan="whole_frame")
    np.testing.assert_allclose(b, [big, small])
    assert extras == [None, None] and s.dtype == np.float32 and k.shape == (2, 5, 2)
    b, *_ = det.find_faces(frame, d, scan="whole_frame", order="left_to_right")
    np.testing.assert_allclose(b, [small, big])
    b, *_ = det.find_faces(frame, d, scan="whole_frame", order="top_to_bottom")
    np.testing.assert_allclose(b, [big, small])
    b, *_ = det.find_faces(frame, d, scan="whole_frame", order="left_to_right", max_faces=1)
    np.testing.assert_allclose(b, [small])
    b, *_ = det.find_faces(frame, d, scan="whole_frame", min_size=31)
    np.testing.assert_allclose(b, [big])
    b, *_ = det.find_faces(frame, d, scan="whole_frame", min_size=30)
    assert len(b) == 2
    b, k, s, extras = det.find_faces(np.zeros((50, 50, 3), np.uint8), d, scan="whole_frame")
    assert b.shape == (0, 4) and k.shape == (0, 5, 2) and s.shape == (0,) and extras == []
    assert b.dtype == k.dtype == s.dtype == np.float32


def test_find_faces_threshold_adaptive_and_errors():
    frame = np.zeros((48, 48, 3), np.uint8)
    draw_face(frame, 10, 10, 20)
    assert len(det.find_faces(frame, MarkedSquares(score=0.35), scan="whole_frame")[0]) == 1
    assert len(det.find_faces(frame, MarkedSquares(score=0.35), scan="whole_frame", adaptive=False)[0]) == 0
    assert len(det.find_faces(frame, MarkedSquares(score=0.55), threshold=0.6, adaptive=False,
                              scan="whole_frame")[0]) == 0
    with pytest.raises(ValueError, match="unknown scan 'tiles'"):
        det.find_faces(frame, MarkedSquares(), scan="tiles")
    with pytest.raises(ValueError, match="rotations"):
        det.find_faces(frame, MarkedSquares(), rotations="45")


def test_find_faces_verify_drops_and_returns_extras():
    frame = np.zeros((200, 300, 3), np.uint8)
    a, _ = draw_face(frame, 200, 20, 60)
    b_, _ = draw_face(frame, 20, 120, 30)
    seen = []

    def verify(boxes, kps):
        seen.append(len(boxes))
        p = [0.9 if (bx[2] - bx[0]) > 40 else 0.3 for bx in boxes]
        return p, [f"mesh{int(bx[0])}" for bx in boxes]

    b, k, s, extras = det.find_faces(frame, MarkedSquares(), scan="whole_frame", verify=verify)
    np.testing.assert_allclose(b, [a])
    assert extras == ["mesh200"] and seen == [2] and s.tolist() == [pytest.approx(0.9)]
    b, *_ , extras = det.find_faces(frame, MarkedSquares(), scan="whole_frame", verify=verify,
                                    presence_threshold=0.3)
    assert len(b) == 2 and extras == ["mesh200", "mesh20"]
    b, *_ = det.find_faces(frame, MarkedSquares(), scan="whole_frame", verify=verify,
                           presence_threshold=0.31)
    assert len(b) == 1


def test_find_faces_upside_down_face_with_rotations():
    frame = np.zeros((200, 300, 3), np.uint8)
    box, mark = draw_face(frame, 100, 50, 60)
    upside = det.rotate_frame(frame, 180)
    d = MarkedSquares()
    assert len(det.find_faces(upside, d, scan="whole_frame")[0]) == 0
    b, k, s, _ = det.find_faces(upside, d, scan="whole_frame", rotations="0,180")
    assert len(b) == 1
    np.testing.assert_allclose(b[0], [300 - box[2], 200 - box[3], 300 - box[0], 200 - box[1]], atol=0.01)
    np.testing.assert_allclose(k[0, 0], [300 - mark[0], 200 - mark[1]], atol=0.01)  # the mark, below
    side = det.rotate_frame(frame, 270)  # turned anticlockwise: found in the 90 view
    b, k, _, _ = det.find_faces(side, d, scan="whole_frame", rotations="0,90,180,270")
    assert len(b) == 1
    np.testing.assert_allclose(b[0], [box[1], 300 - box[2], box[3], 300 - box[0]], atol=0.01)
    np.testing.assert_allclose(k[0, 0], [mark[1], 300 - mark[0]], atol=0.01)


def test_find_faces_auto_scan_small_face_and_merges():
    frame = np.zeros((720, 1280, 3), np.uint8)
    big, _ = draw_face(frame, 100, 100, 300)   # the whole-frame pass's face
    small, _ = draw_face(frame, 900, 500, 24)  # too small for a 128 px whole-frame pass
    d = Letterboxed(size=128)
    b, k, s, _ = det.find_faces(frame, d, scan="whole_frame")
    assert len(b) == 1 and abs(b[0, 0] - 100) < 12
    for scan in ("auto", "whole_frame+tiles"):
        b, k, s, _ = det.find_faces(frame, d, scan=scan)
        assert len(b) == 2, (scan, b)  # the large face once (passes merged), the small one
        np.testing.assert_allclose(b[1], small, atol=0.01)
        assert abs(b[0, 0] - 100) < 12 and abs(b[0, 2] - 400) < 12
    # the auto scan skips the tiles inside the large verified face
    d.batches.clear()
    det.find_faces(frame, d, scan="auto")
    auto_tiles = sum(n for n, *_ in d.batches)
    d.batches.clear()
    det.find_faces(frame, d, scan="whole_frame+tiles")
    assert auto_tiles < sum(n for n, *_ in d.batches)


def test_find_faces_scan_needs_firmer_evidence():
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_face(frame, 900, 500, 24)
    # score 0.7 x presence 0.8 = 0.56 < SCAN_ACCEPT: dropped; presence 0.9 -> 0.63: kept
    for presence, n in ((0.8, 0), (0.9, 1)):
        b, *_ = det.find_faces(frame, Letterboxed(score=0.7), verify=lambda bx, kp: ([presence] * len(bx),
                                                                                          [None] * len(bx)))
        assert len(b) == n, presence
    # without verify the detector score alone must reach SCAN_ACCEPT
    assert len(det.find_faces(frame, Letterboxed(score=0.59))[0]) == 0
    assert len(det.find_faces(frame, Letterboxed(score=0.61))[0]) == 1
    # a face cut by the border needs EDGE_ACCEPT (0.8)
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_face(frame, 0, 300, 24)
    assert len(det.find_faces(frame, Letterboxed(score=0.75))[0]) == 0
    b, *_ = det.find_faces(frame, Letterboxed(score=0.85))
    assert len(b) == 1 and b[0, 0] < 0


# --------------------------------------------------------------------------- added after the first mutation run

def test_letterbox_interpolation_and_one_pixel_frames():
    rng = np.random.default_rng(0)
    frame = rng.random((10, 20, 3), np.float32)
    out, lb = det.letterbox(frame, 30)  # enlarged 1.5x: bilinear
    np.testing.assert_allclose(out[7:22], cv2.resize(frame, (30, 15), interpolation=cv2.INTER_LINEAR),
                               atol=1e-6)
    big = rng.random((40, 80, 3), np.float32)
    out, lb = det.letterbox(big, 30)    # shrunk: area
    np.testing.assert_allclose(out[7:22], cv2.resize(big, (30, 15), interpolation=cv2.INTER_AREA),
                               atol=1e-5)
    out, lb = det.letterbox(np.ones((400, 1, 3), np.float32), 100)  # 0.25 px wide -> 1 px
    assert (out[..., 0].sum(0) > 0).sum() == 1 and lb.pad_x == 49.0
    out, lb = det.letterbox(np.ones((1, 400, 3), np.float32), 100)
    assert (out[..., 0].sum(1) > 0).sum() == 1 and lb.pad_y == 49.0


def test_decoders_on_several_detections_and_extra_columns():
    raw = np.array([[0, 0, 2, 2, 1, 1, 9, 9], [0, 0, 4, 4, -1, 2, 9, 9]], np.float32)
    anchors = np.array([[10, 10], [20, 30]], np.float32)
    boxes, kps, _ = det.decode_ssd(raw, np.zeros(2), anchors, 1)  # the first keypoint only
    np.testing.assert_allclose(boxes, [[9, 9, 11, 11], [18, 28, 22, 32]])
    np.testing.assert_allclose(kps, [[[11, 11]], [[19, 32]]])
    _, kps, _ = det.decode_ssd(raw, np.zeros(2), anchors, 2)
    np.testing.assert_allclose(kps, [[[11, 11], [19, 19]], [[19, 32], [29, 39]]])
    c = det.scrfd_anchor_centers(40, 40, 16, 1)  # 40 // 16 = 2 cells each way
    np.testing.assert_allclose(c, [[0, 0], [16, 0], [0, 16], [16, 16]])
    boxes, points, scores = det.decode_scrfd(np.array([[0.7], [0.2]]), np.ones((2, 4), np.float32),
                                             np.array([[1, 0], [0, 1]], np.float32),
                                             np.array([[0, 0], [16, 0]], np.float32), 8)
    np.testing.assert_allclose(points, [[[8, 0]], [[16, 8]]])
    np.testing.assert_allclose(scores, [0.7, 0.2])
    np.testing.assert_allclose(boxes, [[-8, -8, 8, 8], [8, -8, 24, 8]])


def test_nms_blend_floor_edges_and_dtypes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10]], np.float64)
    kps = np.zeros((2, 1, 2))
    w = np.array([1.0, 0.6]) / 1.6
    b, k, s = det.nms(boxes, kps, np.array([1.0, 0.6]), 0.3, weighted=True)  # floor 0: blends
    np.testing.assert_allclose(b[0], w[0] * boxes[0] + w[1] * boxes[1], rtol=1e-6)
    assert b.dtype == k.dtype == s.dtype == np.float32
    b, _, _ = det.nms(boxes, kps, np.array([0.7, 0.6]), 0.3, weighted=True, blend_floor=0.7)
    np.testing.assert_allclose(b[0], boxes[0])  # the top at the floor: only >= floor blend
    b, k, s = det.nms(boxes, kps, np.array([0.7, 0.6]), 0.3)
    assert b.dtype == k.dtype == s.dtype == np.float32


def test_covered_checks_each_coordinate():
    skip = np.array([[0, 50, 50, 100]], np.float32)
    assert det._covered(10, 60, 40, 90, skip) is True
    assert det._covered(10, 40, 40, 90, skip) is False


def test_rotate_boxes_several():
    boxes = np.array([[30, 10, 50, 20], [0, 0, 5, 5]], np.float32)
    np.testing.assert_allclose(det._rotate_boxes(boxes, 180, 60, 100), [[50, 40, 70, 50], [95, 55, 100, 60]])
    np.testing.assert_allclose(det._rotate_boxes(boxes, 0, 60, 100), boxes)


def test_edge_pass_gives_the_detector_its_input_size():
    seen = []

    class Sized(MarkedSquares):
        def __call__(self, frame, threshold):
            seen.append(frame.shape[:2])
            return super().__call__(frame, threshold)

    frame = np.zeros((400, 800, 3), np.uint8)
    draw_face(frame, 740, 100, 120)
    b, _, _ = det.edge_pass(frame, Sized(size=256), 0.5)
    assert len(b) == 1 and abs(max(seen[0]) - 256) <= 2  # shrunk, then padded by 0.25 x 800
    assert abs(min(seen[0]) - (400 + 400) * 256 / 1200) <= 2
    seen.clear()
    det.edge_pass(np.zeros((40, 80, 3), np.uint8), Sized(size=256), 0.5)
    assert seen == [(80, 120)]  # small enough: padded at full resolution, 20 px each side


class Fixed:
    """A stand-in detector returning the same detections for any frame (whole-frame pass only)."""

    size = 128

    def __init__(self, boxes, scores):
        self.boxes = np.array(boxes, np.float32)
        self.scores = np.array(scores, np.float32)

    def __call__(self, frame, threshold):
        centres = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2
        return self.boxes, np.repeat(centres[:, None], 5, 1), self.scores


def test_find_faces_ranks_by_score_times_presence():
    d = Fixed([[10, 10, 50, 50], [12, 10, 52, 50]], [0.9, 0.8])
    frame = np.zeros((100, 100, 3), np.uint8)
    kps_seen = []

    def verify(boxes, kps):
        kps_seen.append(np.asarray(kps).shape)
        return [0.6, 1.0], ["first", "second"]

    b, _, s, extras = det.find_faces(frame, d, scan="whole_frame", verify=verify)
    assert extras == ["second"] and s.tolist() == [pytest.approx(0.8)]  # 0.8 x 1.0 > 0.9 x 0.6
    assert kps_seen == [(2, 5, 2)]
    b, _, s, extras = det.find_faces(frame, d, scan="whole_frame")
    assert s.tolist() == [pytest.approx(0.9)]


def test_scan_pyramid_drops_separate_mirror_images():
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_face(frame, 6, 300, 20)      # mirror image at x -26..-6: a separate blob
    draw_face(frame, 1254, 400, 20)   # mirror image at x 1285..1305
    b = det.scan_pyramid(frame, MarkedSquares(), 0.5)[0][0]
    np.testing.assert_allclose(b[np.argsort(b[:, 0])], [[6, 300, 26, 320], [1254, 400, 1274, 420]])


def test_scan_pyramid_width_limit_and_right_edge_tile():
    for side, n in ((200, 1), (210, 0)):   # 2 x FACE_RANGE[1] = 200 px at the full-size level
        frame = np.zeros((720, 1280, 3), np.uint8)
        draw_face(frame, 450, 50, side)
        assert len(det.scan_pyramid(frame, MarkedSquares(), 0.5)[0][0]) == n, side
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_face(frame, 1240, 300, 40)   # mirrored past the padded level's right edge
    b = det.scan_pyramid(frame, MarkedSquares(), 0.5)[0][0]
    assert len(b) == 1 and b[0, 0] == 1240 and b[0, 2] > 1280


def test_scan_pyramid_skips_exactly_the_covered_tiles():
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_face(frame, 1100, 600, 24)
    d = MarkedSquares()
    found = det.scan_pyramid(frame, d, 0.5, skip_boxes=np.array([[-100, -100, 700, 800]]))
    # level 1.0: 4 x 3 tiles, the 3 x 2 whose frame part lies inside the box are skipped
    n_full = d.batches[0][0]
    assert n_full == 12 - 6, d.batches
    assert len(found[0][0]) == 1  # tiles after a skipped one are still searched
    d = MarkedSquares()
    det.scan_pyramid(frame, d, 0.5, skip_boxes=np.array([[500, -100, 1400, 800]]))
    assert d.batches[0][0] == 12 - 6
    d = MarkedSquares()
    det.scan_pyramid(frame, d, 0.5, skip_boxes=np.array([[-100, -100, 1400, 420]]))
    assert d.batches[0][0] == 12 - 4


def test_scan_pyramid_thin_strip():
    frame = np.zeros((24, 3000, 3), np.uint8)
    draw_face(frame, 1000, 4, 16)
    found = det.scan_pyramid(frame, MarkedSquares(), 0.5)
    assert len(found[0][0]) == 1 and found[0][0][0, 0] == 1000


def test_find_faces_right_edge_face_needs_edge_accept():
    frame = np.zeros((720, 1280, 3), np.uint8)
    draw_face(frame, 1262, 300, 24)
    assert len(det.find_faces(frame, Letterboxed(score=0.75))[0]) == 0
    b, *_ = det.find_faces(frame, Letterboxed(score=0.85))
    assert len(b) == 1 and b[0, 2] > 1280


def test_edge_pass_border_rules_exactly():
    # 100 x 100 frame, detector input 1000 px: no shrinking, a 25 px mirror pad on each side;
    # the stand-in returns boxes in padded-frame pixels (frame box + 25)
    frame_boxes = {
        "crossing left": ([-10, 25, 30, 65], True),
        "x1 at 0": ([0, 25, 40, 65], False),
        "y1 at 0": ([15, 0, 45, 30], False),
        "x2 at w": ([60, 40, 100, 80], False),
        "y2 at h": ([40, 60, 80, 100], False),
        "centre x at 0": ([-20, 30, 20, 70], True),
        "centre y at 0": ([30, -20, 70, 20], True),
        "centre x at w": ([80, 30, 120, 70], False),
        "centre y at h": ([30, 80, 70, 120], False),
        "centre x past w": ([90, 30, 130, 70], False),
        "centre y past h": ([30, 90, 70, 130], False),
        "narrow": ([-4, 30, 4, 70], False),
    }
    for name, (box, kept) in frame_boxes.items():
        d = Fixed([np.array(box) + 25], [0.9])
        d.size = 1000
        b, k, s = det.edge_pass(np.zeros((100, 100, 3), np.uint8), d, 0.5)
        assert len(b) == int(kept), name
        if kept:
            np.testing.assert_allclose(b[0], box)
            np.testing.assert_allclose(k[0, 0], [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def test_scan_scales_on_very_long_frames():
    assert det.scan_scales(20000, 10, 100) == [0.125, 0.03125]


def test_adaptive_threshold_just_above_small():
    assert det.adaptive_threshold(0.5, 49) > 0.3 + 1e-3


def test_iou_of_sub_pixel_boxes():
    thin = np.array([0, 0, 0.5, 10], np.float32)
    flat = np.array([0, 0, 10, 0.5], np.float32)
    tiny = np.array([0, 0, 0.5, 0.5], np.float32)
    for b in (thin, flat, tiny):
        assert det.iou(b, b[None])[0] == pytest.approx(1.0)
        assert det.iou(b, b[None], containment=True)[0] == pytest.approx(1.0)


def test_cut_by_inner_edge_one_pixel_origins():
    boxes = np.array([[0, 10, 20, 30], [10, 0, 20, 20], [10, 10, 20, 98]], np.float32)
    assert det._cut_by_inner_edge(boxes, 1, 1, 100, 100, 1000, 1000).tolist() == [True, True, False]
