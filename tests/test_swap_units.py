"""The mesh-warp swap's batch logic (pipeline/swap_geometry.py): region names, face selection
(per frame and per track), the confidence floor and its report, source choice, region masks,
and mesh_warp_swap's options on one small portrait pair landmarked once.  Fast: the mutation
subset of the swap modules (tools/mutation/modules.txt)."""
import re

import numpy as np
import pytest
import torch
from conftest import as_image, load_rgb

from face_pipeline.pipeline import swap_geometry as ops
from face_pipeline.pipeline.faces import add_landmarks, detect_faces
from face_pipeline.vision import regions
from face_pipeline.vision.face import Face, FaceSet
from face_pipeline.vision.tracking import StatsSmoother


def exactly(text: str) -> str:
    return "^" + re.escape(text) + "$"


def _face(box, **kw) -> Face:
    return Face(box=np.array(box, np.float32), score=kw.pop("score", 0.9),
                keypoints=np.zeros((5, 2), np.float32), **kw)


def test_parse_regions():
    assert ops.parse_regions(" Skin, lips;eyes ,") == ["skin", "lips", "eyes"]
    assert ops.parse_regions("occluders") == ["occluders"] and ops.parse_regions("") == []
    with pytest.raises(ValueError, match=exactly(
            f"unknown face region(s) hat, ears; choose from {', '.join(ops.REGION_NAMES)}")):
        ops.parse_regions("skin, hat, ears")


def test_select_faces_by_index_size_and_track():
    small, big, mid = _face((0, 0, 10, 10)), _face((0, 0, 30, 30)), _face((0, 0, 20, 20))
    faces = FaceSet(((small, big, mid), (), (mid,)))
    assert ops.select_faces(faces, " ALL ") == [[0, 1, 2], [], [0]]
    assert ops.select_faces(faces, "largest") == [[1], [], [0]]
    assert ops.select_faces(faces, "2, 0,2,5") == [[2, 0], [], [0]]
    assert ops.select_faces(faces, "-1") == [[], [], []]
    with pytest.raises(ValueError, match=exactly(
            "target selection 'first': use 'all', 'largest' or indices like '0,2'")):
        ops.select_faces(faces, "First")
    # tracked: indices are track ids; largest is the largest mean area over the video
    t = lambda box, tid: _face(box, track_id=tid)                      # noqa: E731
    video = FaceSet(((t((0, 0, 30, 30), 7), t((0, 0, 20, 23), 3)),      # areas 900, 460
                     (t((0, 0, 1, 1), 7),),                                # 1: track 7 mean 450.5
                     ()))
    assert ops.select_faces(video, "largest") == [[1], [], []]         # by mean, not max or sum
    assert ops.select_faces(video, "7") == [[0], [0], []]
    assert ops.select_faces(video, "3,7") == [[0, 1], [0], []]
    assert ops.select_faces(video, "all") == [[0, 1], [0], []]


def test_confidence_floor_and_report():
    a = _face((0, 0, 10, 10), score=0.5, landmark_score=0.9)
    b = _face((0, 0, 10, 10), score=0.99, landmark_score=0.51)
    c = _face((0, 0, 10, 10), score=0.75)
    assert ops.face_confidence(a) == 0.9 and ops.face_confidence(c) == 0.75
    kept, skipped = ops.confident_faces((a, b, c), [0, 1, 2], 0.75)
    assert kept == [0, 2] and skipped == ["face 1 (confidence 0.51 < 0.75)"]
    assert ops.confident_faces((a, b, c), [2, 1], 0.76) == (
        [], ["face 2 (confidence 0.75 < 0.76)", "face 1 (confidence 0.51 < 0.76)"])
    assert ops.frame_report(3, ["0", "2"], []) == "frame 3: swapped face 0, 2"
    assert ops.frame_report(0, [], []) == "frame 0: no face swapped (unchanged)"
    assert ops.frame_report(1, ["0"], ["face 1 (x)", "face 2 (y)"]) == \
        "frame 1: swapped face 0; skipped for low confidence: face 1 (x), face 2 (y)"
    assert ops.frame_report(1, [], ["face 1 (x)"]) == \
        "frame 1: no face swapped (unchanged); skipped for low confidence: face 1 (x)"


