"""vision/landmarks.py and vision/mesh_topology.py on known geometry: crop maps, crop regions from
a detection or a mesh, iris crops, keypoints and head pose (synthetic meshes and Grace Hopper's
stored mesh from tests/data/landmarks_reference.npz; no model runs)."""
import math

import numpy as np
import pytest
from conftest import ROOT

from face_pipeline.vision import landmarks as lmk
from face_pipeline.vision import mesh_topology as topo
from face_pipeline.vision.face import Face

HOPPER = np.load(ROOT / "tests/data/landmarks_reference.npz")["faces/grace_hopper/1.jpg|landmarks"][0]


def rotation(yaw=0.0, pitch=0.0, roll=0.0) -> np.ndarray:
    """Rotation (degrees) in the conventions of ``head_pose``: yaw turns the nose (-z) to +x,
    pitch lowers it to +y (image down), roll turns the eye line from +x towards +y."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    turn = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    nod = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    tilt = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return tilt @ nod @ turn


def frontal_mesh() -> np.ndarray:
    rng = np.random.default_rng(5)
    mesh = rng.normal(scale=0.3, size=(478, 3))
    mesh[lmk.RIGHT_EYE_OUTER], mesh[lmk.LEFT_EYE_OUTER] = [-1, 0, 0], [1, 0, 0]
    mesh[lmk.FOREHEAD], mesh[lmk.CHIN] = [0, -1, 0], [0, 1.5, 0]
    return mesh


def test_rect_matrix_maps_the_rect_onto_the_crop():
    center, size, out = np.array([50.0, 40.0]), 20.0, 64
    for angle in (0.0, 0.7, -2.0):
        m = lmk.rect_matrix(center, size, angle, out)
        assert m.dtype == np.float32 and m.shape == (2, 3)
        c, s = math.cos(angle), math.sin(angle)
        axis_x, axis_y = np.array([c, s]), np.array([-s, c])
        for corner, want in [((0, 0), (32, 32)), ((1, 0), (64, 32)), ((0, 1), (32, 64)), ((-1, -1), (0, 0))]:
            p = center + size / 2 * (corner[0] * axis_x + corner[1] * axis_y)
            np.testing.assert_allclose(m @ [*p, 1.0], want, atol=1e-3)
    assert np.isfinite(lmk.rect_matrix(center, 0.0, 0.0, out)).all()   # degenerate size: no division by 0
    assert lmk.rect_matrix(center, 0.5, 0.0, out)[0, 0] == pytest.approx(128)   # a sub-pixel rect is enlarged


def test_mesh_roi_from_a_detection():
    face = Face(box=np.array([10, 20, 50, 80], np.float32), score=0.9,
                keypoints=np.array([[20, 40], [40, 60], [31, 62], [22, 65], [38, 65]], np.float32))
    center, size, angle = lmk.mesh_roi_from_face(face)
    np.testing.assert_allclose(center, [30, 50])
    assert size == pytest.approx(1.5 * 60) and angle == pytest.approx(math.pi / 4)


def test_mesh_roi_from_landmarks_is_the_tilted_bounding_box():
    mesh = np.zeros((478, 3), np.float32)
    rng = np.random.default_rng(1)
    local = rng.uniform([-30, -40], [30, 50], size=(478, 2))
    local[lmk.RIGHT_EYE_OUTER], local[lmk.LEFT_EYE_OUTER] = [-20, 0], [20, 0]
    local[:4] = [[-30, -40], [30, -40], [30, 50], [-30, 50]]   # the box in the eye-line frame
    local[468:] = [100, 100]                                    # iris points are not part of it
    for angle in (0.0, 0.5, -1.2):
        c, s = math.cos(angle), math.sin(angle)
        mesh[:, :2] = local @ np.array([[c, s], [-s, c]]) + [200, 150]
        center, size, got = lmk.mesh_roi_from_landmarks(mesh)
        assert got == pytest.approx(angle, abs=1e-6) and center.dtype == np.float32
        np.testing.assert_allclose(center, np.array([0, 5]) @ np.array([[c, s], [-s, c]]) + [200, 150], atol=1e-3)
        assert size == pytest.approx(1.5 * 90, rel=1e-5)


def test_iris_rois_from_the_eye_corners():
    mesh = np.zeros((478, 3), np.float32)
    mesh[lmk.RIGHT_EYE_OUTER, :2], mesh[lmk.RIGHT_EYE_INNER, :2] = [10, 20], [30, 20]
    mesh[lmk.LEFT_EYE_INNER, :2], mesh[lmk.LEFT_EYE_OUTER, :2] = [50, 20], [50, 50]
    (rc, rs, ra), (lc, ls, la) = lmk.iris_rois(mesh)
    np.testing.assert_allclose(rc, [20, 20]) and np.testing.assert_allclose(lc, [50, 35])
    assert (rs, ls) == (pytest.approx(2.3 * 20), pytest.approx(2.3 * 30))
    assert (ra, la) == (pytest.approx(0.0), pytest.approx(math.pi / 2))


def test_keypoints_from_mesh_are_irises_nose_and_mouth_corners():
    kps = lmk.keypoints_from_mesh(HOPPER)
    np.testing.assert_array_equal(kps, HOPPER[[468, 473, 1, 61, 291], :2])
    kps[:] = 0
    assert HOPPER[468, 0] != 0   # a copy: editing the keypoints leaves the mesh alone
    right_eye, left_eye, nose, mouth_r, mouth_l = lmk.keypoints_from_mesh(HOPPER)
    assert right_eye[0] < nose[0] < left_eye[0] and mouth_r[0] < mouth_l[0]   # image left = subject's right
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_r[1], mouth_l[1])


@pytest.mark.parametrize("yaw, pitch, roll", [(30, 0, 0), (-20, 0, 0), (0, 15, 0), (0, -25, 0), (0, 0, 40),
                                              (0, 0, -10)])
def test_head_pose_reads_back_known_rotations(yaw, pitch, roll):
    mesh = frontal_mesh()
    assert np.abs(lmk.head_pose(mesh)).max() < 1e-3
    got = lmk.head_pose(mesh @ rotation(yaw, pitch, roll).T)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [yaw, pitch, roll], atol=0.05)


@pytest.mark.parametrize("seed", range(4))
def test_head_pose_of_any_rotation_is_the_turned_nose_and_eye_line(seed):
    """Known answer from the rotation itself: the nose (-z) goes to -R[:, 2], the eye line (+x)
    to R[:, 0]; the chin sits off the face's midline (the forehead -> chin line is not square to
    the eyes), which must not change the pose."""
    mesh = frontal_mesh()
    mesh[lmk.CHIN] = [0.4, 1.5, 0]
    r = rotation(*np.random.default_rng(seed).uniform(-35, 35, 3))
    nose, eyes = -r[:, 2], r[:, 0]
    want = [math.degrees(math.atan2(nose[0], -nose[2])), math.degrees(math.atan2(nose[1], math.hypot(nose[0], nose[2]))),
            math.degrees(math.atan2(eyes[1], eyes[0]))]
    np.testing.assert_allclose(lmk.head_pose(mesh @ r.T), want, atol=0.05)


def test_head_pose_ignores_size_and_position():
    mesh = frontal_mesh() @ rotation(25, -10, 5).T
    np.testing.assert_allclose(lmk.head_pose(mesh * 2.5 + [300, 200, 40]), lmk.head_pose(mesh), atol=1e-3)
    assert lmk.head_pose(mesh)[0] > 20


def test_mesh_topology_is_a_mirrored_surface():
    assert sorted(topo.MIRROR[topo.MIRROR]) == list(range(478))
    np.testing.assert_array_equal(topo.MIRROR[topo.MIRROR], np.arange(478))   # mirroring twice
    assert list(topo.MIRROR[list(topo.RIGHT_EYE)]) == list(topo.LEFT_EYE)
    assert list(topo.MIRROR[list(topo.RIGHT_IRIS)]) == list(topo.LEFT_IRIS)
    tri = topo.TRIANGLES
    assert tri.min() == 0 and tri.max() < 468 and len(np.unique(tri)) == 468
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), 1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert counts.max() == 2   # every edge borders at most two triangles: a surface
    # on Hopper's mesh the triangles do not overlap: their areas add up to the covered area
    pts = HOPPER[:, :2]
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    u, v = b - a, c - a
    area = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]) / 2
    assert (area > 0).all()
    oval = pts[list(topo.FACE_OVAL)]
    x, y = oval[:, 0], oval[:, 1]
    oval_area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert area.sum() == pytest.approx(oval_area, rel=0.02)
