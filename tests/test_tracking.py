"""Face tracks on synthetic clips with a known trajectory (see video_clips.py).

The tracker's defaults (TrackerOptions) and the cut threshold were tuned on clips of the Grace
Hopper portrait; these tests assert on clips of the astronaut portrait (and a cut from it to
Obama 2); Grace Hopper appears only as a swap source and as the other video of a continued run.
"""
import numpy as np
import pytest
import torch
import video_clips as V
from conftest import load_rgb

from face_pipeline.pipeline import identity
from face_pipeline.pipeline.faces import add_landmarks, detect_faces
from face_pipeline.pipeline.swap import face_swap
from face_pipeline.pipeline.tracking import track_face_set, track_faces, tracking_report
from face_pipeline.vision.face import Face, FaceSet
from face_pipeline.vision.tracking import FaceTracker, TrackerOptions, frame_signature, is_cut

SIZE = (320, 240)
NO_SMOOTHING = TrackerOptions(min_cutoff=100.0, beta=0.0)


@pytest.fixture(scope="module")
def astronaut():
    """The portrait and its reference landmarks (portrait pixels)."""
    image = V.portrait("astronaut")
    still = torch.from_numpy(image[None].astype(np.float32) / 255)
    face = add_landmarks(still, detect_faces(still), refine=True).frames[0][0]
    return image, face


def make_clip(astronaut, path, **degrade):
    image, face = astronaut
    mats = [V.camera(face.center, s, a, z, SIZE) for s, a, z in path]
    frames = V.render(image, mats, SIZE, seed=3, **degrade)
    truth = V.true_landmarks(face.landmarks, mats)
    iod = np.linalg.norm(truth[:, 263] - truth[:, 33], axis=1)
    return torch.from_numpy(frames.astype(np.float32) / 255), truth, iod


def landmarks_of(faces):
    """``[T, 478, 2]`` of the first face of each frame (NaN where none)."""
    out = np.full((len(faces), 478, 2), np.nan)
    for i, fs in enumerate(faces.frames):
        if fs:
            out[i] = fs[0].landmarks[:, :2]
    return out


@pytest.fixture(scope="module")
def moving(astronaut):
    """40 frames: pan, rotation (+-10 deg) and zoom (+-12 %), sensor noise and JPEG 40."""
    return make_clip(astronaut, V.smooth_path(40), noise=12, jpeg=40)


def test_smoothing_reduces_jitter_on_a_moving_head(moving):
    clip, truth, iod = moving
    tracked, _ = track_faces(clip)
    raw, _ = track_faces(clip, options=NO_SMOOTHING)
    assert all(len(fs) == 1 and fs[0].track_id == 0 and not fs[0].filled for fs in tracked.frames)
    est, est_raw = landmarks_of(tracked), landmarks_of(raw)
    jitter, jitter_raw = V.jitter(est, truth, iod), V.jitter(est_raw, truth, iod)
    error = np.linalg.norm(est - truth, axis=-1)[:, V.RIGID_POINTS].mean() / iod.mean()
    assert jitter <= 0.015 and jitter < 0.9 * jitter_raw, (jitter, jitter_raw)
    assert error < 0.03  # lag stays small while the head keeps moving


def test_no_lag_on_a_sudden_move(astronaut):
    """Still for 12 frames, then a fast pan (about 20 % of the eye distance per frame)."""
    start, n = 12, 24
    clip, truth, iod = make_clip(astronaut, V.sudden_path(n, start, 10.0), noise=12, jpeg=40)
    tracked, _ = track_faces(clip)
    est = landmarks_of(tracked)
    assert V.jitter(est[:start], truth[:start], iod[:start]) <= 0.015
    x_est = est[:, V.RIGID_POINTS, 0].mean(1)
    x_true = truth[:, V.RIGID_POINTS, 0].mean(1)
    t = np.arange(n, dtype=float)
    moving = t >= start + 1

    def misfit(lag):  # the estimate compared with the truth delayed by `lag` frames
        return np.abs(x_est[moving] - np.interp(t[moving] - lag, t, x_true)).mean()

    lags = np.arange(0, 3.01, 0.05)
    best = lags[np.argmin([misfit(s) for s in lags])]
    assert best <= 1.0, best