def test_source_face_is_counted_frame_major():
    a, b, c = _face((0, 0, 1, 1)), _face((0, 0, 2, 2)), _face((0, 0, 3, 3))
    faces = FaceSet(((a,), (), (b, c)))
    assert ops.source_face(faces, 0) == (0, a) and ops.source_face(faces, 2) == (2, c)
    with pytest.raises(ValueError, match=exactly(
            "source face index 3 is out of range: the source has 3 face(s)")):
        ops.source_face(faces, 3)
    with pytest.raises(ValueError, match="out of range"):
        ops.source_face(faces, -1)
    with pytest.raises(ValueError, match=exactly("no face was found in the source image")):
        ops.source_face(FaceSet(((), ())), 0)


def test_rgb_copy():
    grey = torch.rand(2, 4, 5, 1)
    out = ops.rgb_copy(grey)
    assert out.shape == (2, 4, 5, 3) and torch.equal(out[..., 2], grey[..., 0])
    rgba = torch.rand(1, 4, 5, 4, dtype=torch.float64)
    out = ops.rgb_copy(rgba)
    assert out.dtype == torch.float32 and torch.equal(out, rgba[..., :3].float())
    assert out.is_contiguous()
    two = torch.rand(1, 3, 3, 2)
    assert torch.equal(ops.rgb_copy(two)[..., 1], two[..., 0])
    x = torch.rand(1, 3, 3, 3)
    y = ops.rgb_copy(x)
    y += 1
    assert torch.all(x < 1)                                  # a copy, not a view


# ---- with landmarks: one small pair -------------------------------------------------------

@pytest.fixture(scope="module")
def pair():
    import cv2

    src = as_image(cv2.resize(load_rgb("faces/nasa_astronaut/1.png"), (320, 320)))
    tgt = as_image(cv2.resize(load_rgb("faces/grace_hopper/1.jpg"), (200, 234)))
    return src, add_landmarks(src, detect_faces(src)), tgt, add_landmarks(tgt, detect_faces(tgt))


def test_region_masks_need_landmarks_and_aligned_faces(pair):
    src, src_faces, _, _ = pair
    bare = FaceSet(((_face((0, 0, 10, 10)),),), ((320, 320),))
    with pytest.raises(ValueError, match=exactly(
            "Face Region Mask needs 478 landmarks: connect the FACES output of Face Landmarks")):
        ops.face_region_masks(src, bare, ["face"])
    with pytest.raises(ValueError, match=exactly(
            "Face Region Mask needs 478 landmarks: connect the FACES output of Face Landmarks")):
        ops.crop_region_masks(bare, ["face"])
    with pytest.raises(ValueError, match=exactly(
            "the occluders region is found in the image: use space 'image'")):
        ops.crop_region_masks(src_faces, ["face"], ["occluders"])
    with pytest.raises(ValueError, match=exactly(
            "crop-space masks need aligned faces: connect the FACES output of "
            "Align Faces (after Face Landmarks)")):
        ops.crop_region_masks(src_faces, ["face"])
    empty = ops.crop_region_masks(FaceSet(((),)), ["face"])
    assert empty.shape == (1, 64, 64) and not empty.any()
    mask = ops.face_region_masks(src, src_faces, ["face"], ["eyes"])
    want = regions.faces_region_mask(src_faces.frames[0], (320, 320), ["face"], ["eyes"])
    assert np.array_equal(mask[0].numpy(), want)
    # occluders: added to / cut from the drawn regions (the skin-colour model here)
    from face_pipeline.vision import skin
    found = skin.occlusion_mask(src[0].numpy(), src_faces.frames[0][0].landmarks, ())
    assert found.max() > 0
    plus = ops.face_region_masks(src, src_faces, ["face", "occluders"])
    minus = ops.face_region_masks(src, src_faces, ["face"], ["occluders"])
    face = regions.faces_region_mask(src_faces.frames[0], (320, 320), ["face"])
    assert np.allclose(plus[0].numpy(), np.maximum(face, found))
    assert np.allclose(minus[0].numpy(), face * (1 - found))
    only = ops.face_region_masks(src, src_faces, ["occluders"])
    assert np.allclose(only[0].numpy(), found)
    none = ops.face_region_masks(src.expand(2, -1, -1, -1), FaceSet((src_faces.frames[0], ()),
                                 ((320, 320),) * 2), ["face", "occluders"])
    assert not none[1].any()


