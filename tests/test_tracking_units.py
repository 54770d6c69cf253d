"""Tracking (vision/tracking.py, pipeline/tracking.py) on synthetic faces with known answers:
the One-Euro filter's first steps, the statistics smoother, motion, track association (size,
identity, distance, hints, half-hidden faces), filling and interpolation, cut signatures, the
chunk-to-chunk state and the report.  No images or models: fast (the tracking modules'
mutation subset, tools/mutation/modules.txt); tests/test_tracking.py runs real video."""
import math

import numpy as np
import pytest
import torch

from face_pipeline.pipeline import tracking as ops
from face_pipeline.vision import tracking
from face_pipeline.vision.face import Face, FaceSet
from face_pipeline.vision.landmarks import head_pose


def g(cutoff):
    """The documented gain of a first-order low-pass at ``cutoff`` cycles per frame."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff))


def face_at(cx, cy, w=40.0, **kw) -> Face:
    """A face of width ``w`` centred at (cx, cy): eyes 0.4 w apart."""
    h = w
    kps = np.array([[cx - 0.2 * w, cy - 0.1 * h], [cx + 0.2 * w, cy - 0.1 * h], [cx, cy],
                    [cx - 0.15 * w, cy + 0.2 * h], [cx + 0.15 * w, cy + 0.2 * h]], np.float32)
    return Face(box=np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32),
                score=kw.pop("score", 0.9), keypoints=kps, **kw)


# ---- geometry helpers ---------------------------------------------------------------------

def test_inter_ocular_rigid_motion_and_gain():
    assert tracking.inter_ocular(face_at(50, 50, 40)) == pytest.approx(16.0)
    assert tracking.inter_ocular(face_at(50, 50, 1)) == 1.0
    pts = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32)
    m, d = tracking.rigid_motion(pts, pts + [3, 4])
    assert d == pytest.approx(5.0) and np.allclose(m, [[1, 0, 3], [0, 1, 4]], atol=1e-5)
    turned = (pts - 5) @ np.array([[0, 1], [-1, 0]], np.float32) + 5     # 90 degrees about (5, 5)
    m, d = tracking.rigid_motion(pts, turned)
    assert d == pytest.approx(np.hypot(5, 5) * np.sqrt(2)) and np.allclose(m[:, :2], [[0, -1], [1, 0]], atol=1e-5)
    assert tracking._gain(0.5) == pytest.approx(g(0.5)) and 0 < tracking._gain(0.01) < tracking._gain(1) < 1


def test_points_and_moved_fields():
    lm = np.random.default_rng(0).uniform(0, 100, (478, 3)).astype(np.float32)
    kps = np.ones((5, 2), np.float32)
    assert np.array_equal(tracking._points({"landmarks": lm, "keypoints": kps}), lm[:468, :2])
    assert np.array_equal(tracking._points({"keypoints": kps}), kps)
    m = np.array([[1, 0, 2], [0, 1, 3]], np.float32)
    crop = np.array([[2, 0, -10], [0, 2, -20]], np.float32)
    moved = tracking._moved({"box": np.array([1, 2, 5, 6], np.float32), "keypoints": kps,
                             "matrix": crop, "landmarks": lm}, m)
    assert np.allclose(moved["box"], [3, 5, 7, 9]) and np.allclose(moved["keypoints"], kps + [2, 3])
    assert np.allclose(moved["landmarks"][:, :2], lm[:, :2] + [2, 3])
    assert np.allclose(moved["landmarks"][:, 2], lm[:, 2], atol=1e-4)
    p = np.array([7.0, 9.0, 1.0])
    assert np.allclose(moved["matrix"] @ (p + [2, 3, 0]), crop @ p, atol=1e-4)   # same crop point
    assert all(v.dtype == np.float32 for v in moved.values())


# ---- filters ------------------------------------------------------------------------------

def test_one_euro_filter_first_steps():
    f = tracking.OneEuroFilter(min_cutoff=0.1, beta=2.0, speed_cutoff=0.5, velocity_gain=0.5)
    kp0 = face_at(50, 50).keypoints
    out0 = f({"keypoints": kp0}, 10.0)
    assert np.array_equal(out0["keypoints"], kp0)
    out0["keypoints"] += 100                                 # a copy: the state is untouched
    d = np.float32([3, 0])
    kp1 = kp0 + d
    out1 = f({"keypoints": kp1}, 10.0)["keypoints"]
    speed1 = g(0.5) * (3 / 10)
    a1 = g(0.1 + 2.0 * speed1)
    assert f.speed == pytest.approx(speed1, rel=1e-4)
    assert np.allclose(out1, kp0 + a1 * d, atol=1e-4)
    assert np.allclose(f.motion, [[1, 0, 0.5 * a1 * 3], [0, 1, 0]], atol=1e-4)
    out2 = f({"keypoints": kp1}, 10.0)["keypoints"]
    predicted = out1 + [0.5 * a1 * 3, 0]
    dist = 3 - 3 * a1 - 1.5 * a1
    speed2 = speed1 + g(0.5) * (abs(dist) / 10 - speed1)
    a2 = g(0.1 + 2.0 * speed2)
    assert f.speed == pytest.approx(speed2, rel=1e-3)
    assert np.allclose(out2, predicted + a2 * (kp1 - predicted), atol=1e-3)
    # a still measurement stays put; a small scale counts as 1 px
    still = tracking.OneEuroFilter()
    for _ in range(3):
        assert np.allclose(still({"keypoints": kp0}, 0.2)["keypoints"], kp0)
    a, b = tracking.OneEuroFilter(), tracking.OneEuroFilter()
    for kp in (kp0, kp1):
        ra, rb = a({"keypoints": kp}, 0.5), b({"keypoints": kp}, 1.0)
    assert np.allclose(ra["keypoints"], rb["keypoints"])
    # new fields or shapes restart from the measurement
    box = np.array([0, 0, 10, 10], np.float32)
    assert np.array_equal(f({"keypoints": kp1 + 50, "box": box}, 10.0)["keypoints"], kp1 + 50)
    assert f.speed == 0.0 and np.array_equal(f.motion, tracking.IDENTITY)
    assert np.array_equal(f({"keypoints": np.zeros((6, 2))}, 10.0)["keypoints"], np.zeros((6, 2)))


def test_stats_smoother_steps():
    s = tracking.StatsSmoother(min_cutoff=0.03, beta=0.5, speed_cutoff=0.1)
    x0 = np.array([[50.0, 1.0, -2.0]])
    assert np.array_equal(s(x0), x0) and np.array_equal(s.trend, np.zeros_like(x0))
    x1 = x0 + [[4.0, 0.0, -1.0]]
    trend = g(0.1) * (x1 - x0)
    value = x0 + g(0.03 + 0.5 * 4.0 * g(0.1)) * (x1 - x0)
    got = s(x1)
    assert np.allclose(s.trend, trend) and np.allclose(got, value)
    got[:] = 0                                                # a copy
    assert np.allclose(s.value, value)
    trend2 = trend + g(0.1) * (x1 - value - trend)
    value2 = value + g(0.03 + 0.5 * np.abs(trend2).max()) * (x1 - value)
    assert np.allclose(s(x1), value2) and np.allclose(s.trend, trend2)
    assert np.array_equal(s(np.zeros((2, 3))), np.zeros((2, 3)))     # a new shape restarts
    flat = tracking.StatsSmoother()
    for _ in range(4):
        assert np.allclose(flat(x0), x0)


# ---- tracks -------------------------------------------------------------------------------

def test_track_prediction_and_shift():
    f = face_at(50, 50)
    t = tracking.Track(0, f, f, tracking.OneEuroFilter(), velocity=np.float32([2, -1]), missed=2)
    assert np.allclose(t.predicted_center(), [56, 47])
    assert np.allclose(t.predicted_box(), f.box + [6, -3, 6, -3])
    lm = np.random.default_rng(1).uniform(0, 100, (478, 3)).astype(np.float32)
    crop = np.array([[2, 0, -10], [0, 2, -20]], np.float32)
    moved = tracking.shift_face(f.with_(landmarks=lm, matrix=crop), np.float32([3, 4]))
    assert np.allclose(moved.box, f.box + [3, 4, 3, 4]) and np.allclose(moved.keypoints, f.keypoints + [3, 4])
    assert np.allclose(moved.landmarks, lm + [3, 4, 0])
    p = np.array([7.0, 9.0, 1.0])
    assert np.allclose(moved.matrix @ (p + [3, 4, 0]), crop @ p, atol=1e-4)
    plain = tracking.shift_face(f, np.float32([1, 1]))
    assert plain.landmarks is None and plain.matrix is None
    smoothed = tracking._with_smoothed(f, {"landmarks": lm, "box": f.box + 1})
    assert np.allclose(smoothed.pose, head_pose(lm)) and np.allclose(smoothed.box, f.box + 1)
    assert tracking._with_smoothed(f, {"box": f.box}).pose is None


def test_duplicates_keep_the_older_track():
    a = face_at(50, 50, track_id=3)
    b = face_at(52, 50, track_id=1)        # IoU ~0.9 with a: older track 1 wins
    c = face_at(51, 50)                    # no hint: after the hinted ones
    d = face_at(200, 50)
    kept = tracking._without_duplicates([a, c, d, b])
    assert [id(f) for f in kept] == [id(b), id(d)]
    half = face_at(70, 50)                 # 20 px shift of a 40 px face: IoU 1/3, both kept
    assert len(tracking._without_duplicates([face_at(50, 50), half])) == 2


def _run(tracker, frames):
    return [tracker.update(fs) for fs in frames]


def test_tracker_keeps_ids_fills_and_ends():
    tr = tracking.FaceTracker(tracking.TrackerOptions(max_gap=2))
    out = _run(tr, [[face_at(50 + 4 * i, 50), face_at(200 - 4 * i, 60)] for i in range(4)])
    assert [[f.track_id for f in fs] for fs in out] == [[0, 1]] * 4
    assert not any(f.filled for fs in out for f in fs)
    assert np.allclose(out[0][0].box, face_at(50, 50).box)          # a new track: as measured
    # velocity: half-way toward each frame's step (4 px per frame)
    v = tr.tracks[0].velocity
    assert 2.0 < v[0] <= 4.0 and abs(v[1]) < 0.1
    # track 1 lost: filled for max_gap frames, moved by its velocity, then gone
    lost = _run(tr, [[face_at(66 + 4 * i, 50)] for i in range(4)])
    assert [[(f.track_id, f.filled) for f in fs] for fs in lost] == [
        [(0, False), (1, True)], [(0, False), (1, True)], [(0, False)], [(0, False)]]
    v1 = out[3][1].center - out[2][1].center
    assert np.allclose(lost[0][1].center - out[3][1].center, tr_velocity(out, 1), atol=1.0)
    assert v1[0] < 0
    # a tentative track (fewer than 3 sightings) is not filled
    tr2 = tracking.FaceTracker()
    res = _run(tr2, [[face_at(50, 50)], [face_at(51, 50)], []])
    assert res[2] == ()
    res = _run(tr2, [[face_at(52, 50)]])
    assert res[0][0].track_id == 1                            # it ended; a new id
    tr2.end_all()
    assert tr2.tracks == [] and tr2.update([face_at(52, 50)])[0].track_id == 2


def tr_velocity(out, k):
    return out[3][k].center - out[2][k].center


def test_tracker_association_rules():
    opts = tracking.TrackerOptions(max_distance=0.6, min_similarity=0.3)
    # size change beyond 1.4x: a new track
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50, 40)])
    assert tr.update([face_at(50, 50, 57)])[0].track_id == 1
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50, 40)])
    assert tr.update([face_at(50, 50, 55)])[0].track_id == 0
    # a jump over max_distance face widths (and little overlap): a new track
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50)])
    assert tr.update([face_at(50 + 0.8 * 40, 50)])[0].track_id == 1
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50)])
    assert tr.update([face_at(50 + 0.5 * 40, 50)])[0].track_id == 0
    # identity: another person never continues, the same one from 3x further
    e1 = np.zeros(4, np.float32)
    e1[0] = 1
    e2 = np.zeros(4, np.float32)
    e2[1] = 1
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50, embedding=e1)])
    assert tr.update([face_at(52, 50, embedding=e2)])[0].track_id == 1
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50, embedding=e1)])
    assert tr.update([face_at(50 + 1.5 * 40, 50, embedding=e1)])[0].track_id == 0
    # the nearest prediction wins when two faces could continue one track
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50)])
    out = tr.update([face_at(30, 50), face_at(60, 50)])
    assert {f.track_id: float(f.center[0]) for f in out}[1] == pytest.approx(30)
    # a hint continues its track wherever the face is
    tr = tracking.FaceTracker(opts)
    tr.update([face_at(50, 50), face_at(300, 50)])
    out = tr.update([face_at(300, 60, track_id=0)])
    assert [(f.track_id, f.filled) for f in out] == [(0, False)]


def test_half_hidden_face_of_a_lost_track_starts_nothing():
    tr = tracking.FaceTracker()
    for i in range(3):
        tr.update([face_at(50, 50, 40), face_at(200, 50, 40)])
    # track 1's face comes back half as wide inside its old box: not a new track, and its
    # fill is dropped too (nothing to fill while something sits there)
    out = tr.update([face_at(50, 50, 40), face_at(195, 50, 18)])
    assert [(f.track_id, f.filled) for f in out] == [(0, False), (1, True)]
    assert tr.next_id == 2


def test_filled_face_under_a_real_one_is_dropped():
    tr = tracking.FaceTracker()
    for i in range(3):
        tr.update([face_at(50, 50, 40), face_at(95, 50, 40)])
    # track 1 (by its hint) moves onto track 0's place: track 0's fill there is left out
    out = tr.update([face_at(55, 50, 40, track_id=1)])
    assert [(f.track_id, f.filled) for f in out] == [(1, False)]
    out = tr.update([face_at(150, 50, 40, track_id=1)])
    assert [(f.track_id, f.filled) for f in out] == [(0, True), (1, False)]


def test_interpolate_gaps():
    a, b = face_at(50, 50, track_id=0), face_at(80, 62, track_id=0)
    fill = lambda f: f.with_(filled=True)                   # noqa: E731
    frames = [(a,), (fill(a),), (fill(a),), (b,), (fill(b),)]
    out = tracking.interpolate_gaps(frames)
    assert np.allclose(out[1][0].box, a.box + (b.box - a.box) / 3, atol=1e-4)
    assert np.allclose(out[2][0].keypoints, a.keypoints + 2 * (b.keypoints - a.keypoints) / 3, atol=1e-4)
    assert out[1][0].filled and out[4][0] is frames[4][0] and out[0][0] is a
    untracked = [(face_at(1, 1),), (face_at(2, 2, filled=True),)]
    assert tracking.interpolate_gaps(untracked) == [tuple(f) for f in untracked]
    lm = np.zeros((478, 3), np.float32)
    mixed = tracking._lerp_face(a.with_(landmarks=lm), b, 0.5, a)
    assert mixed.landmarks is None and mixed.pose is None and np.allclose(mixed.box, (a.box + b.box) / 2)


# ---- cuts ---------------------------------------------------------------------------------

def test_frame_signature_and_cuts():
    frame = np.zeros((64, 80, 3), np.uint8)
    frame[:] = (200, 10, 100)
    sig = tracking.frame_signature(frame)
    assert sig.shape == (16, 64) and np.allclose(sig.sum(1), 1)
    assert np.all(sig[:, 3 * 16 + 0 * 4 + 1] == 1.0)
    other = frame.copy()
    other[:] = (10, 200, 100)
    frame2 = frame.copy()
    frame2[:, :40] = (10, 200, 100)                          # half the cells change
    s_other, s_half = tracking.frame_signature(other), tracking.frame_signature(frame2)
    assert tracking.cut_score(sig, sig) == 0.0 and tracking.cut_score(sig, s_other) == 1.0
    assert tracking.cut_score(sig, s_half) == 0.5
    assert tracking.is_cut(sig, s_other) and not tracking.is_cut(sig, s_half)
    assert not tracking.is_cut(None, s_other) and tracking.is_cut(sig, s_half, threshold=0.4)
    assert not tracking.is_cut(sig, s_other, threshold=1.0)
    rgba = np.dstack([frame, np.full((64, 80), 7, np.uint8)])
    assert np.array_equal(tracking.frame_signature(rgba), sig)
    # a cell whose colours are half changed: Bhattacharyya distance sqrt(1 - 0.5**0.5) = 0.54
    cell = frame.copy()
    cell[:, :, :] = (200, 10, 100)
    cell[::2] = (10, 200, 100)
    assert tracking.cut_score(sig, tracking.frame_signature(cell)) == 1.0


# ---- pipeline/tracking.py -----------------------------------------------------------------

def _video(n, cut_at=None):
    frames = np.zeros((n, 48, 64, 3), np.float32)
    frames[:] = [0.8, 0.3, 0.2]
    for i in range(n):                       # a small square moving: frames differ, no cut
        frames[i, 20:28, 11 * i:11 * i + 8] = 0.5
    if cut_at is not None:
        frames[cut_at:] = [0.1, 0.2, 0.9]
    return torch.from_numpy(frames)


def test_track_face_set_with_cuts_max_faces_and_fill():
    faces = FaceSet(tuple((face_at(20 + 2 * i, 24, 20), face_at(44, 24, 10, track_id=9))
                          for i in range(4)) + ((face_at(28, 24, 20),), (), (face_at(38, 24, 20),)),
                    ((48, 64),) * 7)
    out, state = ops.track_face_set(faces, max_faces=1, fill="extrapolate")
    assert all(len(fs) == 1 for fs in out.frames[:4]) and out.image_sizes == faces.image_sizes
    assert all(f.track_id == 0 and f.width == 20 for fs in out.frames[:4] for f in fs)
    assert out.frames[5][0].filled and out.frames[5][0].center[0] < 32  # extrapolated
    inter, _ = ops.track_face_set(faces, max_faces=1)
    mid = inter.frames[5][0]
    assert mid.filled and mid.center[0] > 32                          # toward the next sighting
    both, _ = ops.track_face_set(faces)
    assert [f.track_id for f in both.frames[0]] == [0, 1]             # hints are dropped
    # a cut in the images ends every track
    cut, _ = ops.track_face_set(faces, _video(7, cut_at=2))
    assert cut.frames[1][0].track_id == 0 and cut.frames[2][0].track_id == 2
    same, state = ops.track_face_set(faces, _video(7))
    assert same.frames[2][0].track_id == 0 and state.signature is not None
    # chunks: the state carries the tracks on
    first, st = ops.track_face_set(FaceSet(faces.frames[:3], faces.image_sizes[:3]))
    rest, _ = ops.track_face_set(FaceSet(faces.frames[3:], faces.image_sizes[3:]), state=st)
    assert rest.frames[0][0].track_id == first.frames[2][0].track_id
    opts = tracking.TrackerOptions(max_gap=0)
    nogap, st = ops.track_face_set(faces, options=opts, fill="extrapolate")
    assert nogap.frames[5] == () and st.tracker.options is opts
    with pytest.raises(ValueError, match=r"^fill 'both': choose one of \['interpolate', 'extrapolate'\]$"):
        ops.track_face_set(faces, fill="both")
    with pytest.raises(ValueError, match="FACES has 7 frame"):
        ops.track_face_set(faces, _video(3))


def test_carried_state_continues_the_same_video_only():
    key = "node-unit"
    video = _video(6)
    assert not np.array_equal(ops._signature(video, 0), ops._signature(video, 1))
    settings = ("a", 1)
    assert ops.carried_state(key, video, settings) is None
    before, after = None, ops.new_state()
    after.tracker.next_id = 5
    after.signature = ops._signature(video, 5)
    ops.remember_run(key, video[:3], settings, before, after)
    after.tracker.next_id = 77                                                 # kept a copy
    state = ops.carried_state(key, video[3:], settings)
    assert state is not None and state.tracker.next_id == 5 and state is not after
    state.tracker.next_id = 99
    assert ops.carried_state(key, video[3:], settings).tracker.next_id == 5   # copies
    assert ops.carried_state(key, video[3:], ("a", 2)) is None                # other settings
    assert ops.carried_state(key, video[:, :40], settings) is None            # other size
    assert ops.carried_state(key, _video(3, cut_at=0), settings) is None      # another video
    start = ops.new_state()
    start.tracker.next_id = 2
    ops.remember_run(key, video[:3], settings, start, after)
    start.tracker.next_id = 66
    again = ops.carried_state(key, video[:3], settings)                       # the same chunk
    assert again.tracker.next_id == 2 and again is not start
    for n in range(ops.MAX_REMEMBERED + 1):
        ops.remember_run(f"other-{n}", video, settings, None, after)
    assert ops.carried_state(key, video[3:], settings) is None                # forgotten
    assert ops.carried_state("other-1", video[3:], settings) is not None      # the last 16 kept
    assert ops.carried_state(f"other-{ops.MAX_REMEMBERED}", video[3:], settings) is not None


def test_tracking_report_and_ranges():
    t = lambda i, **kw: face_at(10, 10, track_id=i, **kw)            # noqa: E731
    faces = FaceSet(((t(0), t(1)), (t(0, filled=True),), (t(0, filled=True),), (), (t(0),),
                     (t(2, filled=True),)))
    assert ops.tracking_report(faces) == (
        "track 0: frames 0-4 (4 frames)\ntrack 1: frames 0-0 (1 frames)\n"
        "track 2: frames 5-5 (1 frames)\nfilled frames: 1-2, 5")
    assert ops.tracking_report(FaceSet(((t(3),),))) == "track 3: frames 0-0 (1 frames)\nfilled frames: none"
    assert ops.tracking_report(FaceSet(((), ()))) == "no face found in any frame"
    assert ops._ranges([3, 4, 5, 9, 11, 12]) == ["3-5", "9", "11-12"] and ops._ranges([]) == []


def test_reanchor_and_mesh_boxes():
    rng = np.random.default_rng(0)
    lm = np.concatenate([rng.uniform(20, 60, (468, 3)), np.zeros((10, 3))]).astype(np.float32)
    face = face_at(40, 40, landmarks=lm, track_id=4)
    boxed = ops._mesh_box(face)
    assert np.allclose(boxed.box, [*lm[:468, :2].min(0), *lm[:468, :2].max(0)])
    iod = tracking.inter_ocular(boxed)
    near = boxed.with_(landmarks=lm + [0.05 * iod, 0, 0], track_id=None)   # agrees: kept
    assert ops._reanchor([boxed], [near]) == [boxed]
    far = boxed.with_(landmarks=lm + [0.2 * iod, 0, 0], track_id=None)     # disagrees: replaced
    got = ops._reanchor([boxed], [far])
    assert len(got) == 1 and got[0].track_id == 4 and np.allclose(got[0].landmarks, far.landmarks)
    other = ops._mesh_box(face_at(200, 40, landmarks=lm + [160, 0, 0]))
    assert ops._reanchor([boxed], [other]) == [boxed, other]
    assert ops._reanchor([], [other]) == [other]
    roi = ops._roi_face(np.array([50.0, 60.0]), 30.0, 0.0, 7)
    assert roi.track_id == 7 and np.allclose(roi.center, [50, 60])
    from face_pipeline.vision.landmarks import MESH_ROI_SCALE
    assert roi.width == pytest.approx(30.0 / MESH_ROI_SCALE)
    assert np.allclose(roi.keypoints[1] - roi.keypoints[0], [1, 0])
    tilted = ops._roi_face(np.array([50.0, 60.0]), 30.0, np.pi / 2, 7)
    assert np.allclose(tilted.keypoints[1] - tilted.keypoints[0], [0, 1], atol=1e-6)


@pytest.fixture(scope="module")
def clip():
    """Five 192x160 frames: the astronaut's head (112 px) moving 3 px per frame, then a cut
    to a blank frame and back."""
    import cv2
    from conftest import load_rgb

    head = cv2.resize(load_rgb("faces/nasa_astronaut/1.png"), (112, 112))
    frames = []
    for i in range(4):
        canvas = np.full((160, 192, 3), 90, np.uint8)
        canvas[20:132, 30 + 3 * i:142 + 3 * i] = head
        frames.append(canvas)
    return torch.from_numpy(np.stack(frames).astype(np.float32) / 255)


def test_track_faces_follows_one_head(clip, monkeypatch):
    calls = []
    real = ops.detect_faces

    def counting(image, *args, **kw):
        calls.append(kw.get("scan"))
        return real(image, *args, **kw)

    monkeypatch.setattr(ops, "detect_faces", counting)
    faces, state = ops.track_faces(clip, detect_every=2)
    assert [len(fs) for fs in faces.frames] == [1] * 4 and faces.image_sizes == ((160, 192),) * 4
    assert all(f.track_id == 0 and f.landmarks is not None and not f.filled
               for _, _, f in faces.items())
    xs = [float(fs[0].center[0]) for fs in faces.frames]
    assert all(2.0 < b - a < 4.0 for a, b in zip(xs, xs[1:]))           # follows the 3 px steps
    # detections: the first (no track, full scan), then every 2nd frame (whole-frame pass)
    assert calls == ["auto", "whole_frame"] and state.since_detect == 1 and state.routine == 1
    calls.clear()
    more, state = ops.track_faces(clip[2:], state=state, detect_every=100)
    assert calls == [] and all(f.track_id == 0 for _, _, f in more.items())
    # a cut (another video) ends the tracks: a new id
    blank = torch.full_like(clip[:1], 0.9)
    after, _ = ops.track_faces(torch.cat([blank, clip[:1]]), state=state, detect_every=100)
    assert after.frames[0] == () and after.frames[1][0].track_id == 1
    with pytest.raises(ValueError, match="^fill 'x'"):
        ops.track_faces(clip, fill="x")