def test_a_face_in_every_frame_through_blur_and_occlusion(astronaut):
    blur, hidden = (12, 13, 14), (22,)
    clip, truth, iod = make_clip(astronaut, V.smooth_path(30), noise=6, jpeg=60,
                                 blur_frames=blur, hide_frames=hidden)
    alone = detect_faces(clip[list(blur + hidden)])
    assert any(not fs for fs in alone.frames)  # the detector alone loses the face
    tracked, _ = track_faces(clip)
    assert all(len(fs) == 1 and fs[0].track_id == 0 for fs in tracked.frames)
    report = tracking_report(tracked)
    filled = [i for i, fs in enumerate(tracked.frames) if fs[0].filled]
    assert set(hidden) <= set(filled) and "filled frames: " in report
    assert all(f"{i}" in report.splitlines()[-1] for i in (filled[0], filled[-1]))
    error = np.linalg.norm(landmarks_of(tracked) - truth, axis=-1)[:, V.RIGID_POINTS].mean(1) / iod
    assert error.max() < 0.12, error.round(3)  # measured 0.07, in the blurred frames


def test_chunked_tracking_equals_one_batch(moving):
    clip = moving[0][:20]
    whole, _ = track_faces(clip, fill="extrapolate", detect_every=6)
    first, state = track_faces(clip[:9], fill="extrapolate", detect_every=6)
    second, _ = track_faces(clip[9:], state=state, fill="extrapolate", detect_every=6)
    chunked = first.frames + second.frames
    assert len(chunked) == len(whole.frames)
    for a, b in zip(whole.frames, chunked):
        assert [f.track_id for f in a] == [f.track_id for f in b]
        for fa, fb in zip(a, b):
            np.testing.assert_allclose(fa.landmarks, fb.landmarks, atol=1e-4)


def test_tracks_continue_across_queue_runs(moving):
    """Track Faces with continue_tracks, queued chunk by chunk (as a long video loaded run by
    run): the same faces as one batch; the same chunk queued again gives the same faces; a
    clip of another scene starts afresh (ids from 0)."""
    from face_pipeline.nodes.video import TrackFaces

    clip = moving[0][:20]
    whole, _ = track_faces(clip, fill="extrapolate", detect_every=6)
    node = TrackFaces()
    args = dict(detect_every=6, min_cutoff=TrackerOptions().min_cutoff, beta=TrackerOptions().beta,
                max_gap=TrackerOptions().max_gap, fill="extrapolate", max_faces=0,
                detector="mediapipe_face_short", device="auto", continue_tracks=True,
                unique_id="test-continue")
    first, _ = node.track(clip[:9], **args)
    second, report = node.track(clip[9:], **args)
    again, _ = node.track(clip[9:], **args)
    assert report.startswith("tracks continued")
    for a, b, c in zip(whole.frames, first.frames + second.frames, first.frames + again.frames):
        assert [f.track_id for f in a] == [f.track_id for f in b] == [f.track_id for f in c]
        for fa, fb, fc in zip(a, b, c):
            np.testing.assert_allclose(fa.landmarks, fb.landmarks, atol=1e-4)
            np.testing.assert_array_equal(fb.landmarks, fc.landmarks)
    grace = V.portrait("grace_hopper")   # another video: a cut from the last run's end
    mats = [V.camera((250, 190), (2 * t, 0), 0, 0.6, SIZE) for t in range(5)]
    other = torch.from_numpy(V.render(grace, mats, SIZE).astype(np.float32) / 255)
    fresh, report = node.track(other, **args)
    assert not report.startswith("tracks continued")
    assert {f.track_id for fs in fresh.frames for f in fs} == {0}


def test_cut_ends_tracks_and_smoothing(astronaut):
    """A pan over the astronaut, then a cut to Obama 2 (the cut threshold was calibrated on
    Grace Hopper pans and Grace Hopper <-> astronaut cuts, vision/tracking.py)."""
    image, face = astronaut
    pan = [V.camera(face.center, (dx, 0), 0, 0.6, SIZE) for dx in (0, 8, 16)]
    frames = V.render(image, pan, SIZE, noise=6)
    obama = load_rgb("faces/obama/2.jpg")
    seen = detect_faces(torch.from_numpy(obama[None].astype(np.float32) / 255)).frames[0][0]
    zoom = 0.6 * face.width / seen.width   # the face as large as the astronaut's
    other = V.render(obama, [V.camera(seen.center, (0, 0), 0, zoom, SIZE)], SIZE)[0]
    sigs = [frame_signature(f) for f in [*frames, other]]
    assert not is_cut(sigs[0], sigs[1]) and not is_cut(sigs[1], sigs[2])
    assert is_cut(sigs[2], sigs[3])
    clip = torch.from_numpy(np.stack([*frames, other]).astype(np.float32) / 255)
    found = add_landmarks(clip, detect_faces(clip))
    tracked, _ = track_face_set(found, clip)
    ids = [fs[0].track_id for fs in tracked.frames]
    assert ids[:3] == [0, 0, 0] and ids[3] == 1
    np.testing.assert_array_equal(tracked.frames[3][0].landmarks, found.frames[3][0].landmarks)


