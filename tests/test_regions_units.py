"""`vision/regions.py` on stored landmarks (tests/data/landmarks_reference.npz: Grace Hopper's
mesh, no model run) and synthetic polygons: the forehead lift, sub-pixel filling, grow/shrink
and blur, region arithmetic, padded boxes, translation and rotation, and the refusals (issue 15
item 4: outcomes that kill behaviour-changing mutants; fast enough for mutation runs).
"""
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from face_pipeline.vision import mesh_topology as topo
from face_pipeline.vision import regions
from face_pipeline.vision.face import Face

STORED = np.load(Path(__file__).parent / "data" / "landmarks_reference.npz")
HOPPER = STORED["faces/grace_hopper/1.jpg|landmarks"][0]
SHAPE = (600, 512)


def rotate(points, degrees, centre):
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    out = np.array(points, np.float64)
    out[:, :2] = (out[:, :2] - centre) @ rot.T + centre
    return out.astype(np.float32)


def test_constants_and_refusals():
    assert regions.REGIONS == ("face", "skin", "eyes", "brows", "nose", "lips", "mouth")
    assert regions.DEFAULT_FOREHEAD == 0.15 and regions.SUBPIXEL_BITS == 4
    with pytest.raises(ValueError, match=r"^unknown face region 'ears'; choose from face, skin, "
                       r"eyes, brows, nose, lips, mouth$"):
        regions.region_mask(HOPPER, SHAPE, ["ears"])
    face = Face(np.array([0, 0, 9, 9], np.float32), 0.9, np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match=r"^region masks need 478 landmarks: connect Face "
                       r"Landmarks$"):
        regions.faces_region_mask([face], SHAPE, ["face"])
    with pytest.raises(ValueError, match=r"^crop masks need faces with landmarks and an "
                       r"alignment matrix: connect the FACES output of Align Faces \(after "
                       r"Face Landmarks\)$"):
        regions.crop_region_mask(face.with_(landmarks=HOPPER), ["face"])


def test_forehead_lifts_only_the_upper_oval_by_a_smoothstep():
    oval = HOPPER[list(topo.FACE_OVAL), :2]
    flat = regions.forehead_oval(HOPPER, 0.0)
    assert flat.dtype == np.float32 and np.array_equal(flat, oval)
    assert np.array_equal(regions.forehead_oval(HOPPER, -0.2), oval)
    raised = regions.forehead_oval(HOPPER, 0.3)
    moved = np.linalg.norm(raised - oval, axis=1)
    height = np.linalg.norm(HOPPER[topo.FACE_OVAL[0], :2] - HOPPER[152, :2])
    left, right = HOPPER[topo.LEFT_EYE[0], :2], HOPPER[topo.RIGHT_EYE[0], :2]
    eye = (left - right) / np.linalg.norm(left - right)
    up = np.array([eye[1], -eye[0]])
    above = (oval - (left + right) / 2) @ up
    assert moved[np.argmax(above)] == pytest.approx(0.3 * height, rel=1e-4)   # the top: full
    assert np.all(moved[above <= 0] < 1e-4)                                   # below: none
    h = np.clip(above / above.max(), 0, 1)
    assert np.allclose(moved, 0.3 * height * h * h * (3 - 2 * h), atol=1e-3)
    assert np.allclose((raised - oval) @ up, moved, atol=1e-3)               # straight "up"
    assert (raised[:, 1] <= oval[:, 1] + 1e-4).all()                         # upright: up is -y
    centre = HOPPER[:, :2].mean(0)
    turned = regions.forehead_oval(rotate(HOPPER, 30, centre), 0.3)
    assert np.allclose(turned, rotate(np.c_[raised, np.zeros(36)], 30, centre)[:, :2], atol=1e-3)


