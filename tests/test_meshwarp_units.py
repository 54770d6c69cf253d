"""Unit tests of vision/meshwarp.py on a stored mesh and synthetic images (issue 15 item 4:
they kill mutants; tools/mutation/modules.txt runs them against vision/meshwarp.py).

The mesh is Grace Hopper's stored reference landmarks (tests/data/landmarks_reference.npz),
moved into a 260 x 260 frame: no models, no photos.
"""
import pathlib

import cv2
import numpy as np
import pytest

from face_pipeline.vision import mesh_topology as topo
from face_pipeline.vision import meshwarp as mw

_REF = np.load(pathlib.Path(__file__).parent / "data" / "landmarks_reference.npz")
MESH = (_REF["faces/grace_hopper/1.jpg|landmarks"][0] - np.array([140, 100, 0], np.float32))
SHAPE = (260, 260)


def texture(seed=0, shape=SHAPE):
    """A smooth random RGB image in 0..1 (warps of it can be compared pixel by pixel)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random(shape + (3,), np.float32), (0, 0), 6)
    img -= img.min()
    return img / img.max()


def yawed(points, degrees):
    """The mesh turned about the vertical axis through its centre (camera looks along +z)."""
    a = np.radians(degrees)
    c = points.mean(0)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return ((points - c) @ rot.T + c).astype(np.float32)


# --------------------------------------------------------------------------- small helpers

def test_mirror_triangles_pair_up():
    m = mw.MIRROR_TRIANGLES
    assert m.shape == (len(topo.TRIANGLES),)
    paired = m >= 0
    assert paired.mean() > 0.97
    np.testing.assert_array_equal(m[m[paired]], np.flatnonzero(paired))
    k = np.flatnonzero(paired)[5]
    assert sorted(topo.MIRROR[topo.TRIANGLES[k]]) == sorted(topo.TRIANGLES[m[k]])


def test_smoothstep():
    x = np.array([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(mw.smoothstep(x, (0.0, 1.0)), [0, 0, 0.15625, 0.5, 1, 1])
    np.testing.assert_allclose(mw.smoothstep(x, (1.0, 0.0)), [1, 1, 0.84375, 0.5, 0, 0])
    np.testing.assert_allclose(mw.smoothstep(np.array([0.3]), (0.2, 0.6)), [0.15625])


def test_box_face_box_and_height():
    pts = np.array([[10.2, 20.7], [30.5, 40.0]])
    assert mw._box(pts, (100, 100)) == (9, 19, 33, 42)
    assert mw._box(pts, (100, 100), pad=0) == (10, 20, 32, 41)
    assert mw._box(pts, (30, 25)) == (9, 19, 25, 30)
    assert mw._box(pts - 20, (100, 100)) == (0, 0, 13, 22)
    assert mw._box(pts + 200, (100, 100)) is None
    assert mw._box(pts - 100, (100, 100)) is None
    assert mw._box(np.array([[5.0, 99.5]]), (100, 100)) == (4, 98, 7, 100)
    assert mw._box(np.array([[99.5, 5.0]]), (100, 100)) == (98, 4, 100, 7)
    assert mw._box(np.array([[-3.0, 5.0]]), (100, 100)) is None  # x1 = -1 <= 0
    assert mw._box(np.array([[5.0, -3.0]]), (100, 100)) is None
    oval = MESH[list(topo.FACE_OVAL), 1]
    assert mw.face_height(MESH) == pytest.approx(float(oval.max() - oval.min()))
    assert mw.face_box(MESH, SHAPE) == mw._box(MESH[:, :2], SHAPE)
    assert mw.face_box(MESH + 1000, SHAPE) is None


def test_signed_area_planes_interpolate():
    tri = np.array([[[0, 0], [4, 0], [0, 2]], [[0, 0], [0, 2], [4, 0]]], np.float64)
    np.testing.assert_allclose(mw._signed_area(tri), [4, -4])
    # values given by known planes: f1 = 2x - y + 3, f2 = -x + 5
    f = lambda p: np.stack([2 * p[..., 0] - p[..., 1] + 3, -p[..., 0] + 5], -1)  # noqa: E731
    dst = np.array([[[1, 1], [5, 2], [2, 6]], [[0, 0], [3, 0], [0, 3]]], np.float64)
    planes = mw._planes(dst, f(dst))
    assert planes.shape == (2, 6) and planes.dtype == np.float32
    np.testing.assert_allclose(planes[0], [2, -1, 3, -1, 0, 5], atol=1e-5)
    np.testing.assert_allclose(planes[1], [2, -1, 3, -1, 0, 5], atol=1e-5)
    c = np.broadcast_to(np.array([2.0, -1.0, 3.0]), (2, 3, 3))
    xs, ys = np.arange(3, dtype=np.float64)[None, :], np.arange(2, dtype=np.float64)[:, None]
    np.testing.assert_allclose(mw._interpolate(c, xs, ys), 2 * xs - ys + 3 + 0 * ys)


def test_rasterise_nearest_wins_and_pixel_centres():
    points = np.array([[0, 0, 5], [10, 0, 5], [0, 10, 5], [2, 2, 1], [12, 2, 1], [2, 12, 1]], np.float32)
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    ids = mw.rasterise(points, tris, (0, 0, 14, 14))
    assert ids.dtype == np.uint16 and ids.shape == (14, 14)
    assert ids[1, 1] == 1 and ids[3, 3] == 2 and ids[13, 13] == 0 and ids[0, 13] == 0
    assert ids[5, 5] == 2  # both cover it: the nearer (z = 1) wins
    points[3:, 2] = 9      # now the second is farther
    ids = mw.rasterise(points, tris, (0, 0, 14, 14))
    assert ids[5, 5] == 1 and ids[3, 3] == 1 and ids[10, 3] == 2
    # the box's origin: pixel (x, y) of the canvas is frame pixel (x0 + x, y0 + y)
    ids = mw.rasterise(points[:3], tris[:1], (2, 3, 12, 13))
    assert ids.shape == (10, 10) and ids[0, 0] == 1 and ids[9, 9] == 0
    assert ids[5, 0] == 1 and ids[0, 5] == 1 and ids[0, 6] == 0 and ids[6, 0] == 0  # x + y <= 10


def test_vertex_facing_flat_and_turned():
    flat = MESH.copy()
    flat[:, 2] = 0
    f = mw.vertex_facing(flat)
    assert f.shape == (478,)
    np.testing.assert_allclose(np.abs(f[:468]), 1.0, atol=1e-6)  # the flat mesh faces the camera
    assert (f[:468] > 0).mean() > 0.98                     # (bar a few folds at the silhouette)
    np.testing.assert_allclose(f[468:], 0.0)               # irises: in no triangle
    flat[:, 2] = 0.5 * flat[:, 0]                          # a plane turned by 26.6 degrees
    np.testing.assert_allclose(np.abs(mw.vertex_facing(flat)[:468]), 1 / np.sqrt(1.25), atol=1e-5)
    turned = mw.vertex_facing(yawed(MESH, 60))
    front = mw.vertex_facing(MESH)
    assert front[1] > 0.8 and front[topo.FACE_OVAL[8]] < front[1]  # the nose tip vs the cheek edge
    # turned by 60 degrees: one cheek faces the camera better than the other
    right, left = turned[234], turned[454]
    assert min(right, left) < 0.2 < max(right, left)


def test_hidden_points():
    h = mw.hidden_points(MESH, SHAPE)                       # a frontal face hides its outline only
    assert h.sum() <= 8 and not h[[1, 4, 468, 13, 33, 263]].any()
    assert mw.hidden_points(MESH + 1000, SHAPE).all()       # outside the frame: nothing seen
    h = mw.hidden_points(yawed(MESH, 70), SHAPE)
    assert 100 <= h.sum() < 300
    far = mw.vertex_facing(yawed(MESH, 70))
    assert far[h].mean() < far[~h].mean()                    # the turned-away side


def test_similarity_3d_recovers_transform_without_reflection():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(30, 3))
    a = 0.7
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    dst = 2.5 * src @ rot.T + [1, -2, 3]
    scale, r, shift = mw.similarity_3d(src, dst)
    assert scale == pytest.approx(2.5)
    np.testing.assert_allclose(r, rot, atol=1e-9)
    np.testing.assert_allclose(shift, [1, -2, 3], atol=1e-9)
    mirrored = src * [-1, 1, 1]
    _, r, _ = mw.similarity_3d(src, mirrored)
    assert np.linalg.det(r) == pytest.approx(1.0)
    scale, r, shift = mw.similarity_3d(src[:1].repeat(3, 0), src[:1].repeat(3, 0))  # degenerate
    assert np.isfinite(scale) and np.isfinite(shift).all()


def test_transfer_shape():
    target = MESH
    wide = MESH.copy()
    c = MESH[:, 0].mean()
    wide[:, 0] = c + 1.2 * (MESH[:, 0] - c)                    # the source's face is wider
    source = yawed(wide * 0.5 + 7, 0)                          # smaller and elsewhere
    out = mw.transfer_shape(target, source, 0.0)
    np.testing.assert_array_equal(out, target)
    assert out is not target and out.dtype == np.float32
    np.testing.assert_array_equal(mw.transfer_shape(target, source, -1.0), target)
    full = mw.transfer_shape(target, source, 1.0, keep_expression=False)
    scale, rot, shift = mw.similarity_3d(wide[list(mw.STABLE_POINTS)], target[list(mw.STABLE_POINTS)])
    assert full.dtype == np.float32
    np.testing.assert_allclose(full, scale * wide.astype(np.float64) @ rot.T + shift, atol=0.05)
    half = mw.transfer_shape(target, source, 0.5, keep_expression=False)
    np.testing.assert_allclose(half, (full + target) / 2, atol=0.05)
    kept = mw.transfer_shape(target, source, 1.0)
    np.testing.assert_array_equal(kept[mw.EXPRESSION_POINTS], target[mw.EXPRESSION_POINTS])
    others = np.setdiff1d(np.arange(478), mw.EXPRESSION_POINTS)
    np.testing.assert_allclose(kept[others], full[others], atol=1e-4)
    assert np.abs(full[mw.EXPRESSION_POINTS] - target[mw.EXPRESSION_POINTS]).max() > 2


def test_keep_mask():
    box = mw.face_box(MESH, SHAPE)
    assert mw._keep_mask(MESH, box, False, False) is None
    eyes = mw._keep_mask(MESH, box, True, False)
    mouth = mw._keep_mask(MESH, box, False, True)
    both = mw._keep_mask(MESH, box, True, True)
    x0, y0, x1, y1 = box
    assert eyes.shape == mouth.shape == (y1 - y0, x1 - x0)

    def at(mask, point):
        x, y = (MESH[point, :2] - (x0, y0)).astype(int)
        return mask[y, x]

    assert at(eyes, 468) > 0.9 and at(eyes, 13) < 0.1 and at(eyes, 1) < 0.1
    assert at(mouth, 13) > 0.9 and at(mouth, 468) < 0.1
    np.testing.assert_allclose(both, np.maximum(eyes, mouth), atol=1e-6)
    # the feather reaches a little outside the eye (2% of the face's height)
    soft = (eyes > 0.01) & (eyes < 0.99)
    assert soft.sum() > 50


# --------------------------------------------------------------------------- sources, warps

def test_prepare_source_frontal_and_turned():
    img = texture()
    src = mw.prepare_source(img, MESH, min_face=48)
    h = mw.face_height(MESH)
    assert src.size == pytest.approx(h)
    assert src.landmarks.dtype == np.float32 and src.weights.shape == (478, 2)
    levels = 1 + sum(1 for k in range(1, 8) if h / 2 ** k >= 48)
    assert len(src.pyramid) == levels >= 2
    assert src.pyramid[1].shape == (130, 130, 3) and src.pyramid[0].dtype == np.float32
    assert (src.weights[:, 1] > 0.5).sum() <= 3  # the silhouette only
    np.testing.assert_allclose(src.weights[1], [1, 0], atol=1e-6)   # the nose tip: its own
    assert len(mw.prepare_source(img, MESH, min_face=h).pyramid) == 1
    assert len(mw.prepare_source(img, MESH, min_face=h / 2).pyramid) == 2
    assert len(mw.prepare_source(img[:40, :40], MESH, min_face=1).pyramid) == 2  # stops at 32 px
    turned = mw.prepare_source(img, yawed(MESH, 60))
    assert turned.mirrored
    w = turned.weights
    assert (w >= 0).all() and (w.sum(1) <= 1 + 1e-6).all()
    far = w[:, 1] > 0.5
    facing = mw.vertex_facing(yawed(MESH, 60))
    assert far.sum() > 100 and facing[far].mean() < facing[~far].mean()
    np.testing.assert_allclose(w[1].sum(), 1, atol=1e-6)


def test_warp_face_onto_itself_reproduces_the_source():
    img = texture()
    src = mw.prepare_source(img, MESH)
    warped = mw.warp_face(src, MESH, SHAPE, keep_mouth=False)
    x0, y0, x1, y1 = warped.box
    assert warped.box == mw.face_box(MESH, SHAPE)
    assert warped.image.shape == (y1 - y0, x1 - x0, 3) and warped.mask.dtype == np.float32
    inside = warped.mask > 0.99
    assert inside.sum() > 0.6 * (y1 - y0) * (x1 - x0)
    err = np.abs(warped.image - img[y0:y1, x0:x1])[inside]
    assert err.mean() < 0.01 and err.max() < 0.15
    corners = [warped.mask[0, 0], warped.mask[0, -1], warped.mask[-1, 0], warped.mask[-1, -1]]
    assert max(corners) == 0  # outside the mesh
    # the default keeps the target's inner mouth
    kept = mw.warp_face(src, MESH, SHAPE)
    mx, my = (MESH[13, :2] - (x0, y0)).astype(int)
    assert warped.mask[my, mx] > 0.99 and kept.mask[my, mx] < 0.05
    # ... outlined by keep_landmarks when given
    moved = MESH.copy()
    moved[:, 1] += 40
    other = mw.warp_face(src, MESH, SHAPE, keep_mouth=True, keep_landmarks=moved)
    assert other.mask[my, mx] > 0.99
    eyes = mw.warp_face(src, MESH, SHAPE, keep_eyes=True, keep_mouth=False)
    ex, ey = (MESH[468, :2] - (x0, y0)).astype(int)
    assert eyes.mask[ey, ex] < 0.05 and eyes.mask[my, mx] > 0.99


def test_warp_face_onto_another_geometry_and_pyramid_level():
    img = texture(3)
    src = mw.prepare_source(img, MESH)
    # the target: the same face half the size, elsewhere -> sampled from the pyramid's level 1
    c = np.array([60, 70, 0], np.float32)
    small = (MESH - MESH.mean(0)) * 0.5 + c
    warped = mw.warp_face(src, small, SHAPE, keep_mouth=False)
    x0, y0, x1, y1 = warped.box
    expected = cv2.pyrDown(img)
    inside = warped.mask > 0.99
    ys, xs = np.nonzero(inside)
    # a target pixel maps back to the source pixel (p - c) * 2 + mean: level 1 halves it again
    sx = ((xs + x0 + 0.5 - c[0]) * 2 + MESH[:, 0].mean()) / 2 - 0.5
    sy = ((ys + y0 + 0.5 - c[1]) * 2 + MESH[:, 1].mean()) / 2 - 0.5
    ref = cv2.remap(expected, sx.astype(np.float32)[None], sy.astype(np.float32)[None], cv2.INTER_LINEAR)[0]
    err = np.abs(warped.image[inside] - ref)
    assert inside.sum() > 1000 and err.mean() < 0.01
    assert mw.warp_face(src, MESH + 1000, SHAPE) is None


def test_warp_face_turned_target_and_mirrored_source():
    img = texture(5)
    flat_colour = np.zeros(SHAPE + (3,), np.float32)
    flat_colour[:] = (0.2, 0.5, 0.8)
    src = mw.prepare_source(flat_colour, yawed(MESH, 50))
    assert src.mirrored
    warped = mw.warp_face(src, MESH, SHAPE, keep_mouth=False)
    m = warped.mask > 0.5
    # a flat source: every warped pixel is its colour, mirrored or not
    np.testing.assert_allclose(warped.image[m], np.broadcast_to([0.2, 0.5, 0.8], (m.sum(), 3)), atol=1e-5)
    assert 0 < warped.mask.min() or (warped.mask == 0).any()
    assert (warped.mask <= 1).all() and (warped.mask >= 0).all()
    # the turned source's far side takes the mirror's texture: left-right mirror images agree
    tex = mw.prepare_source(img, yawed(MESH, 50))
    out = mw.warp_face(tex, MESH, SHAPE, keep_mouth=False)
    assert out.mask.mean() > 0.3
    plain = mw.warp_face(mw.prepare_source(img, MESH), MESH, SHAPE, keep_mouth=False)
    assert np.abs(out.image - plain.image)[out.mask > 0.99].mean() > 0.02
    # a target turned away: its back-facing triangles are not drawn
    turned = yawed(MESH, 75)
    t = mw.warp_face(mw.prepare_source(img, MESH), turned, SHAPE, keep_mouth=False)
    assert t.mask.sum() < 0.7 * plain.mask.sum()


def test_composite_in_place_through_the_mask():
    frame = np.zeros((10, 10, 3), np.float32)
    mask = np.zeros((4, 4), np.float32)
    mask[1, 1], mask[2, 2] = 1.0, 0.25
    warped = mw.WarpedFace((3, 2, 7, 6), np.ones((4, 4, 3), np.float32), mask)
    assert mw.composite(frame, warped) is None
    assert frame[3, 4, 0] == 1.0 and frame[4, 5, 1] == 0.25
    assert frame.sum() == pytest.approx(3 * 1.25)


# --------------------------------------------------------------------------- added after the first mutation run

def test_mirror_triangles_computed_from_the_topology():
    np.testing.assert_array_equal(mw._mirror_triangles(), mw.MIRROR_TRIANGLES)
    m = mw._mirror_triangles()
    assert m.dtype.kind == "i" and (m >= -1).all() and (m == -1).sum() == (mw.MIRROR_TRIANGLES < 0).sum()
    assert 0 < (m == -1).sum() < 0.03 * len(m)


def _levels_source(size):
    """A source whose pyramid levels are flat red, green, blue (the colour tells the level)."""
    colours = [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    pyramid = tuple(np.broadcast_to(np.float32(c), (260 >> k, 260 >> k, 3)).copy()
                    for k, c in enumerate(colours))
    weights = np.tile([1.0, 0.0], (478, 1))
    return mw.SourceFace(pyramid, MESH, weights, size)


@pytest.mark.parametrize("ratio,level", [(1.0, 0), (2.0, 0), (0.5, 1), (0.3, 1), (0.1, 2)])
def test_warp_face_samples_the_pyramid_level_of_the_target_size(ratio, level):
    src = _levels_source(mw.face_height(MESH))
    c = MESH.mean(0)
    target = ((MESH - c) * ratio + c).astype(np.float32)
    warped = mw.warp_face(src, target, (600, 600) if ratio > 1 else SHAPE, keep_mouth=False)
    m = warped.mask > 0.5
    assert m.sum() > 10
    colour = warped.image[m].mean(0)
    assert np.argmax(colour) == level and colour.max() > 0.99, colour


def test_warp_face_small_targets_have_no_holes():
    src = mw.prepare_source(texture(), MESH)
    c = MESH.mean(0)
    small = ((MESH - c) * 0.15 + c).astype(np.float32)
    warped = mw.warp_face(src, small, SHAPE, keep_mouth=False)
    x0, y0, _, _ = warped.box
    hull = np.zeros(warped.mask.shape, np.uint8)
    oval = np.round(small[list(topo.FACE_OVAL), :2] - (x0, y0)).astype(np.int32)
    cv2.fillConvexPoly(hull, cv2.convexHull(oval), 1)
    inner = cv2.erode(hull, np.ones((3, 3), np.uint8)) > 0
    assert (warped.mask[inner] > 0.5).mean() > 0.98


def test_warp_face_default_keeps_no_eyes():
    src = mw.prepare_source(texture(), MESH)
    warped = mw.warp_face(src, MESH, SHAPE)
    x0, y0, _, _ = warped.box
    for eye in (468, 473):
        ex, ey = (MESH[eye, :2] - (x0, y0)).astype(int)
        assert warped.mask[ey, ex] > 0.99


def test_prepare_source_pyramid_boundaries_and_dtypes():
    img = texture()
    c = MESH.mean(0)
    mesh = ((MESH - c) * (193.0 / mw.face_height(MESH)) + c).astype(np.float32)  # 193 px: /4 = 48.25
    assert len(mw.prepare_source(img, mesh).pyramid) == 3
    src = mw.prepare_source(img.astype(np.float64), MESH.astype(np.float64))
    assert src.pyramid[0].dtype == np.float32 and src.landmarks.dtype == np.float32
    assert src.pyramid[0].flags["C_CONTIGUOUS"]
    small = mw.prepare_source(texture(shape=(64, 64)), MESH, min_face=1)
    assert [p.shape[0] for p in small.pyramid] == [64, 32, 16]  # halved while >= 32 px


def test_prepare_source_hidden_points_take_the_mirror():
    turned = yawed(MESH, 70)
    src = mw.prepare_source(texture(), turned)
    hidden = mw.hidden_points(turned, SHAPE)
    facing = mw.vertex_facing(turned)
    fooled = hidden & (facing > 0.5)  # facing the camera but behind the nose
    if fooled.any():
        assert (src.weights[fooled, 0] < 0.99).all()
    assert (src.weights[hidden, 0] < 0.5).mean() > 0.8


def test_similarity_3d_small_point_sets():
    rng = np.random.default_rng(2)
    src = rng.normal(size=(20, 3)) * 0.01   # variance far below 1
    scale, r, shift = mw.similarity_3d(src, 3 * src + 1)
    assert scale == pytest.approx(3.0)
    np.testing.assert_allclose(r, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(shift, [1, 1, 1], atol=1e-9)


def _split_source(own, mirror):
    """A source whose left half (x < the nose's) is red and right half blue, with the given
    own / mirror weights on every landmark."""
    img = np.zeros(SHAPE + (3,), np.float32)
    mid = int(round(float(MESH[1, 0])))
    img[:, :mid, 0] = 1
    img[:, mid:, 2] = 1
    weights = np.tile([own, mirror], (478, 1)).astype(np.float64)
    return mw.SourceFace((img,), MESH, weights, mw.face_height(MESH)), mid


def test_warp_face_mirror_weights_blend_the_mirrored_texture():
    probe = MESH[234, :2] * 0.7 + MESH[1, :2] * 0.3      # on the left cheek (image x < nose)
    src, mid = _split_source(0.0, 1.0)
    warped = mw.warp_face(src, MESH, SHAPE, keep_mouth=False)
    x0, y0, _, _ = warped.box
    px, py = (probe - (x0, y0)).astype(int)
    assert probe[0] < mid - 10
    np.testing.assert_allclose(warped.image[py, px], [0, 0, 1], atol=1e-4)  # the mirror's colour
    assert warped.mask[py, px] == pytest.approx(1.0)
    src, _ = _split_source(0.3, 0.3)                      # half each, neither fully seen
    warped = mw.warp_face(src, MESH, SHAPE, keep_mouth=False)
    np.testing.assert_allclose(warped.image[py, px], [0.5, 0, 0.5], atol=1e-4)
    assert warped.mask[py, px] == pytest.approx(0.6, abs=1e-4)


def test_warp_face_keep_mask_leaves_outside_at_zero():
    src = mw.prepare_source(texture(), MESH)
    kept = mw.warp_face(src, MESH, SHAPE)  # keep_mouth by default
    m = kept.mask
    assert max(m[0, 0], m[0, -1], m[-1, 0], m[-1, -1]) == 0


def test_warp_face_closed_source_mouth_leaves_the_open_target_mouth():
    closed = MESH                                          # Hopper's lips meet (13 and 14)
    inner = list(topo.LIPS_INNER)
    n = len(inner) // 2
    lower, upper = inner[1:n], inner[n + 1:]               # corners 78 and 308 stay
    assert 14 in lower and 13 in upper
    open_mouth = MESH.copy()
    open_mouth[lower, 1] += 8
    open_mouth[upper, 1] -= 4
    src = mw.prepare_source(texture(), closed)
    warped = mw.warp_face(src, open_mouth, SHAPE, keep_mouth=False)
    x0, y0, _, _ = warped.box
    mx, my = (open_mouth[[13, 14], :2].mean(0) - (x0, y0)).astype(int)
    assert warped.mask[my, mx] == 0                       # left to the target
    same = mw.warp_face(mw.prepare_source(texture(), open_mouth), open_mouth, SHAPE, keep_mouth=False)
    assert same.mask[my, mx] > 0.99                       # an open source fills it


def test_composite_blends_with_the_frame():
    frame = np.full((6, 6, 3), 0.5, np.float32)
    mask = np.array([[0.0, 0.5], [1.0, 0.0]], np.float32)
    mw.composite(frame, mw.WarpedFace((2, 2, 4, 4), np.ones((2, 2, 3), np.float32), mask))
    np.testing.assert_allclose(frame[2:4, 2:4, 0], [[0.5, 0.75], [1.0, 0.5]])
    assert (frame[:2] == 0.5).all() and (frame[4:] == 0.5).all()