def test_crossing_faces_keep_their_ids_and_only_the_reference_person_is_swapped():
    """Two people cross, one fully hidden behind the other for two frames; the astronaut is
    the reference person: "swap only her" must hold in every frame."""
    frames, centres = V.crossing()
    clip = torch.from_numpy(frames.astype(np.float32) / 255)
    tracked, _ = track_faces(clip)
    person_of = {}
    for i, fs in enumerate(tracked.frames):
        for f in fs:
            who = int(np.argmin(np.linalg.norm(centres[i] - f.center, axis=1)))
            assert person_of.setdefault(f.track_id, who) == who, (i, f.track_id)
    assert sorted(person_of.values()) == [0, 1]
    embedded, _ = identity.embed_faces(clip, tracked)
    still = torch.from_numpy(V.portrait("astronaut")[None].astype(np.float32) / 255)
    reference, _ = identity.embed_faces(still, detect_faces(still))
    chosen, _ = identity.select_by_reference(embedded, reference)
    assert {f.track_id for _, _, f in chosen.items()} == {k for k, v in person_of.items() if v == 0}
    grace = torch.from_numpy(V.portrait("grace_hopper")[None].astype(np.float32) / 255)
    out, mask, _ = face_swap(grace, clip, target_faces=chosen)
    for i in range(len(frames)):
        (ax, _), (bx, by) = centres[i].astype(int)
        if abs(ax - bx) > 110:  # apart: her face swapped, the other untouched
            x, y = chosen.frames[i][0].center.astype(int)
            assert abs(x - ax) < 20 and mask[i, y - 5:y + 5, x - 5:x + 5].mean() > 0.5
            assert mask[i, by - 50:by + 50, bx - 50:bx + 50].max() == 0
        elif abs(ax - bx) < 30:  # she is hidden: the face in front is not swapped
            assert mask[i, by - 20:by + 20, bx - 20:bx + 20].max() == 0


def test_swap_on_a_still_head_does_not_flicker(astronaut):
    """Still camera, sensor noise and JPEG: inside the swapped region the output changes from
    frame to frame no more than the input does (margin 0), and about half as much as a swap on
    faces found frame by frame (measured: 0.0118 vs 0.0235, input 0.021; 0.0124 vs 0.0262
    while the source's glasses frames still travelled and flickered with the per-frame
    landmarks, so the bar is 0.55, not 0.5)."""
    image, face = astronaut
    mats = [V.camera(face.center, (0, 0), 0, 1.0, SIZE)] * 12
    clip = torch.from_numpy(V.render(image, mats, SIZE, noise=8, jpeg=50, seed=5)
                            .astype(np.float32) / 255)
    source = torch.from_numpy(V.portrait("grace_hopper")[None].astype(np.float32) / 255)
    tracked, _ = track_faces(clip)
    per_frame = add_landmarks(clip, detect_faces(clip))
    out, mask, _ = face_swap(source, clip, target_faces=tracked)
    out_pf, mask_pf, _ = face_swap(source, clip, target_faces=per_frame)
    region = (mask > 0.5).all(0) & (mask_pf > 0.5).all(0)
    assert region.sum() > 2000

    def change(x):
        return float((x[1:] - x[:-1]).abs().mean(-1)[:, region].mean())

    assert change(out) <= change(clip) and change(out) < 0.55 * change(out_pf)