def test_mesh_warp_swap_options_and_report(pair):
    src, src_faces, tgt, tgt_faces = pair
    face = tgt_faces.frames[0][0]
    batch = tgt.expand(3, -1, -1, -1)
    tracked = face.with_(track_id=4)
    faces = FaceSet(((tracked,), (), (tracked.with_(landmark_score=0.5),)), tgt_faces.image_sizes * 3)
    cleaned, kept, smoothers = {}, {}, {}
    out, mask, report = ops.mesh_warp_swap(src, src_faces, batch, faces, cleaned_boxes=cleaned,
                                           kept_boxes=kept, skin_smoothers=smoothers,
                                           occlusion=True)
    assert report == ("frame 0: swapped face 0\nframe 1: no face swapped (unchanged)\n"
                      "frame 2: no face swapped (unchanged); skipped for low confidence: "
                      "face 0 (confidence 0.50 < 0.75)")
    assert torch.equal(out[1], tgt[0]) and torch.equal(out[2], tgt[0]) and not mask[1:].any()
    changed = (out[0] != tgt[0]).any(-1)
    assert changed.any() and not changed[mask[0] == 0].any() and mask[0].max() == 1.0
    assert list(cleaned) == [0] and len(cleaned[0]) == 1 and list(smoothers) == [4]
    assert isinstance(smoothers[4], StatsSmoother)
    box, image = cleaned[0][0]
    x0, y0, x1, y1 = box
    assert image.shape == (y1 - y0, x1 - x0, 3)
    assert all(k == 0 and m.dtype == bool for k in kept for _, m in kept[k])
    # the floor is an input; the same frame gives the same result
    low, _, report = ops.mesh_warp_swap(src, src_faces, batch, faces, min_confidence=0.4)
    assert report.splitlines()[2] == "frame 2: swapped face 0" and torch.equal(low[0], low[2])
    # options reach the warp and the skin match
    plain, plain_mask, _ = ops.mesh_warp_swap(src, src_faces, tgt, tgt_faces)
    for option in (dict(match_skin=False), dict(shape_transfer=1.0), dict(keep_mouth=False),
                   dict(keep_eyes=True), dict(target_light=0.0), dict(occlusion=True)):
        other, other_mask, _ = ops.mesh_warp_swap(src, src_faces, tgt, tgt_faces, **option)
        assert not torch.equal(other, plain), option
    none, none_mask, report = ops.mesh_warp_swap(src, src_faces, tgt, tgt_faces, targets="1")
    assert torch.equal(none, tgt) and report == "frame 0: no face swapped (unchanged)"
    with pytest.raises(ValueError, match="source face index 1 is out of range"):
        ops.mesh_warp_swap(src, src_faces, tgt, tgt_faces, source_index=1)
    bare = FaceSet(((_face((0, 0, 10, 10)),),), tgt_faces.image_sizes)
    with pytest.raises(ValueError, match=exactly(
            "Mesh-Warp Swap needs 478 landmarks: connect the FACES output of Face Landmarks")):
        ops.mesh_warp_swap(src, src_faces, tgt, bare)
    with pytest.raises(ValueError, match=exactly(
            "Mesh-Warp Swap needs 478 landmarks: connect the FACES output of Face Landmarks")):
        ops.mesh_warp_swap(src, bare.resized((320, 320)), tgt, tgt_faces)
    nan = tgt.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="target_image"):
        ops.mesh_warp_swap(src, src_faces, nan, tgt_faces)
    assert torch.isnan(ops.mesh_warp_swap(src, src_faces, nan, tgt_faces, checked=True)[0]).any()
    with pytest.raises(ValueError, match="source_image"):
        ops.mesh_warp_swap(nan, tgt_faces, tgt, tgt_faces)


# ---- pipeline/swap.py ---------------------------------------------------------------------

