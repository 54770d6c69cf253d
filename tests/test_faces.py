"""Detection, 478 landmarks, alignment and paste-back on real photos (../shared/testdata)."""
import json

import cv2
import numpy as np
import pytest
import torch
from conftest import ROOT, as_image, load_rgb

from face_pipeline.models import landmarkers
from face_pipeline.pipeline import faces as ops
from face_pipeline.vision import landmarks as lmk
from face_pipeline.vision.geometry import Template

PORTRAITS = ["faces/nasa_astronaut/1.png", "faces/grace_hopper/1.jpg", "faces/obama/1.jpg",
             "faces/obama/2.jpg", "faces/obama/3.jpg", "faces/biden/1.jpg"]
REFERENCE = json.loads((ROOT / "tests/data/mediapipe_reference.json").read_text())["images"]


def faces_of(relpath, **options):
    image = as_image(load_rgb(relpath))
    return image, ops.add_landmarks(image, ops.detect_faces(image, **options))


@pytest.mark.parametrize("relpath", PORTRAITS + ["lowres/obama_240p.jpg"])
@pytest.mark.parametrize("model", ["mediapipe_face_short", "mediapipe_face_full"])
def test_one_face_per_portrait(relpath, model):
    faces = ops.detect_faces(as_image(load_rgb(relpath)), model)
    assert faces.count == 1, faces.summary()


def test_group_photo_has_two_faces_ordered():
    image = as_image(load_rgb("group/two_people.jpg"))
    faces = ops.detect_faces(image, order="left_to_right")
    assert faces.count == 2
    left, right = faces.frames[0]
    assert left.box[0] < right.box[0]
    assert ops.detect_faces(image, max_faces=1).count == 1


def test_verification_removes_detector_false_positives():
    image = as_image(load_rgb("group/two_people.jpg"))
    unverified = ops.detect_faces(image, verify=False, scan="whole_frame+tiles")
    assert unverified.count > 2  # BlazeFace alone fires on the crossed hands
    assert ops.detect_faces(image, verify=True, scan="whole_frame+tiles").count == 2


@pytest.mark.parametrize("relpath", PORTRAITS[:4] + ["group/two_people.jpg"])
def test_landmarks_shape_box_and_keypoints(relpath):
    image = as_image(load_rgb(relpath))
    detected = ops.detect_faces(image)
    faces = ops.add_landmarks(image, detected)
    for (_, _, before), (_, _, face) in zip(detected.items(), faces.items()):
        assert face.landmarks.shape == (478, 3) and face.landmark_score > 0.9
        x1, y1, x2, y2 = face.box
        pad = 0.3 * face.width
        assert (face.landmarks[:, 0] > x1 - pad).all() and (face.landmarks[:, 0] < x2 + pad).all()
        assert (face.landmarks[:, 1] > y1 - pad).all() and (face.landmarks[:, 1] < y2 + pad).all()
        # The detector's eyes and mouth centre (it has no mouth corners: those are estimated)
        # agree with the mesh's iris centres and the middle of its mouth corners.
        mesh_kps = lmk.keypoints_from_mesh(face.landmarks)
        eyes = np.linalg.norm(before.keypoints[:2] - mesh_kps[:2], axis=1)
        mouth = np.linalg.norm(before.keypoints[3:].mean(0) - mesh_kps[3:].mean(0))
        assert (eyes < 0.1 * face.width).all() and mouth < 0.1 * face.width, (eyes, mouth)
        assert np.array_equal(face.keypoints, mesh_kps)


@pytest.mark.parametrize("relpath", sorted(REFERENCE))
def test_landmarks_match_real_mediapipe(relpath):
    """The ONNX conversion + our crops reproduce MediaPipe 0.10.14's own results."""
    _, faces = faces_of(relpath)
    ours = [f.landmarks for _, _, f in faces.items()]
    for ref in REFERENCE[relpath]["face_mesh"]:
        ref = np.array(ref).reshape(478, 3)
        iod = np.linalg.norm(ref[33, :2] - ref[263, :2])
        mesh = min(ours, key=lambda o: np.abs(o[:, :2] - ref[:, :2]).mean())
        err = np.linalg.norm(mesh[:, :2] - ref[:, :2], axis=1) / iod
        assert err[:468].mean() < 0.04, err[:468].mean()
        assert err[468:].mean() < 0.06, err[468:].mean()
        assert np.corrcoef(mesh[:468, 2], ref[:468, 2])[0, 1] > 0.98