def test_fill_places_polygons_at_their_pixel_position():
    """OpenCV fills the closed polygon: corners 2.2 .. 6.2 cover pixels 2 .. 6 (the polygon
    is moved by half a pixel to OpenCV's pixel-centre coordinates first)."""
    canvas = np.zeros((10, 10), np.uint8)
    square = np.array([[2.2, 2.2], [6.2, 2.2], [6.2, 6.2], [2.2, 6.2]], np.float32)
    regions._fill(canvas, [square], np.zeros(2, np.float32), 1)
    assert canvas.sum() == 25 and canvas[2:7, 2:7].all()
    shifted = np.zeros((10, 10), np.uint8)
    regions._fill(shifted, [square], np.array([1, 2], np.float32), 7)
    assert shifted.sum() == 25 * 7 and shifted[0:5, 1:6].all()
    moved = np.zeros((10, 10), np.uint8)
    regions._fill(moved, [square + [0.9, 0]], np.zeros(2, np.float32), 1)
    assert moved.sum() == 25 and moved[2:7, 3:8].all()


def test_refine_grows_shrinks_and_blurs():
    dot = np.zeros((21, 21), np.uint8)
    dot[10, 10] = 1
    grown = regions._refine(dot, 2.4, 0)
    assert grown.dtype == np.float32 and grown.sum() == 17     # OpenCV's 5x5 ellipse
    assert grown[10, 12] == 1 and grown[12, 12] == 0
    assert regions._refine(dot, 0.4, 0).sum() == 1             # rounds to no change
    assert regions._refine(dot, 0.6, 0).sum() == 5             # rounds to 1: a 3x3 ellipse
    block = np.zeros((21, 21), np.uint8)
    block[7:14, 7:14] = 1
    assert regions._refine(block, -1.0, 0).sum() == 25         # 7x7 -> 5x5
    assert regions._refine(block, -3.6, 0).sum() == 0
    big = np.zeros((60, 60), np.uint8)
    big[10:50, 10:50] = 1
    soft = regions._refine(big, 0, 4.0)                         # kernel 9, sigma 2
    assert soft.sum() == pytest.approx(1600, rel=1e-4)
    assert soft[30, 14] == 1.0 and soft[30, 13] < 1.0           # reaches 4 px in, no further
    assert soft[30, 5] == 0.0 and soft[30, 6] > 0.0
    taps = cv2.getGaussianKernel(9, 2.0)[:, 0]                 # sigma = blur / 2
    profile = [taps[:5 + j].sum() for j in range(-4, 5)]      # across the left edge (x = 10)
    assert np.allclose(soft[30, 6:15], profile, atol=1e-5)
    fine = regions._refine(big, 0, 0.6)                          # ceil: kernel 3
    assert fine[30, 11] == 1.0 and fine[30, 10] < 1.0 and fine[30, 8] == 0.0
    edge = np.zeros((20, 20), np.uint8)
    edge[:, :10] = 1
    assert regions._refine(edge, 0, 2.0)[10, 0] < 1.0          # zeros beyond the border


def masks(*add, subtract=(), **options):
    return regions.region_mask(HOPPER, SHAPE, list(add), list(subtract), **options)


def test_regions_combine_by_adding_and_subtracting():
    face, eyes, brows = masks("face") > 0.5, masks("eyes") > 0.5, masks("brows") > 0.5
    lips, mouth, skin = masks("lips") > 0.5, masks("mouth") > 0.5, masks("skin") > 0.5
    outer = regions.region_mask(HOPPER, SHAPE, ["face"]).dtype
    assert outer == np.float32
    for part in (eyes, brows, lips, mouth, masks("nose") > 0.5):
        assert part.sum() > 50 and not (part & ~face).any()
    assert not (lips & mouth).any() and mouth.sum() > 20
    assert np.array_equal(skin, face & ~eyes & ~brows & ~(lips | mouth))
    both = masks("eyes", "brows") > 0.5
    assert np.array_equal(both, eyes | brows)
    cut = masks("face", subtract=("eyes", "nose")) > 0.5
    assert np.array_equal(cut, face & ~eyes & ~(masks("nose") > 0.5))
    eyes_only = regions.region_mask(HOPPER, SHAPE, ["eyes"])
    assert len(regions._polygons(HOPPER, "eyes", 0.15)) == 2 and eyes_only.max() == 1.0
    assert np.array_equal(masks("face", forehead=0.0) > 0.5,
                          regions.region_mask(HOPPER, SHAPE, ["face"], forehead=0) > 0.5)
    assert (masks("face", forehead=0.3) > 0.5).sum() > face.sum()
    assert (masks("face") > 0.5).sum() == face.sum()           # default forehead 0.15
    assert set(np.unique(masks("face"))) == {0.0, 1.0}         # default: no blur
    assert not masks("eyes", subtract=("face",)).any()
    assert np.array_equal(masks("face", subtract=("skin",)) > 0.5, face & ~skin)
    assert np.array_equal(masks("face"), masks("face", forehead=regions.DEFAULT_FOREHEAD))