def test_color_smoothers_share_one_smoother_per_set_of_tracks():
    from face_pipeline.pipeline.swap import color_smoothers

    t = lambda box, tid: _face(box, track_id=tid)                      # noqa: E731
    faces = FaceSet(((t((0, 0, 10, 10), 1), t((20, 0, 30, 10), 2)),
                     (t((0, 0, 10, 10), 1), t((20, 0, 30, 10), 2))))
    assert color_smoothers(FaceSet(((_face((0, 0, 1, 1)),),)), "all") is None
    hook = color_smoothers(faces, "all")
    one, both = hook(0, (0, 0, 10, 10)), hook(0, (0, 0, 30, 10))
    assert isinstance(one, StatsSmoother) and one is not both
    assert hook(1, (0, 0, 10, 10)) is one and hook(1, (0, 0, 30, 10)) is both
    two = hook(1, (20, 0, 30, 10))
    assert two is not one and two is not both and hook(0, (20, 0, 30, 10)) is two
    assert hook(0, (40, 0, 50, 10)) is None
    assert hook(0, (5, 0, 10, 10)) is one                    # centre (5, 5): x0 <= 5
    assert hook(0, (0, 0, 5, 10)) is None and hook(0, (0, 5, 10, 10)) is one
    assert hook(0, (0, 0, 10, 5)) is None                    # centre y 5 is not < 5
    only_2 = color_smoothers(faces, "2")
    assert only_2(0, (0, 0, 10, 10)) is None and only_2(0, (0, 0, 30, 10)) is only_2(1, (20, 0, 30, 10))


def test_face_swap_report_options_and_errors(pair, monkeypatch):
    from face_pipeline.pipeline import swap

    src, src_faces, tgt, tgt_faces = pair
    assert swap.face_swap_passes(None) == 4 and swap.face_swap_passes(tgt_faces) == 2
    kw = dict(source_faces=src_faces, target_faces=tgt_faces, enhance_source="off")
    out, mask, report = swap.face_swap(src, tgt, **kw)
    lines = report.splitlines()
    assert lines[0] == "frame 0: swapped face 0"
    assert re.fullmatch(r"source quality \d\.\d\d, blend strength \d\.\d\d", lines[1])
    assert lines[2].startswith("models ran on: ")
    assert lines[3] == "invisible swap watermark added (Detect Swap Watermark finds it)"
    plain, plain_mask, report = swap.face_swap(src, tgt, watermark=False, **kw)
    assert len(report.splitlines()) == 3 and torch.equal(plain_mask, mask)
    assert not torch.equal(plain, out) and (plain - out).abs().max() <= 1.5 / 255
    outside = mask[0] == 0
    assert torch.equal(plain[0][outside], tgt[0][outside])
    # inputs reach the swap and the blend
    for option in (dict(shape_transfer=1.0), dict(keep_eyes=True), dict(keep_mouth=False),
                   dict(strength=0.5), dict(feather=2.0), dict(color="reinhard"),
                   dict(target_light=0.0), dict(sharpen=1.0), dict(occlusion=True)):
        other, _, _ = swap.face_swap(src, tgt, watermark=False, **kw, **option)
        assert not torch.equal(other, plain), option
    light = {v: swap.face_swap(src, tgt, watermark=False, color="reinhard", target_light=v, **kw)[0]
             for v in (None, swap.BLEND_TARGET_LIGHT, 0.0)}
    assert torch.equal(light[None], light[swap.BLEND_TARGET_LIGHT]) and not torch.equal(light[None], light[0.0])
    from face_pipeline.vision import skin
    assert torch.equal(swap.face_swap(src, tgt, watermark=False, target_light=skin.TARGET_LIGHT, **kw)[0], plain)
    matte = torch.ones(tgt.shape[:3])
    matte[:, :117] = 0.0
    limited, limited_mask, _ = swap.face_swap(src, tgt, watermark=False, matte=matte, **kw)
    assert not limited_mask[:, :117].any() and torch.equal(limited[:, :117], tgt[:, :117])
    assert limited_mask[:, 117:].max() > 0.2
    _, _, report = swap.face_swap(src, tgt, watermark=False, targets="1", **kw)
    assert report.startswith("frame 0: no face swapped (unchanged)\n")
    _, _, report = swap.face_swap(src, tgt, watermark=False, min_confidence=1.01, **kw)
    assert report.startswith("frame 0: no face swapped (unchanged); skipped for low confidence")
    # the source is prepared (enhanced / enlarged) with the swap's options
    seen = []

    def fake_prepare(image, faces, index, policy, **options):
        seen.append((policy, options))
        return image, faces, index, "source note"

    monkeypatch.setattr(swap, "prepare_source", fake_prepare)
    _, _, report = swap.face_swap(src, tgt, source_faces=src_faces, target_faces=tgt_faces,
                                  watermark=False, enhance_source="always", enhance_model="m",
                                  upscale_model="u", device="cpu", allow_download=False)
    assert seen == [("always", dict(model="m", upscale_model="u", device="cpu", allow_download=False))]
    assert report.splitlines()[1] == "source note"
    with pytest.raises(ValueError, match=exactly(
            "unknown swap engine 'magic'; choose one of ['mesh_warp', 'inswapper_128']")):
        swap.face_swap(src, tgt, engine="magic")
    with pytest.raises(ValueError, match=exactly(
            "no face found in the source image: use a clearer, larger face")):
        swap.face_swap(src, tgt, source_faces=FaceSet(((),), ((320, 320),)), target_faces=tgt_faces)
    with pytest.raises(ValueError, match="^source_image: "):
        swap.face_swap(torch.zeros(1, 4, 4), tgt)
    with pytest.raises(ValueError, match="^target_image: "):
        swap.face_swap(src, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="FACES has 1 frame"):
        swap.face_swap(src, tgt.expand(2, -1, -1, -1), **kw)