def test_swap_colour_is_smoothed_per_track(astronaut):
    """Still head, sensor noise, and light flickering (+-12 %) everywhere but the face: the
    swapped region's mean colour varies less over time with the colour statistics smoothed
    per track (tracked faces) than measured frame by frame (the same faces without track ids).
    The rest of the pumping is the target's own lighting band near the flickering edge."""
    image, face = astronaut
    mats = [V.camera(face.center, (0, 0), 0, 1.0, SIZE)] * 12
    clip = V.render(image, mats, SIZE, noise=8, jpeg=50, seed=7).astype(np.float32) / 255
    yy, xx = np.mgrid[:SIZE[1], :SIZE[0]]
    outside = np.hypot(xx - SIZE[0] / 2, yy - SIZE[1] / 2) > 0.2 * SIZE[1]
    light = 1 + 0.12 * np.random.default_rng(1).choice([-1, 1], len(clip))
    clip = torch.from_numpy(np.where(outside[None, ..., None], np.clip(clip * light[:, None, None, None], 0, 1), clip))
    source = torch.from_numpy(V.portrait("grace_hopper")[None].astype(np.float32) / 255)
    tracked, _ = track_faces(clip)
    untracked = FaceSet(tuple(tuple(f.with_(track_id=None) for f in fs) for fs in tracked.frames),
                        tracked.image_sizes)
    out, mask, _ = face_swap(source, clip, target_faces=tracked, color="reinhard")
    raw, mask_raw, _ = face_swap(source, clip, target_faces=untracked, color="reinhard")
    region = (mask > 0.5).all(0) & (mask_raw > 0.5).all(0) & torch.from_numpy(~outside)
    assert region.sum() > 2000

    def pumping(x):  # std over time of the region's mean colour, mean over channels
        return float(x[:, region].mean(1).std(0).mean())

    assert pumping(out) < 0.8 * pumping(raw), (pumping(out), pumping(raw))  # 0.0040 vs 0.0053


def test_skin_tone_is_smoothed_per_track_with_the_default_colour(astronaut):
    """Default Face Swap (mesh warp, color "skin"), still head, sensor noise + JPEG: the
    swapped region's mean colour changes from frame to frame no more than the input's plus
    0.0005 (0.13 of an 8-bit grey level; measured 0.0006 vs input 0.0008, 0.0020 before the
    skin tone was smoothed).  With the whole picture flickering +-4 % as well, the smoothed
    region changes less than 0.7x as much as without (measured 0.55x).  Margin and ratio
    calibrated on the same clips of Grace Hopper (0.0012 vs 0.0008 input; 0.48x)."""
    image, face = astronaut
    mats = [V.camera(face.center, (0, 0), 0, 1.0, SIZE)] * 12
    clip = V.render(image, mats, SIZE, noise=8, jpeg=50, seed=5).astype(np.float32) / 255
    source = torch.from_numpy(V.portrait("grace_hopper")[None].astype(np.float32) / 255)

    def change(x, region):  # mean frame-to-frame change of the region's mean colour
        return float(x[:, region].mean(1).diff(dim=0).abs().mean())

    still = torch.from_numpy(clip)
    tracked, _ = track_faces(still)
    out, mask, _ = face_swap(source, still, target_faces=tracked)
    region = (mask > 0.5).all(0)
    assert region.sum() > 2000
    assert change(out, region) <= change(still, region) + 0.0005, \
        (change(out, region), change(still, region))
    light = 1 + 0.04 * np.random.default_rng(1).choice([-1, 1], len(clip))
    flicker = torch.from_numpy(np.clip(clip * light[:, None, None, None], 0, 1))
    tracked, _ = track_faces(flicker)
    untracked = FaceSet(tuple(tuple(f.with_(track_id=None) for f in fs) for fs in tracked.frames),
                        tracked.image_sizes)
    out, mask, _ = face_swap(source, flicker, target_faces=tracked)
    raw, mask_raw, _ = face_swap(source, flicker, target_faces=untracked)
    region = (mask > 0.5).all(0) & (mask_raw > 0.5).all(0)
    assert change(out, region) < 0.7 * change(raw, region), \
        (change(out, region), change(raw, region))


def test_stats_smoother_damps_flicker_and_follows_a_step():
    """Alternating flicker of 5 units is damped below a third; a 10-unit step is followed to
    90 % within 8 frames (real lighting changes pass, flicker does not)."""
    from face_pipeline.vision.tracking import StatsSmoother

    smooth = StatsSmoother()
    flicker = [smooth(np.full((4, 3), 50 + 5 * (-1) ** t))[0, 0] for t in range(30)]
    assert np.ptp(flicker[10:]) < 10 / 3
    step = StatsSmoother()
    out = [step(np.full((4, 3), 50.0 if t < 5 else 60.0))[0, 0] for t in range(20)]
    assert out[5 + 8] > 59