def test_head_pose_frontal_and_mirrored():
    rgb = load_rgb("faces/nasa_astronaut/1.png")
    image = as_image(rgb, rgb[:, ::-1])
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    pose, flipped = faces.frames[0][0].pose, faces.frames[1][0].pose
    assert abs(pose[0]) < 15 and abs(pose[2]) < 15
    assert abs(pose[0] + flipped[0]) < 3 and abs(pose[2] + flipped[2]) < 3
    assert abs(pose[1] - flipped[1]) < 3


def test_head_pose_follows_image_rotation():
    rgb = load_rgb("faces/grace_hopper/1.jpg")
    h, w = rgb.shape[:2]
    rotated = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), -20, 1.0), (w, h),
                             borderMode=cv2.BORDER_REPLICATE)  # 20 degrees clockwise
    image = as_image(rgb, rotated)
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    roll = [f.pose[2] for _, _, f in faces.items()]
    assert 15 < roll[1] - roll[0] < 25


@pytest.mark.parametrize("relpath", ["faces/grace_hopper/1.jpg", "faces/obama/2.jpg",
                                     "group/two_people.jpg"])
def test_align_then_paste_back_is_lossless_outside_and_close_inside(relpath):
    image, faces = faces_of(relpath)
    crops, aligned = ops.align_faces(image, faces, Template("ffhq_512", 512))
    assert crops.shape == (faces.count, 512, 512, 3)
    out, mask = ops.paste_faces_back(image, crops, aligned)
    outside = mask[0] == 0
    assert outside.any() and torch.equal(out[0][outside], image[0][outside])
    inside = mask[0] > 0.99
    mse = ((out[0] - image[0]) ** 2)[inside].mean().item()
    assert 10 * np.log10(1 / mse) > 40


def test_aligned_crop_puts_keypoints_on_the_template():
    image, faces = faces_of("faces/obama/1.jpg")
    template = Template("arcface_112_v2", 112)
    _, aligned = ops.align_faces(image, faces, template)
    face = aligned.frames[0][0]
    mapped = face.keypoints @ face.matrix[:, :2].T + face.matrix[:, 2]
    assert np.abs(mapped - template.points).max() < 6.0


def test_pasted_crop_changes_only_the_face():
    image, faces = faces_of("faces/grace_hopper/1.jpg")
    crops, aligned = ops.align_faces(image, faces, Template("ffhq_512", 256))
    out, mask = ops.paste_faces_back(image, 1.0 - crops, aligned, feather=8)
    changed = (out[0] != image[0]).any(-1)
    assert torch.equal(changed, mask[0] > 0) or (changed <= (mask[0] > 0)).all()
    x1, y1, x2, y2 = faces.frames[0][0].box
    ys, xs = torch.nonzero(changed, as_tuple=True)
    cx, cy = xs.float().mean().item(), ys.float().mean().item()
    assert x1 < cx < x2 and y1 < cy < y2


# ------------------------------------------------------------------ awkward input

def test_no_face_gives_empty_frame():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    image = as_image(np.full((240, 320, 3), 128, np.uint8), cv2.GaussianBlur(noise, (9, 9), 3))
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    assert faces.frames == ((), ())
    crops, aligned = ops.align_faces(image, faces, Template("arcface_112_v2", 112))
    assert crops.shape == (1, 112, 112, 3) and aligned.count == 0
    out, mask = ops.paste_faces_back(image, crops, aligned)
    assert torch.equal(out, image) and mask.sum() == 0


def test_grey_and_rgba_inputs_find_the_same_face():
    rgb = load_rgb("faces/grace_hopper/1.jpg")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    image = as_image(rgb)
    box = ops.detect_faces(image).frames[0][0].box
    grey_image = torch.from_numpy(grey[None, ..., None].astype(np.float32) / 255)
    rgba = torch.cat([image, torch.rand(1, *rgb.shape[:2], 1)], dim=-1)
    for variant in (grey_image, rgba):
        faces = ops.add_landmarks(variant, ops.detect_faces(variant))
        assert faces.count == 1
        assert np.abs(faces.frames[0][0].box - box).max() < 0.05 * (box[2] - box[0])


def test_batch_mixing_faces_and_no_faces():
    a = load_rgb("faces/nasa_astronaut/1.png")
    b = cv2.resize(load_rgb("faces/grace_hopper/1.jpg"), (512, 512))
    blank = np.full_like(a, 200)
    image = as_image(a, blank, b, blank)
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    assert [len(f) for f in faces.frames] == [1, 0, 1, 0]
    crops, aligned = ops.align_faces(image, faces, Template("arcface_112_v2", 112))
    out, _ = ops.paste_faces_back(image, crops, aligned)
    assert crops.shape[0] == 2 and torch.equal(out[1], image[1]) and torch.equal(out[3], image[3])