def test_find_faces_detects_when_not_given(pair):
    from face_pipeline.pipeline.swap import find_faces

    src, src_faces, _, _ = pair
    calls = []
    found = find_faces(src, None, "cpu", lambda n: calls.append(n) or range(n))
    assert calls == [1, 1] and found.count == 1 and found.frames[0][0].landmarks is not None
    assert np.allclose(found.frames[0][0].box, src_faces.frames[0][0].box, atol=1.0)
    assert find_faces(src, src_faces, "cpu", range) is src_faces
    with pytest.raises(ValueError, match="FACES has 1 frame"):
        find_faces(src.expand(2, -1, -1, -1), src_faces, "cpu", range, "source_image")


def test_model_swap_with_a_tiny_inswapper(pair, tmp_path, monkeypatch):
    from tiny_models import tiny_arcface, tiny_inswapper

    from face_pipeline.models import onnx as ort_cache
    from face_pipeline.pipeline.swap import face_swap, model_swap

    src, src_faces, tgt, tgt_faces = pair
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    tiny_arcface(tmp_path / "w600k_r50.onnx")
    tiny_inswapper(tmp_path / "inswapper_128.onnx",
                   np.random.default_rng(0).normal(size=(512, 512)).astype(np.float32))
    ort_cache.unload_all()
    try:
        two = tgt.expand(2, -1, -1, -1)
        faces = FaceSet((tgt_faces.frames[0], ()), tgt_faces.image_sizes * 2)
        out, mask, report = model_swap(src, src_faces, two, faces)
        assert report == "frame 0: swapped face 0\nframe 1: no face swapped (unchanged)"
        changed = (out[0] != tgt[0]).any(-1)
        assert changed.any() and not changed[mask[0] == 0].any() and torch.equal(out[1], tgt[0])
        bare = FaceSet(((tgt_faces.frames[0][0].with_(landmarks=None),),), tgt_faces.image_sizes)
        _, square, _ = model_swap(src, src_faces, tgt, bare)
        assert square[0].sum() > 1.2 * mask[0].sum()                    # the crop square's edge
        boosted, _, _ = model_swap(src, src_faces, tgt, tgt_faces, pixel_boost=256)
        assert not torch.equal(boosted, out[:1])
        _, _, report = model_swap(src, src_faces, tgt, tgt_faces, min_confidence=1.01)
        assert report.startswith("frame 0: no face swapped (unchanged); skipped")
        _, _, report = model_swap(src, src_faces, tgt, tgt_faces, targets="3")
        assert report == "frame 0: no face swapped (unchanged)"
        swapped, _, report = face_swap(src, tgt, source_faces=src_faces, target_faces=tgt_faces,
                                       engine="inswapper_128", watermark=False,
                                       enhance_source="off")
        assert report.startswith("frame 0: swapped face 0\n")
        with pytest.raises(ValueError, match="^source_image: "):
            model_swap(torch.zeros(1, 4, 4), src_faces, tgt, tgt_faces)
    finally:
        ort_cache.unload_all()