def test_low_landmark_confidence_runs_the_detector(astronaut, monkeypatch):
    """A followed face whose landmark confidence drops (but stays above the lost threshold)
    makes the detector run on that frame, not only every ``detect_every`` frames."""
    from face_pipeline.pipeline import tracking as T

    image, face = astronaut
    clip, _, _ = make_clip(astronaut, [((0, 0), 0, 0.6)] * 8)
    real, follows = T.load_landmarker, []

    def landmarker(*args):
        model = real(*args)

        def run(frame, faces):
            found = model(frame, faces)
            if faces and faces[0].track_id is not None:  # a crop following a track
                follows.append(1)
                if len(follows) == 4:  # frame 4: confidence drops
                    return [f.with_(landmark_score=0.6) for f in found]
            return found
        return run

    detected = []
    real_detect = T.detect_faces
    monkeypatch.setattr(T, "load_landmarker", landmarker)
    monkeypatch.setattr(T, "detect_faces", lambda *a, **k: detected.append(1) or real_detect(*a, **k))
    tracked, _ = track_faces(clip, detect_every=100)
    assert all(len(fs) == 1 for fs in tracked.frames)
    assert len(detected) == 2  # the first frame, and the weak one


def test_embeddings_keep_ids_when_people_swap_places():
    """Two people walk toward each other, are hidden for a frame and turn back: each
    reappears where the other was predicted, so position alone swaps their ids; their
    embeddings keep them."""
    e1, e2 = np.eye(2, 8, dtype=np.float32)

    def face(x, emb=None):
        return Face(box=np.array([x - 25, 50, x + 25, 100], np.float32), score=1.0,
                    keypoints=np.array([[x - 10, 70], [x + 10, 70]] + [[x, 80]] * 3, np.float32),
                    embedding=emb)

    for embedded, expected in ((True, [0, 1]), (False, [1, 0])):
        tracker = FaceTracker()
        emb = (e1, e2) if embedded else (None, None)
        for xa, xb in ((100, 220), (115, 205), (130, 190), (145, 175)):
            out = tracker.update([face(xa, emb[0]), face(xb, emb[1])])
        assert [f.track_id for f in out] == [0, 1]
        tracker.update([])  # both hidden for a frame
        out = tracker.update([face(145, emb[0]), face(175, emb[1])])  # turned back
        out = [f for f in out if not f.filled]
        ids = [f.track_id for f in sorted(out, key=lambda f: f.center[0])]
        assert ids == expected, (embedded, ids)


def test_head_turn_keeps_jitter_low(astronaut):
    """The face turns +-20 degrees (mesh warp of the portrait's own pixels), seen at 0.6x with
    noise and JPEG 40: jitter on the rigid points <= 1.5 % IOD (measured 1.36 %; 1.96 %
    without smoothing)."""
    image, face = astronaut
    frames, truth = V.head_turn(image, face.landmarks, 24)
    m = V.camera(face.center, (0, 0), 0, 0.6, SIZE)
    clip = np.stack([V.render(f, [m], SIZE, noise=12, jpeg=40, seed=t)[0]
                     for t, f in enumerate(frames)])
    truth = truth @ m[:, :2].T + m[:, 2]
    iod = np.linalg.norm(truth[:, 263] - truth[:, 33], axis=1)
    clip = torch.from_numpy(clip.astype(np.float32) / 255)
    tracked, _ = track_faces(clip)
    raw, _ = track_faces(clip, options=NO_SMOOTHING)
    assert all(len(fs) == 1 and fs[0].track_id == 0 for fs in tracked.frames)
    jitter = V.jitter(landmarks_of(tracked), truth, iod)
    assert jitter <= 0.015 and jitter < V.jitter(landmarks_of(raw), truth, iod)


def test_colour_smoothers_are_shared_per_set_of_tracks():
    """One smoother per set of tracks blended together in a region; none for untracked faces
    (several untracked faces in a frame included) or a region without a chosen face."""
    from face_pipeline.pipeline.swap import color_smoothers

    def face(x, track):
        return Face(box=np.array([x, 0, x + 10, 10], np.float32), score=1.0,
                    keypoints=np.zeros((5, 2), np.float32), detector="test", track_id=track)

    untracked = FaceSet(((face(0, None), face(20, None)),), ((64, 64),))
    assert color_smoothers(untracked, "all") is None
    tracked = FaceSet(((face(0, 0), face(20, 1)), (face(0, 0),), (face(0, 0), face(20, 1)), ()),
                      ((64, 64),) * 4)
    hook = color_smoothers(tracked, "all")
    both, left, right = (0, 0, 64, 64), (0, 0, 15, 64), (15, 0, 64, 64)
    assert hook(0, both) is hook(2, both) and hook(1, both) is not hook(0, both)
    assert hook(0, left) is hook(1, both) and hook(2, right) is not hook(0, left)
    assert hook(3, both) is None and hook(1, right) is None