def test_huge_image():
    face = cv2.resize(load_rgb("faces/grace_hopper/1.jpg"), (1024, 1200))
    canvas = np.full((4096, 4096, 3), 90, np.uint8)
    canvas[1500:2700, 2000:3024] = face
    image = as_image(canvas)
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    assert faces.count == 1
    x1, y1, x2, y2 = faces.frames[0][0].box
    assert 2000 < (x1 + x2) / 2 < 3024 and 1500 < (y1 + y2) / 2 < 2700


def test_small_face_in_large_frame_needs_tiles():
    """A ~45 px face in a 720p frame: the whole-frame pass misses it, the tile pyramid finds it."""
    face = cv2.resize(load_rgb("faces/grace_hopper/1.jpg"), (100, 117), interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 110, np.uint8)
    frame[300:417, 900:1000] = face
    image = as_image(frame)
    assert ops.detect_faces(image, scan="whole_frame").count == 0
    faces = ops.detect_faces(image, scan="auto")
    assert faces.count == 1
    x1, y1, x2, y2 = faces.frames[0][0].box
    assert 920 < (x1 + x2) / 2 < 980 and 310 < (y1 + y2) / 2 < 390 and 30 < x2 - x1 < 70


def test_mismatched_batches_are_clear_errors():
    image, faces = faces_of("faces/nasa_astronaut/1.png")
    with pytest.raises(ValueError, match="1 frame.*IMAGE batch has 2"):
        ops.add_landmarks(torch.cat([image, image]), faces)
    with pytest.raises(ValueError, match="FACES were found on 512x512"):
        ops.align_faces(image[:, :256], faces, Template("arcface_112_v2", 112))
    crops, aligned = ops.align_faces(image, faces, Template("arcface_112_v2", 112))
    with pytest.raises(ValueError, match="no alignment matrices"):
        ops.paste_faces_back(image, crops, faces)
    with pytest.raises(ValueError, match="2 crops for 1 aligned faces"):
        ops.paste_faces_back(image, torch.cat([crops, crops]), aligned)
    with pytest.raises(ValueError, match="empty"):
        ops.detect_faces(image[:0])


# ------------------------------------------------------------------ outputs kept through speed work

LANDMARKS_BEFORE = np.load(ROOT / "tests/data/landmarks_reference.npz")
"""Detect Faces + Face Landmarks outputs (defaults) at commit fbc3bc2, before the speed work of
issue 16: per image ``|boxes [N, 4]``, ``|landmarks [N, 478, 3]``, ``|scores [N]``."""


