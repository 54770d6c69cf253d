"""`vision/face.py`, the FACES type: face geometry properties, copies with changes (float32
arrays, the mesh dropped when the box moves), scaling with the frame, and FaceSet counting,
iteration, mapping, resizing and summary (issue 15 item 4: outcomes that kill mutants).
"""
import numpy as np
import pytest

from face_pipeline.vision.face import NUM_LANDMARKS, Face, FaceSet


def face(x0=10, y0=20, x1=50, y1=80, **changes):
    base = Face(np.array([x0, y0, x1, y1], np.float32), 0.9,
                np.array([[20, 40], [40, 40], [30, 55], [22, 68], [38, 68]], np.float32))
    return base.with_(**changes) if changes else base


def test_geometry_properties():
    f = face()
    assert NUM_LANDMARKS == 478
    assert (f.width, f.height, f.area) == (40.0, 60.0, 2400.0)
    assert f.center.tolist() == [30.0, 50.0] and f.center.dtype == np.float32
    assert isinstance(f.width, float) and isinstance(f.height, float)
    assert face(50, 20, 10, 80).area == 0.0 and face(10, 80, 50, 20).area == 0.0
    assert f.captured_width == 40.0
    assert face(source_width=12).captured_width == 12.0
    assert not f.enhanced and not face(fusion_gate=1.0).enhanced
    assert face(fusion_gate=0.99).enhanced and face(fusion_gate=0.0).enhanced


def test_with_converts_arrays_and_drops_the_mesh_when_the_box_or_keypoints_move():
    mesh = np.ones((468, 3))
    f = face(mesh=mesh, embedding=[1, 0], pose=[1, 2, 3], matrix=np.eye(2, 3),
             landmarks=np.zeros((478, 3)))
    f = f.with_(keypoints=[[1, 2]] * 5, box=[1, 2, 3, 4], mesh=mesh)
    for key in ("mesh", "embedding", "pose", "matrix", "landmarks", "keypoints", "box"):
        assert getattr(f, key).dtype == np.float32, key
    assert f.with_(score=0.5).mesh is not None and f.with_(score=0.5).score == 0.5
    assert f.with_(box=[0, 0, 5, 5]).mesh is None
    assert f.with_(keypoints=np.zeros((5, 2))).mesh is None
    kept = f.with_(box=[0, 0, 5, 5], mesh=mesh * 2)
    assert kept.mesh is not None and kept.mesh[0, 0] == 2 and kept.box.dtype == np.float32
    assert f.with_(embedding=None).embedding is None
    assert face().box.tolist() == [10, 20, 50, 80]


def test_scaled_moves_every_coordinate_with_the_frame():
    landmarks = np.tile([[30.0, 50.0, 4.0]], (478, 1))
    matrix = np.array([[2.0, 0, -10], [0, 2.0, -20]])
    f = face(landmarks=landmarks, matrix=matrix, source_width=7, mesh=np.ones((468, 3)))
    s = f.scaled(2.0, 0.5)
    assert s.box.tolist() == [20, 10, 100, 40]
    assert s.keypoints[0].tolist() == [40, 20]
    assert s.landmarks[0].tolist() == [60, 25, 8]                   # z follows x
    assert np.allclose(s.matrix, [[1.0, 0, -10], [0, 4.0, -20]])
    # the scaled matrix maps the scaled frame's pixel to the same crop pixel
    point = np.array([30.0, 50.0, 1.0])
    assert np.allclose(s.matrix @ (point * [2.0, 0.5, 1]), matrix @ point)
    assert s.source_width == 7 and s.mesh is None
    plain = face().scaled(3.0, 3.0)
    assert plain.landmarks is None and plain.matrix is None and plain.width == 120.0


def test_faceset_counts_iterates_and_summarises():
    a, b, c = face(), face(60, 20, 90, 80), face(0, 0, 8, 8)
    faces = FaceSet([[a, b], [], [c]], [(100, 200)] * 3)
    assert len(faces) == 3 and faces.count == 3
    assert isinstance(faces.frames, tuple) and isinstance(faces.frames[0], tuple)
    assert faces.image_sizes == ((100, 200),) * 3 and isinstance(faces.image_sizes[0], tuple)
    assert [(i, j, f.box[0]) for i, j, f in faces.items()] == [(0, 0, 10), (0, 1, 60), (2, 0, 0)]
    assert faces.summary() == "frame 0: 2 faces\nframe 1: 0 faces\nframe 2: 1 face"
    assert FaceSet([]).count == 0 and FaceSet([]).summary() == ""
    with pytest.raises(ValueError, match=r"^FaceSet has 2 frames but 1 sizes$"):
        FaceSet([[a], []], [(1, 1)])
    assert FaceSet([[a], []]).image_sizes == ()


def test_faceset_map_frames_and_resized():
    a, b = face(), face(60, 20, 90, 80)
    faces = FaceSet([[a, b], [b]], [(100, 200), (50, 100)])
    first_only = faces.map_frames(lambda i, fs: fs[:1] if i == 0 else ())
    assert first_only.count == 1 and first_only.frames[0][0] is a
    assert first_only.image_sizes == faces.image_sizes and len(first_only) == 2
    big = faces.resized((200, 400))
    assert big.image_sizes == ((200, 400), (200, 400))
    assert big.frames[0][1].box.tolist() == [120, 40, 180, 160]      # 2x
    assert big.frames[1][0].box.tolist() == [240, 80, 360, 320]      # 4x
    with pytest.raises(ValueError, match="^these FACES do not record their frame size; they "
                       "cannot be resized$"):
        FaceSet([[a]]).resized((10, 10))