def test_masks_move_with_the_face_and_padding_keeps_the_whole_feather():
    base = masks("face", grow=6, blur=10)
    moved = HOPPER.copy()
    moved[:, :2] += [37, 21]
    shifted = regions.region_mask(moved, (SHAPE[0] + 21, SHAPE[1] + 37), ["face"], grow=6,
                                  blur=10)
    assert np.allclose(shifted[21:, 37:], base, atol=1e-6)
    hard = masks("face", grow=6)
    assert base.sum() == pytest.approx(hard.sum(), rel=2e-3)   # the feather is not cut off
    assert (hard > 0.5).sum() > (masks("face") > 0.5).sum() > (masks("face", grow=-6) > 0.5).sum()
    ys, xs = np.nonzero(masks("face") > 0.5)
    ys6, xs6 = np.nonzero(hard > 0.5)
    assert xs6.min() == xs.min() - 6 and xs6.max() == xs.max() + 6
    assert ys6.max() == ys.max() + 6


def test_out_merges_by_maximum_and_off_canvas_faces_leave_it():
    out = np.zeros(SHAPE, np.float32)
    out[:5, :5] = 0.7
    got = regions.region_mask(HOPPER, SHAPE, ["eyes"], out=out)
    assert got is out and (out[:5, :5] == 0.7).all() and (out > 0.5).sum() > 25
    assert regions.region_mask(HOPPER, SHAPE, [], out=out) is out
    assert not regions.region_mask(HOPPER, SHAPE, []).any()
    far = HOPPER.copy()
    far[:, :2] += [5000, 0]
    assert not regions.region_mask(far, SHAPE, ["face"]).any()
    above = HOPPER.copy()
    above[:, 1] -= 5000
    assert not regions.region_mask(above, SHAPE, ["face"]).any()
    low = HOPPER.copy()
    low[:, 1] += 590 - HOPPER[:, 1].max()                      # chin near the bottom row
    bottom = regions.region_mask(low, SHAPE, ["face"]) > 0.5
    assert bottom[560:].sum() > 1000 and bottom[589].any()     # rows below the width too
    corner = HOPPER.copy()
    corner[:, :2] -= HOPPER[:, :2].mean(0)                     # centred on pixel (0, 0)
    quarter = regions.region_mask(corner, SHAPE, ["face"]) > 0.5
    assert quarter[0, 0] and quarter.sum() > 1000


def test_masks_of_several_faces_and_in_the_crop():
    moved = HOPPER.copy()
    moved[:, 0] += 200
    faces = [Face(np.zeros(4, np.float32), 0.9, np.zeros((5, 2), np.float32), landmarks=lm)
             for lm in (HOPPER, moved)]
    both = regions.faces_region_mask(faces, (600, 800), ["eyes"])
    one = regions.region_mask(HOPPER, (600, 800), ["eyes"])
    two = regions.region_mask(moved, (600, 800), ["eyes"])
    assert np.array_equal(both, np.maximum(one, two))
    assert both.dtype == np.float32
    assert not regions.faces_region_mask([], (6, 8), ["face"]).any()
    cut = regions.faces_region_mask(faces, (600, 800), ["face"], ["eyes"], grow=-2)
    assert np.array_equal(cut, np.maximum(
        regions.region_mask(HOPPER, (600, 800), ["face"], ["eyes"], grow=-2),
        regions.region_mask(moved, (600, 800), ["face"], ["eyes"], grow=-2)))
    matrix = np.array([[0.5, 0, -40], [0, 0.5, -60]], np.float32)
    crop = regions.crop_region_mask(faces[0].with_(matrix=matrix, crop_size=(200, 150)),
                                    ["face"], ["lips"], grow=2)
    assert crop.shape == (150, 200)
    want = regions.region_mask(HOPPER[:, :2] * 0.5 - [40, 60], (150, 200), ["face"], ["lips"],
                               grow=2)
    assert np.array_equal(crop, want)