def test_landmark_crops_are_a_warp_of_the_whole_frame():
    """The crops read a copied rectangle of the frame: bit for bit the warp of the whole frame,
    for regions inside, across the borders (replicated) and wholly outside it."""
    rng = np.random.default_rng(3)
    frame = rng.random((300, 400, 3), dtype=np.float32)
    rois = [(np.array([x, y], np.float32), side, angle) for x, y, side, angle in
            [(200, 150, 120, 0.3), (10, 290, 90, -1.2), (390, 5, 300, 2.5), (-300, 500, 50, 0.0)]]
    flips = [False, True, False, True]
    for size in (landmarkers.MESH_SIZE, landmarkers.IRIS_SIZE):
        crops, back = landmarkers._crops(frame, rois, size, flips)
        for crop, inverse in zip(crops, back):
            want = cv2.warpAffine(frame, cv2.invertAffineTransform(inverse).astype(np.float32),
                                  (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            assert np.array_equal(crop, np.clip(want, 0, 1))


@pytest.mark.parametrize("relpath", sorted({k.split("|")[0] for k in LANDMARKS_BEFORE.files}))
def test_landmarks_unchanged_by_speed_work(relpath):
    """Same face count, landmarks within 0.5% of the eye distance of the outputs before."""
    _, faces = faces_of(relpath)
    before = LANDMARKS_BEFORE[relpath + "|landmarks"]
    assert faces.count == len(before)
    ours = np.array([f.landmarks for f in faces.frames[0]])
    ours = ours[np.argsort(ours[:, :, 0].mean(1))]
    before = before[np.argsort(before[:, :, 0].mean(1))]
    for mesh, ref in zip(ours, before):
        iod = np.linalg.norm(ref[33, :2] - ref[263, :2])
        err = np.linalg.norm(mesh[:, :2] - ref[:, :2], axis=1) / iod
        assert err.max() < 0.005, (err.max(), err.argmax())


# ------------------------------------------------------------- options and messages, one each

@pytest.fixture(scope="module")
def hopper():
    return faces_of("faces/grace_hopper/1.jpg")


def test_detection_options_reach_the_detector():
    """threshold, adaptive_threshold (0.6x at 48 px and below), min_size, order and rotations
    each change what Detect Faces returns; faces carry their detector, score and mesh."""
    rgb = load_rgb("faces/grace_hopper/1.jpg")
    small = as_image(cv2.resize(rgb, (40, 40 * rgb.shape[0] // rgb.shape[1]),
                                interpolation=cv2.INTER_AREA))   # scores about 0.76
    assert ops.detect_faces(small, threshold=0.8).count == 1          # adaptive by default
    assert ops.detect_faces(small, threshold=0.8, adaptive_threshold=False).count == 0
    group = as_image(load_rgb("group/two_people.jpg"))
    found = ops.detect_faces(group)
    widths = sorted(f.width for f in found.frames[0])   # 170 and 177 px
    assert found.count == 2 and ops.detect_faces(group, min_size=sum(widths) / 2).count == 1
    canvas = np.full((480, 860, 3), 120, np.uint8)   # a small face left, a large one right
    canvas[100:356, 20:240] = cv2.resize(rgb, (220, 256), interpolation=cv2.INTER_AREA)
    canvas[10:453, 420:800] = cv2.resize(rgb, (380, 443), interpolation=cv2.INTER_AREA)
    pair = as_image(canvas)
    largest = [f.center[0] for f in ops.detect_faces(pair).frames[0]]
    leftmost = [f.center[0] for f in ops.detect_faces(pair, order="left_to_right").frames[0]]
    assert len(largest) == 2 and largest[0] > 420 and leftmost == sorted(largest)
    face = found.frames[0][0]
    assert face.detector == ops.DEFAULT_DETECTOR and 0.5 <= face.score <= 1.0
    assert face.mesh is not None and face.landmark_score > 0.5
    upside_down = as_image(np.ascontiguousarray(rgb[::-1, ::-1]))
    assert ops.detect_faces(upside_down).count == 0
    assert ops.detect_faces(upside_down, rotations="0,180").count == 1


def test_adaptive_threshold_keeps_a_small_face_the_fixed_one_finds():
    """The lowered threshold's extra weak anchors, blended into the astronaut's 10 px box (a
    48 px image), tilted her keypoints until verification failed (presence 0.37 against 0.65),
    and she was lost; with 0.5 she was found."""
    rgb = load_rgb("faces/nasa_astronaut/1.png")
    small = as_image(cv2.resize(rgb, (48, 48), interpolation=cv2.INTER_AREA))
    assert ops.detect_faces(small, adaptive_threshold=False).count == 1
    assert ops.detect_faces(small).count == 1


def test_models_get_the_device_and_download_choice(hopper, monkeypatch):
    image, faces = hopper
    calls = []
    for name in ("load_detector", "load_landmarker"):
        real = getattr(ops, name)
        monkeypatch.setattr(ops, name, lambda *a, _real=real, _name=name, **k:
                            calls.append((_name, a, k)) or _real(*a, **k))
    ops.detect_faces(image, device="cpu", allow_download=False)
    ops.add_landmarks(image, faces, device="cpu")
    assert calls == [("load_detector", (ops.DEFAULT_DETECTOR, "cpu", False), {}),
                     ("load_landmarker", (ops.DEFAULT_LANDMARKER, "cpu"), {}),
                     ("load_landmarker", (ops.DEFAULT_LANDMARKER, "cpu"), {})]


def test_refine_runs_the_mesh_again(hopper):
    image, faces = hopper
    plain = ops.add_landmarks(image, faces, refine=False).frames[0][0].landmarks
    refined = ops.add_landmarks(image, faces, refine=True).frames[0][0].landmarks
    assert not np.array_equal(plain, refined)
    assert np.abs(plain - refined)[:, :2].max() < 0.1 * faces.frames[0][0].width


def test_landmarks_twice_change_nothing():
    """Faces that have landmarks pass through Face Landmarks (a second mesh from the mesh's own
    keypoints moved points by up to 1.5 px); the others in the frame get theirs, in order."""
    image = as_image(load_rgb("group/two_people.jpg"))
    found = ops.detect_faces(image)
    once = ops.add_landmarks(image, found)
    assert ops.add_landmarks(image, once).frames == once.frames
    mixed = ops.FaceSet(((once.frames[0][0], found.frames[0][1]),), found.image_sizes)
    out = ops.add_landmarks(image, mixed).frames[0]
    assert all(np.allclose(a.landmarks, b.landmarks, atol=1e-4) for a, b in zip(out, once.frames[0]))


def test_aligned_faces_record_template_and_sizes(hopper):
    image, faces = hopper
    _, aligned = ops.align_faces(image, faces, Template("ffhq_512", 256))
    face = aligned.frames[0][0]
    assert face.template == "ffhq_512" and tuple(face.crop_size) == (256, 256)
    assert aligned.image_sizes == faces.image_sizes


def test_check_faces_names_the_input_and_the_sizes(hopper):
    image, faces = hopper
    bad = image.clone()
    bad[0, 5:9, 5:9] = float("nan")
    with pytest.raises(ValueError, match="^image: frame 0 has 16 NaN/inf"):
        ops.check_faces(bad, faces)
    with pytest.raises(ValueError, match="^target_image: frame 0"):
        ops.check_faces(bad, faces, "target_image")
    ops.check_faces(bad, faces, finite=False)
    with pytest.raises(ValueError, match="^FACES has 1 frame\\(s\\) but the IMAGE batch has 2: "
                                         "connect the image the faces were detected on$"):
        ops.check_faces(torch.cat([image, image]), faces)
    h, w = image.shape[1:3]
    with pytest.raises(ValueError, match=f"^FACES were found on {w}x{h} frames but the IMAGE "
                                         f"is {w}x{h - 10}$"):
        ops.check_faces(image[:, 10:], faces)


def test_draw_faces_marks_the_faces_and_nothing_else(hopper):
    image, faces = hopper
    drawn = ops.draw_faces_batch(image, faces)
    changed = (drawn != torch.from_numpy(np.round(image.numpy() * 255) / 255)).any(-1)[0]
    ys, xs = torch.nonzero(changed, as_tuple=True)
    x1, y1, x2, y2 = (float(v) for v in faces.frames[0][0].box)
    assert changed.sum() > 500
    assert xs.float().mean().item() == pytest.approx((x1 + x2) / 2, abs=0.3 * (x2 - x1))
    assert ys.float().mean().item() == pytest.approx((y1 + y2) / 2, abs=0.3 * (y2 - y1))
    empty = faces.map_frames(lambda i, fs: ())
    assert torch.equal(ops.draw_faces_batch(image, empty) * 255, torch.round(image * 255))
    with pytest.raises(ValueError, match="IMAGE batch has 2"):
        ops.draw_faces_batch(torch.cat([image, image]), faces)


def test_paste_back_checks_name_the_input_and_say_what_to_do():
    image = as_image(load_rgb("group/two_people.jpg"))
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    crops, aligned = ops.align_faces(image, faces, Template("arcface_112_v2", 112))
    assert crops.shape[0] == 2
    nan = crops.clone()
    nan[1, :4, :4] = float("nan")
    with pytest.raises(ValueError, match="^crops: frame 1 has"):
        ops.paste_faces_back(image, nan, aligned)
    with pytest.raises(ValueError, match="^crop_mask: frame 0 has"):
        ops.paste_faces_back(image, crops, aligned, crop_masks=torch.full((1, 112, 112), float("nan")))
    with pytest.raises(ValueError, match="^these FACES have no alignment matrices: connect the "
                                         "FACES output of Align Faces, not of Detect Faces$"):
        ops.paste_faces_back(image, crops, faces)
    with pytest.raises(ValueError, match="^got 3 crops for 2 aligned faces: connect the crops "
                                         "made by the same Align Faces node$"):
        ops.paste_faces_back(image, torch.cat([crops, crops[:1]]), aligned)
    with pytest.raises(ValueError, match="^crop_mask: got 3 crop masks for 2 faces: give one "
                                         "per face or one for all$"):
        ops.paste_faces_back(image, crops, aligned, crop_masks=torch.ones(3, 112, 112))
    with pytest.raises(ValueError, match="^crop_mask is 56x28 but the crops are 112x112: make "
                                         "the mask in 'aligned crop' space from the same Align "
                                         "Faces node \\(or resize it to the crops\\)$"):
        ops.paste_faces_back(image, crops, aligned, crop_masks=torch.ones(1, 28, 56))
    with pytest.raises(ValueError, match="^crops are 112x56 but Align Faces made 112x112 crops: "
                                         "connect the crops of the same Align Faces node "
                                         "\\(resized crops must keep its aspect ratio\\)$"):
        ops.paste_faces_back(image, crops[:, :56], aligned)
    mixed = aligned.map_frames(lambda i, fs: (fs[0], fs[1].with_(crop_size=(224, 224))))
    with pytest.raises(ValueError, match="^these FACES were aligned at several crop sizes "
                                         "\\[\\(112, 112\\), \\(224, 224\\)\\]: use one Align "
                                         "Faces node per crop size$"):
        ops.paste_faces_back(image, crops, mixed)
    # one crop mask for both faces; masks per face; RGBA crops paste their RGB
    one, _ = ops.paste_faces_back(image, crops, aligned, crop_masks=torch.ones(1, 112, 112))
    two, _ = ops.paste_faces_back(image, crops, aligned, crop_masks=torch.ones(2, 112, 112))
    plain, _ = ops.paste_faces_back(image, crops, aligned)
    assert torch.equal(one, plain) and torch.equal(two, plain)
    half = torch.ones(2, 112, 112)
    half[1] = 0.0   # the second face's mask keeps the frame there
    kept, kept_mask = ops.paste_faces_back(image, torch.zeros_like(crops), aligned, crop_masks=half)
    x1, y1, x2, y2 = (int(v) for v in faces.frames[0][1].box)
    assert torch.equal(kept[0, y1:y2, x1:x2], image[0, y1:y2, x1:x2])
    x1, y1, x2, y2 = (int(v) for v in faces.frames[0][0].box)
    cx, cy, r = (x1 + x2) // 2, (y1 + y2) // 2, (x2 - x1) // 8   # the face's centre
    assert kept[0, cy - r:cy + r, cx - r:cx + r].max() < 0.05
    rgba = torch.cat([crops, torch.full(crops.shape[:3] + (1,), 0.5)], -1)
    assert torch.equal(ops.paste_faces_back(image, rgba, aligned)[0], plain)
    # faces whose crop size is unknown (made before crop sizes were recorded) paste at 1x
    unsized = aligned.map_frames(lambda i, fs: tuple(f.with_(crop_size=None) for f in fs))
    assert torch.equal(ops.paste_faces_back(image, crops, unsized)[0], plain)


def test_an_upscaled_crop_lands_on_the_same_pixels(hopper):
    """A crop enlarged 2x (pixel centres aligned, as cv2.resize and upscalers do) pastes to
    within a few grey levels of the crop itself (2.4 levels on average, from resampling; a
    half-pixel shift of the 2x crop: 4.3)."""
    image, faces = hopper
    crops, aligned = ops.align_faces(image, faces, Template("ffhq_512", 256))
    big = cv2.resize(crops[0].numpy(), (512, 512), interpolation=cv2.INTER_LINEAR)
    same, mask = ops.paste_faces_back(image, crops, aligned)
    scaled, _ = ops.paste_faces_back(image, torch.from_numpy(big)[None], aligned)
    inside = mask[0] > 0.99
    assert float((same[0] - scaled[0]).abs()[inside].mean()) < 3.0 / 255


def test_faces_found_on_a_resized_copy_map_back_to_the_frames(hopper):
    """Faces found on a 2x upscaled copy land on the original frame at half the coordinates;
    a copy of another aspect ratio, or another batch, is an error."""
    image, faces = hopper
    big = torch.nn.functional.interpolate(image.permute(0, 3, 1, 2), scale_factor=2.0,
                                          mode="bilinear").permute(0, 2, 3, 1)
    on_big = ops.detect_faces(big)
    mapped = ops.faces_on_frames(image, on_big)
    assert mapped.image_sizes == faces.image_sizes
    np.testing.assert_allclose(mapped.frames[0][0].box, on_big.frames[0][0].box / 2, rtol=1e-5)
    assert np.abs(mapped.frames[0][0].box - faces.frames[0][0].box).max() < 0.05 * faces.frames[0][0].width
    assert ops.faces_on_frames(image, faces) is faces
    h, w = image.shape[1:3]
    with pytest.raises(ValueError, match=f"FACES were found on {w}x{h} frames but the IMAGE is "
                                         f"{w}x{h // 2}"):
        ops.faces_on_frames(image[:, :h // 2], faces)
    with pytest.raises(ValueError, match="IMAGE batch has 2"):
        ops.faces_on_frames(torch.cat([image, image]), faces)