def test_skin_match_receives_the_learned_masks_glasses_and_track_stats(pair, monkeypatch):
    """The wiring of mesh_warp_swap's skin match (vision.skin.skin_swap and the learned
    masks are tested on their own): what each gets, and what comes back into the outputs."""
    from types import SimpleNamespace

    from face_pipeline.vision import skin

    src, src_faces, tgt, tgt_faces = pair
    parser, xseg = SimpleNamespace(kind="parsing"), SimpleNamespace(kind="occlusion")
    seen, swaps, glasses_calls = [], [], []

    def visible_face(image, landmarks, maskers, box):
        seen.append((image.copy(), landmarks, list(maskers), tuple(box)))
        return np.full((box[3] - box[1], box[2] - box[0]), 0.25 * len(seen), np.float32)

    def skin_swap(source, target, mask, landmarks, **kw):
        swaps.append(kw)
        occlusion = np.zeros(mask.shape, np.float32)
        occlusion[:4, :4] = 1.0
        occlusion[4:8, :4] = 0.6
        return skin.SkinSwap(np.full_like(source, 0.5), occlusion, np.zeros_like(source))

    def wears_glasses(image, landmarks):
        glasses_calls.append(image.shape)
        return np.ones(3, np.float32)

    monkeypatch.setattr(ops.face_parsing, "visible_face", visible_face)
    monkeypatch.setattr(ops.skin, "skin_swap", skin_swap)
    monkeypatch.setattr(ops.skin, "wears_glasses", wears_glasses)
    face = tgt_faces.frames[0][0].with_(track_id=3)
    faces = FaceSet(((face,),), tgt_faces.image_sizes)
    cleaned, kept, smoothers = {}, {}, {}
    out, mask, _ = ops.mesh_warp_swap(src, src_faces, tgt, faces, maskers=[parser, xseg],
                                      occlusion=True, keep_beard=True, target_light=0.3,
                                      cleaned_boxes=cleaned, kept_boxes=kept,
                                      skin_smoothers=smoothers)
    frame = tgt[0].numpy()
    (laid, lm1, m1, box1), (plain, lm2, m2, box2) = seen
    assert m1 == [parser] and m2 == [parser, xseg] and box1 == box2
    assert not np.array_equal(laid, frame) and np.array_equal(plain, frame)   # source laid over
    assert np.array_equal(lm1, face.landmarks) and np.array_equal(lm2, face.landmarks)
    (kw,) = swaps
    assert kw["light"] == 0.3 and kw["occlusion"] is True and kw["keep_beard"] is True
    assert kw["glasses"] is None and glasses_calls == []        # a parser finds glasses itself
    assert np.all(kw["source_face"] == 0.25) and np.all(kw["target_visible"] == 0.5)
    assert kw["stats"] is smoothers[3]
    x0, y0, x1, y1 = box1
    (kbox, kmask), = kept[0]
    assert tuple(kbox) == box1 and kmask.dtype == bool and kmask.sum() == 16 and kmask[:4, :4].all()
    assert mask[0, y0:y0 + 4, x0:x0 + 4].max() == 0.0            # kept in front: not swapped
    assert tuple(cleaned[0][0][0]) == box1
    # without a parser: glasses from the source (when it is wide enough), no parser call
    seen.clear(), swaps.clear()
    ops.mesh_warp_swap(src, src_faces, tgt, tgt_faces, maskers=[xseg])
    assert glasses_calls == [tuple(src.shape[1:])] and swaps[0]["glasses"] is not None
    assert seen == [] and swaps[0]["target_visible"] is None and swaps[0]["stats"] is None
    assert swaps[0]["keep_beard"] is False and swaps[0]["occlusion"] is False
    narrow = FaceSet(((src_faces.frames[0][0].with_(source_width=skin.GLASSES_MIN_WIDTH - 1),),),
                     src_faces.image_sizes)
    swaps.clear()
    ops.mesh_warp_swap(src, narrow, tgt, tgt_faces)
    assert len(glasses_calls) == 1 and swaps[0]["glasses"] is None
    wide = FaceSet(((src_faces.frames[0][0].with_(source_width=skin.GLASSES_MIN_WIDTH),),),
                   src_faces.image_sizes)
    ops.mesh_warp_swap(src, wide, tgt, tgt_faces)
    assert len(glasses_calls) == 2
    swaps.clear()
    ops.mesh_warp_swap(src, src_faces, tgt, tgt_faces, match_skin=False)
    assert swaps == [] and len(glasses_calls) == 2


def test_crop_region_masks_of_aligned_faces(pair):
    from face_pipeline.vision.geometry import Template, similarity_transform

    _, _, tgt, tgt_faces = pair
    face = tgt_faces.frames[0][0]
    matrix = similarity_transform(face.keypoints, Template("ffhq_512", 256).points)
    aligned = face.with_(matrix=matrix, crop_size=(256, 256))
    faces = FaceSet(((aligned,), (), (aligned,)), tgt_faces.image_sizes * 3)
    masks = ops.crop_region_masks(faces, ["face"], ["eyes"], grow=3)
    want = regions.crop_region_mask(aligned, ["face"], ["eyes"], grow=3)
    assert masks.shape == (2, 256, 256) and np.array_equal(masks[1].numpy(), want)
    assert not np.array_equal(want, regions.crop_region_mask(aligned, ["face"]))
    image_mask = ops.face_region_masks(tgt, tgt_faces, ["face"], grow=3)       # 234 x 200
    assert image_mask.shape == (1, 234, 200)
    assert np.array_equal(image_mask[0].numpy(),
                          regions.faces_region_mask(tgt_faces.frames[0], (234, 200), ["face"], grow=3))


def test_face_swap_passes_its_inputs_to_the_engines_and_the_blend(pair, monkeypatch):
    from face_pipeline.pipeline import swap
    from face_pipeline.vision import skin

    src, src_faces, tgt, tgt_faces = pair
    calls = {"find": [], "maskers": [], "mesh": [], "model": [], "blend": [], "prepare": []}
    real_find, real_mesh, real_blend = swap.find_faces, swap.mesh_warp_swap, swap.blend.gated_blend

    def find(image, faces, device, loop, name="image"):
        calls["find"].append((device, loop, name))
        return real_find(image, faces, device, loop, name)

    def maskers(model, device, allow_download, occlusion):
        calls["maskers"].append((model, device, allow_download, occlusion))
        return []

    def mesh(*args, **kw):
        calls["mesh"].append(kw)
        return real_mesh(*args, **kw)

    def model(source_image, source_faces, target_image, target_faces, **kw):
        calls["model"].append(kw)
        mask = torch.zeros(target_image.shape[:3])
        mask[:, 80:120, 80:120] = 1.0
        return target_image * 0.5, mask, "frame 0: swapped face 0"

    def gated(*args, **kw):
        calls["blend"].append(kw)
        return real_blend(*args, **kw)

    def prepare(image, faces, index, policy, **kw):
        calls["prepare"].append(policy)
        return image, faces, index, ""

    monkeypatch.setattr(swap, "find_faces", find)
    monkeypatch.setattr(swap, "load_maskers", maskers)
    monkeypatch.setattr(swap, "mesh_warp_swap", mesh)
    monkeypatch.setattr(swap, "model_swap", model)
    monkeypatch.setattr(swap.blend, "gated_blend", gated)
    monkeypatch.setattr(swap, "prepare_source", prepare)
    loop = lambda n: range(n)                                          # noqa: E731
    swap.face_swap(src, tgt, source_faces=src_faces, target_faces=tgt_faces, watermark=False)
    assert calls["find"] == [("auto", range, "source_image"), ("auto", range, "target_image")]
    assert calls["maskers"] == [("auto", "auto", None, False)] and calls["prepare"] == ["auto"]
    kw = calls["mesh"][-1]
    assert (kw["targets"], kw["shape_transfer"], kw["keep_eyes"], kw["keep_mouth"]) == ("all", 0.5, False, True)
    assert (kw["match_skin"], kw["occlusion"], kw["keep_beard"], kw["maskers"]) == (True, False, False, [])
    assert kw["target_light"] == skin.TARGET_LIGHT and kw["checked"] is True
    assert isinstance(kw["cleaned_boxes"], dict) and kw["skin_smoothers"] == {} and isinstance(kw["kept_boxes"], dict)
    assert kw["min_confidence"] == ops.MIN_FACE_CONFIDENCE and kw["source_index"] == 0
    b = calls["blend"][-1]
    assert (b["strength"], b["feather"], b["color"], b["target_light"], b["sharpen"]) == (1.0, 15.0, "none", 0.0, 0.0)
    assert b["in_place"] is True and b["checked"] is True and b["target_patches"] is kw["cleaned_boxes"]
    for v in calls.values():
        v.clear()
    swap.face_swap(src, tgt, source_faces=src_faces, target_faces=tgt_faces, watermark=False,
                   targets="0", shape_transfer=0.3, keep_eyes=True, keep_mouth=False,
                   occlusion=True, keep_beard=True, mask_model="m", target_light=0.2,
                   min_confidence=0.5, device="cpu", allow_download=False, loop=loop,
                   strength=0.7, feather=4.0, sharpen=0.5, enhance_source="off")
    assert calls["find"] == [("cpu", range, "source_image"), ("cpu", loop, "target_image")]
    assert calls["maskers"] == [("m", "cpu", False, True)] and calls["prepare"] == ["off"]
    kw = calls["mesh"][-1]
    assert (kw["targets"], kw["shape_transfer"], kw["keep_eyes"], kw["keep_mouth"]) == ("0", 0.3, True, False)
    assert (kw["occlusion"], kw["keep_beard"], kw["target_light"], kw["min_confidence"]) == (True, True, 0.2, 0.5)
    assert kw["loop"] is loop
    b = calls["blend"][-1]
    assert (b["strength"], b["feather"], b["sharpen"], b["loop"]) == (0.7, 4.0, 0.5, loop)
    for v in calls.values():
        v.clear()
    swap.face_swap(src, tgt, source_faces=src_faces, target_faces=tgt_faces, watermark=False,
                   color="reinhard", engine="inswapper_128", pixel_boost=256, device="cpu",
                   allow_download=False, min_confidence=0.4, targets="0", loop=loop)
    assert calls["maskers"] == [] and calls["mesh"] == []
    assert calls["model"] == [dict(source_index=0, targets="0", model="inswapper_128",
                                   pixel_boost=256, device="cpu", allow_download=False,
                                   min_confidence=0.4, loop=loop)]
    b = calls["blend"][-1]
    assert (b["color"], b["target_light"]) == ("reinhard", swap.BLEND_TARGET_LIGHT)
    swap.face_swap(src, tgt, source_faces=src_faces, target_faces=tgt_faces, watermark=False,
                   color="reinhard")
    assert calls["maskers"] == [] and calls["mesh"][-1]["match_skin"] is False
    assert calls["blend"][-1]["color"] == "reinhard"


def test_model_swap_loads_its_models_with_the_download_choice(pair, monkeypatch):
    from face_pipeline.pipeline import swap

    src, src_faces, tgt, tgt_faces = pair
    loads = []

    class Stop(Exception):
        pass

    def load_swapper(model, device, allow_download):
        loads.append(("swapper", model, device, allow_download))
        return lambda crop, embedding: crop

    def load_embedder(model, device, allow_download):
        loads.append(("embedder", model, device, allow_download))
        raise Stop

    monkeypatch.setattr(swap, "load_swapper", load_swapper)
    monkeypatch.setattr(swap, "load_embedder", load_embedder)
    with pytest.raises(Stop):
        swap.model_swap(src, src_faces, tgt, tgt_faces, model="m", device="cpu", allow_download=False)
    assert loads == [("swapper", "m", "cpu", False), ("embedder", swap.SWAP_EMBEDDER, "cpu", False)]
    nan = tgt.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="^target_image: "):
        swap.model_swap(src, src_faces, nan, tgt_faces)
