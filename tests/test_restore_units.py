"""Restoration and upscaling (vision/restore.py, pipeline/restore.py) with stand-in enhancers
on synthetic frames: size policy, crop sizes, structure kept, tiles and their seams, face
regions, batch reports and errors.  No networks: fast (the restore modules' mutation subset,
tools/mutation/modules.txt); tests/test_restore.py measures the real engines."""
import re
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from face_pipeline.pipeline import restore as ops
from face_pipeline.vision import restore
from face_pipeline.vision.face import Face, FaceSet
from face_pipeline.vision.geometry import Template


def exactly(text: str) -> str:
    return "^" + re.escape(text) + "$"


class Nearest:
    """Stand-in upscaler: nearest-neighbour x``scale`` (optionally times ``gain``)."""

    def __init__(self, scale=4, input_size=None, id="nearest", face_only=False, gain=1.0):
        self.scale, self.input_size, self.id, self.face_only = scale, input_size, id, face_only
        self.gain, self.inputs = gain, []

    def __call__(self, image):
        self.inputs.append(image.shape)
        out = np.repeat(np.repeat(image, self.scale, 0), self.scale, 1)
        return (out * self.gain).astype(np.float32)


def _keypoints(zoom: float, offset=(40.0, 30.0)) -> np.ndarray:
    """Keypoints whose FFHQ-512 crop has ``zoom`` crop px per frame px."""
    return (Template("ffhq_512", 512).points / zoom + np.float32(offset)).astype(np.float32)


def _frame(h=200, w=240, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 1, (h // 8, w // 8, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


# ---- vision/restore.py --------------------------------------------------------------------

def test_size_policy():
    assert restore.should_enhance(64.4) and not restore.should_enhance(65)
    assert restore.should_enhance(64.5)                       # round half to even: 64
    assert not restore.should_enhance(100, "auto")
    assert restore.should_enhance(128, "auto+medium") and not restore.should_enhance(129, "auto+medium")
    assert restore.should_enhance(150, "auto+medium", small=150, large=128)
    assert restore.should_enhance(10_000, "all")
    assert restore.should_enhance(90, "auto", small=90) and not restore.should_enhance(91, "auto", 90)
    with pytest.raises(ValueError, match=exactly(
            "size_policy must be one of ['auto', 'auto+medium', 'all'], got 'big'")):
        restore.should_enhance(10, "big")


def test_magnification_and_crop_sizes():
    rot = np.array([[0.0, -2.0, 5.0], [2.0, 0.0, 1.0]])
    assert restore.magnification(rot) == pytest.approx(2.0)
    assert restore.magnification(np.array([[-3.0, 0, 0], [0, 3.0, 0]])) == pytest.approx(3.0)
    up4, up2 = Nearest(4), Nearest(2)
    scaled = lambda z: np.array([[z, 0, 0], [0, z, 0]])       # noqa: E731
    assert restore.crop_size_for(scaled(2.0), up4) == 256      # the face's own resolution
    assert restore.crop_size_for(scaled(8.0), up4) == 128      # at least 512 / 4
    assert restore.crop_size_for(scaled(8.0), up2) == 256      # at least 512 / 2
    assert restore.crop_size_for(scaled(0.5), up4) == 512      # at most 512
    assert restore.crop_size_for(scaled(2.5), up4) == 205
    assert restore.crop_size_for(scaled(2.0), Nearest(4, input_size=256.0)) == 256
    assert restore.crop_size_for(scaled(2.0), Nearest(0)) == 512   # scale 0: no floor division by 0


def test_sharpened_is_an_unsharp_mask_of_half_a_source_pixel():
    crop = np.zeros((40, 40, 3), np.float32)
    crop[:, 20:] = 0.6
    crop[:, :20] = 0.3
    assert restore.sharpened(crop, 4.0, 0.0) is crop
    out = restore.sharpened(crop, 4.0, 1.5)
    blur = cv2.GaussianBlur(crop, (0, 0), 2.0)
    assert np.allclose(out, np.clip(crop + 1.5 * (crop - blur), 0, 1), atol=1e-6)
    assert out[0, 19, 0] < 0.3 and out[0, 20, 0] > 0.6 and out[0, 5, 0] == pytest.approx(0.3)
    assert restore.sharpened(np.ones((8, 8, 3), np.float32) * [1, 0, 0.5], 1.0, 50.0).max() <= 1.0
    hard = np.zeros((9, 9, 3), np.float32)
    hard[4, 4] = 1.0
    assert restore.sharpened(hard, 1.0, 5.0).min() >= 0.0


def test_keep_structure_adds_only_the_detail():
    rng = np.random.default_rng(1)
    plain = np.full((64, 64, 3), 0.5, np.float32)
    restored = rng.uniform(0.2, 0.8, (64, 64, 3)).astype(np.float32)
    out = restore.keep_structure(restored, plain, 4.0)
    detail = restored - cv2.GaussianBlur(restored, (0, 0), restore.DETAIL_SIGMA * 4.0)
    assert np.allclose(out, np.clip(0.5 + detail, 0, 1), atol=1e-6)
    smooth = cv2.GaussianBlur(restored, (0, 0), 8.0)         # no detail: the plain crop
    assert np.abs(restore.keep_structure(smooth, plain, 4.0) - plain).max() < 0.01
    sharp = restore.keep_structure(restored, restored, 4.0, sharpen=1.0)
    want = restore.sharpened(restored, 4.0, 1.0) + detail
    assert np.allclose(sharp, np.clip(want, 0, 1), atol=1e-6)
    assert restore.keep_structure(restored, np.ones_like(plain), 4.0).max() <= 1.0
    assert restore.keep_structure(restored, np.zeros_like(plain), 4.0).min() >= 0.0
    assert np.isfinite(restore.keep_structure(restored, plain, 0.0)).all()


def test_enhance_face_gives_each_engine_its_crop():
    frame = _frame()
    kps = _keypoints(4.0)                                     # a 128 px FFHQ crop
    up = Nearest(4)
    restored, original, matrix = restore.enhance_face(frame, kps, up, structure=False)
    assert up.inputs == [(128, 128, 3)]
    assert restore.magnification(matrix) == pytest.approx(4.0, rel=1e-4)
    assert restored.shape == original.shape == (512, 512, 3) and restored.dtype == np.float32
    assert np.abs(restored - original).mean() < 0.03          # a nearest x4 of the same crop
    kept, _, _ = restore.enhance_face(frame, kps, Nearest(4))
    assert np.allclose(kept, restore.keep_structure(restored, original, 4.0), atol=1e-5)
    assert not np.allclose(kept, restored, atol=1e-3)
    # an output larger than 512 is shrunk by area, a smaller one enlarged bicubically
    big, _, _ = restore.enhance_face(frame, _keypoints(1.0), Nearest(4), structure=False)
    base = restore.enhance_face(frame, _keypoints(1.0), None)[1]
    assert np.abs(big - base).max() < 1e-4                     # area of a nearest x4: exact
    face_net = Nearest(1, input_size=256, gain=0.5)           # a restorer: fixed input, used whole
    half, original, _ = restore.enhance_face(frame, kps, face_net)
    assert face_net.inputs == [(256, 256, 3)]
    assert np.abs(half - 0.5 * original).mean() < 0.01
    bright, _, _ = restore.enhance_face(frame, kps, Nearest(4, gain=3.0), structure=False)
    assert bright.max() <= 1.0 and bright.max() == 1.0
    plain, original, _ = restore.enhance_face(frame, kps, None, sharpen=1.0)
    assert np.allclose(plain, restore.sharpened(original, 4.0, 1.0), atol=1e-6)
    edge = restore.enhance_face(frame, _keypoints(4.0, (-60.0, -60.0)), None)[1]
    assert edge.min() >= 0.0 and edge.max() <= 1.0


def test_tile_starts_and_ramps():
    assert restore.tile_starts(100, 100, 10) == [0] and restore.tile_starts(50, 100, 10) == [0]
    assert restore.tile_starts(100, 40, 10) == [0, 30, 60]
    assert restore.tile_starts(101, 40, 10) == [0, 30, 60, 61]
    t = (np.arange(4, dtype=np.float32) + 0.5) / 4
    s = t * t * (3 - 2 * t)
    assert np.allclose(restore._ramp(10, 4, True, False), np.r_[s, np.ones(6)])
    assert np.allclose(restore._ramp(10, 4, False, True), np.r_[np.ones(6), s[::-1]])
    assert np.allclose(restore._ramp(10, 4, True, True), np.r_[s, 1, 1, s[::-1]])
    assert np.allclose(restore._ramp(3, 4, True, True), np.minimum(s[:3], s[::-1][-3:]))
    assert np.array_equal(restore._ramp(5, 0, True, True), np.ones(5))
    assert np.array_equal(restore._ramp(5, 4, False, False), np.ones(5))


def test_tiled_upscale_cross_fades_tiles():
    h, w = 20, 50
    image = np.tile(np.linspace(0, 1, w, dtype=np.float32)[None, :, None], (h, 1, 3))

    def mean_of_tile(patch):                # each tile's output: its own mean, so seams show
        return np.full((patch.shape[0] * 2, patch.shape[1] * 2, 3), patch.mean(), np.float32)

    out = restore.tiled_upscale(image, mean_of_tile, 2, tile=30, overlap=10)
    assert out.shape == (40, 100, 3) and out.dtype == np.float32
    # tiles start at 0 and 20: the second's output covers 40..99; overlap 40..59 cross-fades
    m0, m1 = image[:, :30].mean(), image[:, 20:].mean()
    t = (np.arange(20, dtype=np.float32) + 0.5) / 20
    s = t * t * (3 - 2 * t)
    want = (m0 * s[::-1] + m1 * s) / (s[::-1] + s)
    assert np.allclose(out[5, 40:60, 0], want, atol=1e-5)
    assert np.allclose(out[:, :40], m0) and np.allclose(out[:, 60:], m1)
    # a nearest upscaler tiles to exactly the whole-image nearest upscale; overlap <= tile / 2
    near = restore.tiled_upscale(image, Nearest(2), 2, tile=16, overlap=40)
    assert np.allclose(near, Nearest(2)(image), atol=1e-6)
    assert np.allclose(restore.tiled_upscale(image, Nearest(3, gain=2.0), 3).max(), 1.0)
    with pytest.raises(ValueError, match=exactly(
            "the upscaler returned 100x40 for a 50x20 tile, not x3")):
        restore.tiled_upscale(image, Nearest(2), 3)


def test_tiled_upscale_keeps_rgb_of_rgba_outputs():
    image = np.full((8, 8, 3), 0.25, np.float32)
    rgba = lambda p: np.dstack([Nearest(2)(p), np.ones((16, 16), np.float32)])  # noqa: E731
    assert np.allclose(restore.tiled_upscale(image, rgba, 2), 0.25)


def test_upscale_face_regions_is_bicubic_away_from_the_faces():
    image = _frame(60, 80, seed=3)
    box = (30, 20, 50, 40)                                    # 20 px, margin 15 px
    out = restore.upscale_face_regions(image, [box], Nearest(2), 2)
    bicubic = np.clip(cv2.resize(image, (160, 120), interpolation=cv2.INTER_CUBIC), 0, 1)
    nearest = Nearest(2)(image)
    inside = np.zeros((120, 160), bool)
    inside[2 * 5:2 * 55, 2 * 15:2 * 65] = True               # the box grown by 15 px
    assert np.array_equal(out[~inside], bicubic[~inside])
    # the inner half of the margin is the network's alone
    core = (slice(2 * 13, 2 * 47), slice(2 * 23, 2 * 57))
    assert np.allclose(out[core], nearest[core], atol=1e-6)
    ring = out[2 * 6, 2 * 40]                                  # in the fade: between the two
    lo, hi = sorted([bicubic[12, 80, 0], nearest[12, 80, 0]])
    assert lo - 1e-6 <= ring[0] <= hi + 1e-6 and ring[0] not in (lo, hi)
    wider = restore.upscale_face_regions(image, [box], Nearest(2), 2, margin=1.5)
    assert not np.array_equal(wider[10:20, 20:40], out[10:20, 20:40])
    # boxes at the border are clipped; degenerate ones are skipped
    edge = restore.upscale_face_regions(image, [(0, 0, 10, 10), (70, 50, 80, 60)], Nearest(2), 2)
    assert np.allclose(edge[8:20, 8:20], nearest[8:20, 8:20], atol=1e-6)
    assert np.allclose(edge[-26:-10, -26:-10], nearest[-26:-10, -26:-10], atol=1e-6)
    assert np.array_equal(edge[0, 0], bicubic[0, 0])              # the crop's feathered edge
    flat = restore.upscale_face_regions(image, [(79.5, 10, 79.5, 10)], Nearest(2), 2, margin=0.0)
    assert np.array_equal(flat, bicubic)


# ---- pipeline/restore.py ------------------------------------------------------------------

def _face(box, zoom=None, **kw) -> Face:
    """A face with ``box``; keypoints of an FFHQ crop of ``zoom`` crop px per frame px
    (default: 512 / (box width * 2)) placed at the box."""
    x0, y0, x1, y1 = box
    zoom = zoom or 512 / ((x1 - x0) * 2)
    pts = Template("ffhq_512", 512).points / zoom
    pts = pts - pts.mean(0) + np.float32([(x0 + x1) / 2, (y0 + y1) / 2])
    return Face(box=np.array(box, np.float32), score=kw.pop("score", 0.9),
                keypoints=pts.astype(np.float32), **kw)


def _image(*frames) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames))


def test_enhance_faces_policy_blend_mask_and_report():
    frame = _frame()
    faces = FaceSet(((_face((40, 40, 80, 80)), _face((120, 40, 220, 140))),), ((200, 240),))
    image = _image(frame)
    out, mask, report = ops.enhance_faces(image, faces, Nearest(4, gain=0.5), blend=1.0)
    assert report == ("frame 0 face 0 (40 px): enhanced with nearest, blend 1.00, own structure kept\n"
                      "frame 0 face 1 (100 px): not enhanced (size policy auto)")
    changed = (out != image)[0].any(-1)
    assert torch.equal(changed, mask[0] > 0) and changed[60, 60] and not changed[:, 110:].any()
    half, mask_half, _ = ops.enhance_faces(image, faces, Nearest(4, gain=0.5), blend=0.5)
    assert torch.allclose(mask_half, 0.5 * mask, atol=1e-6)
    assert torch.allclose(half - image, 0.5 * (out - image), atol=2e-3)
    whole, _, report = ops.enhance_faces(image, faces, Nearest(4, gain=0.5), keep_structure=False,
                                         size_policy="auto+medium")
    assert "face 1 (100 px): enhanced with nearest, blend 0.80\n" not in report
    assert report.endswith("face 1 (100 px): enhanced with nearest, blend 0.80")
    assert not torch.allclose(whole[0, 60, 60], out[0, 60, 60], atol=0.05)   # the gain shows
    _, _, report = ops.enhance_faces(image, faces, Nearest(1, input_size=256), small=30.0,
                                     large=100.0, size_policy="auto+medium")
    assert report == ("frame 0 face 0 (40 px): enhanced with nearest, blend 0.80\n"
                      "frame 0 face 1 (100 px): enhanced with nearest, blend 0.80")
    _, _, report = ops.enhance_faces(image, faces, Nearest(4), small=30.0)
    assert report.startswith("frame 0 face 0 (40 px): not enhanced (size policy auto)")
    _, _, report = ops.enhance_faces(image, faces, Nearest(4), small=30.0, large=90.0,
                                     size_policy="auto+medium")
    assert report.endswith("face 1 (100 px): not enhanced (size policy auto+medium)")
    kept_on = ops.enhance_faces(image, faces, Nearest(4, gain=0.5))[0]
    kept_off = ops.enhance_faces(image, faces, Nearest(4, gain=0.5), keep_structure=False)[0]
    assert (kept_on - kept_off).abs().max() > 0.05
    # the defaults: 64 px and 128 px; a skipped face does not stop the next
    edge = FaceSet(((_face((20, 20, 149, 149)), _face((150, 40, 215, 105)),
                     _face((150, 120, 214, 184))),), ((200, 240),))
    _, _, report = ops.enhance_faces(image, edge, Nearest(4))
    assert [line.split(": ")[1][:6] for line in report.splitlines()] == ["not en", "not en", "enhanc"]
    _, _, report = ops.enhance_faces(image, edge, Nearest(4), size_policy="auto+medium")
    assert [line.split(": ")[1][:6] for line in report.splitlines()] == ["not en", "enhanc", "enhanc"]
    none, mask, report = ops.enhance_faces(image, FaceSet(((),), ((200, 240),)), Nearest(4))
    assert report == "no faces" and torch.equal(none, image) and not mask.any()
    with pytest.raises(ValueError, match="FACES has 1 frame"):
        ops.enhance_faces(_image(frame, frame), faces, Nearest(4))


def test_face_mask_is_the_feathered_square_times_the_face_oval():
    from conftest import ROOT

    from face_pipeline.vision import regions
    from face_pipeline.vision.geometry import feather_mask, similarity_transform

    edge = feather_mask((512, 512), 32)
    assert np.array_equal(ops.face_mask(_face((40, 40, 80, 80)), np.eye(2, 3)), edge)
    ref = np.load(ROOT / "tests" / "data" / "landmarks_reference.npz")
    lm = ref["faces/nasa_astronaut/1.png|landmarks"][0].astype(np.float32)
    box = ref["faces/nasa_astronaut/1.png|boxes"][0]
    face = _face(tuple(box)).with_(landmarks=lm)
    matrix = similarity_transform(face.keypoints, Template("ffhq_512", 512).points)
    oval = regions.crop_region_mask(face.with_(matrix=matrix, crop_size=(512, 512)), ["face"])
    got = ops.face_mask(face, matrix)
    assert np.allclose(got, edge * oval) and 0.2 < (got > 0.5).mean() < 0.8
    assert got[256, 256] == pytest.approx(1.0) and got[5, 256] == 0.0


def test_upscale_image_tiles_frames_or_face_regions():
    frames = [_frame(40, 48, seed=s) for s in (1, 2)]
    image = _image(*frames)

    class MeanTiles(Nearest):            # seams show unless the tiles are the asked ones
        def __call__(self, patch):
            return np.full((patch.shape[0] * 2, patch.shape[1] * 2, 3), patch.mean(), np.float32)

    up = MeanTiles(2)
    out = ops.upscale_image(image, up, tile=16, overlap=4)
    for i in range(2):
        assert np.array_equal(out[i].numpy(), restore.tiled_upscale(frames[i], up, 2, 16, 4))
    faces = FaceSet(((_face((10, 10, 20, 20)),), ()), ((40, 48), (40, 48)))
    out = ops.upscale_image(image, Nearest(2), faces=faces, tile=16, overlap=4)
    assert np.array_equal(out[0].numpy(), restore.upscale_face_regions(
        frames[0], [faces.frames[0][0].box], Nearest(2), 2, tile=16, overlap=4))
    assert np.array_equal(out[1].numpy(), np.clip(cv2.resize(frames[1], (96, 80),
                                                             interpolation=cv2.INTER_CUBIC), 0, 1))
    wide = _image(_frame(24, 300, seed=4))
    assert np.array_equal(ops.upscale_image(wide, up)[0].numpy(),
                          restore.tiled_upscale(wide[0].numpy(), up, 2, 256, 32))
    half = FaceSet(((_face((5, 5, 10, 10)),), ()), ((20, 24), (20, 24)))   # on a half-size copy
    assert torch.equal(ops.upscale_image(image, Nearest(2), faces=half, tile=16, overlap=4)[0],
                       out[0])
    with pytest.raises(ValueError, match=exactly(
            "gfpgan restores aligned faces only; for whole frames choose an upscaler "
            f"({', '.join(ops.UPSCALERS)}) or connect a non-face upscale model")):
        ops.upscale_image(image, Nearest(1, 512, "gfpgan", face_only=True))


def test_detect_with_retry_maps_faces_back_and_keeps_the_better():
    image = _image(*[_frame(40, 48, seed=s) for s in range(4)])
    first = (
        (),                                                     # no face: retried
        (_face((2, 2, 30, 30), score=0.5),),                    # weak: retried, kept
        (_face((2, 2, 30, 30), score=0.7),),                    # strong enough: not retried
        (_face((2, 2, 30, 30), score=0.3),),                    # weak: retried, replaced
    )
    calls = []

    def detect(img, presence_threshold=None):
        calls.append((img.shape, presence_threshold))
        if presence_threshold is None:
            return FaceSet(first, ((40, 48),) * 4)
        n = len(calls) - 1        # retries in frame order: frames 0, 1, 3
        found = {
            1: (_face((8, 8, 88, 88), score=0.8, detector="d", landmark_score=0.05),   # 20 px: kept
                _face((8, 8, 136, 136), score=0.9, detector="d", landmark_score=0.3),  # 32 px: dropped
                _face((8, 8, 136, 136), score=0.9, detector="d", landmark_score=0.5),  # kept
                _face((8, 8, 136, 136), score=0.9, detector="d")),                     # unverified: kept
            2: (_face((8, 8, 40, 40), score=0.45, detector="d"),),
            3: (_face((8, 8, 40, 40), score=0.35, detector="d"),),
        }[n]
        return FaceSet((found,), ((160, 192),))

    faces, report = ops.detect_with_retry(image, detect, Nearest(4), weak=0.6)
    assert calls[0] == (image.shape, None)
    assert [c for c in calls[1:]] == [((1, 160, 192, 3), ops.RETRY_PRESENCE_THRESHOLD)] * 3
    assert report == ("frame 0: retried on a x4 nearest enlargement: 0 -> 3 faces\n"
                      "frame 1: retried on a x4 nearest enlargement: 1 -> 1 faces (kept the first)\n"
                      "frame 3: retried on a x4 nearest enlargement: 1 -> 1 faces")
    got = faces.frames[0]
    assert [f.width for f in got] == [20.0, 32.0, 32.0]
    assert np.allclose(got[0].box, [2, 2, 22, 22]) and got[0].detector == "d+nearest"
    assert np.allclose(got[0].keypoints, _face((8, 8, 88, 88)).keypoints / 4)
    assert faces.frames[1] == first[1] and faces.frames[2] == first[2]
    assert faces.frames[3][0].score == 0.35 and faces.image_sizes == ((40, 48),) * 4
    calls.clear()
    _, report = ops.detect_with_retry(image, detect, Nearest(4), weak=0.6, max_side=47)
    assert report == "" and len(calls) == 1
    def strong(img, presence_threshold=None):                # frame 2 alone: scores 0.7
        return FaceSet((first[2],), ((img.shape[1], img.shape[2]),))

    assert ops.detect_with_retry(image[2:3], strong, Nearest(4))[1] == ""   # 0.7 >= 0.6
    assert ops.detect_with_retry(image[2:3], strong, Nearest(4), weak=0.71)[1].startswith(
        "frame 0: retried")

    def nothing_better(img, presence_threshold=None):
        if presence_threshold is None:
            return FaceSet(((_face((1, 1, 5, 5), score=0.5),),) * img.shape[0], ((img.shape[1], img.shape[2]),) * img.shape[0])
        return FaceSet(((_face((4, 4, 20, 20), score=0.5),),), ((img.shape[1], img.shape[2]),))

    _, report = ops.detect_with_retry(image[:1], nothing_better, Nearest(4))
    assert report.endswith("1 -> 1 faces (kept the first)")            # as good: not better

    def empty(img, presence_threshold=None):
        return FaceSet(((),) * img.shape[0], ((img.shape[1], img.shape[2]),) * img.shape[0])

    for h, w, retried in ((8, 512, True), (8, 513, False), (513, 8, False)):
        _, report = ops.detect_with_retry(torch.zeros(1, h, w, 3), empty, Nearest(2))
        assert report == ("frame 0: retried on a x2 nearest enlargement: 0 -> 0 faces (kept the first)"
                          if retried else ""), (h, w)
    with pytest.raises(ValueError, match=exactly(
            "gfpgan restores aligned faces only and cannot enlarge a frame for detection: "
            "choose an upscaler")):
        ops.detect_with_retry(image, detect, Nearest(1, 512, "gfpgan", face_only=True))


def test_restore_source_crop_faces_and_note(monkeypatch):
    frame = _frame()
    face = _face((60, 50, 100, 90), detector="det", score=0.8)
    faces = FaceSet(((face,),), ((200, 240),))
    seen = []

    def fake_landmarks(img, fs, device="auto"):
        seen.append((tuple(img.shape), device))
        return fs if len(seen) == 1 else FaceSet(((),), fs.image_sizes)

    monkeypatch.setattr(ops, "add_landmarks", fake_landmarks)
    image, crop_faces, note = ops.restore_source(_image(frame), faces, 0, face, None, device="cpu")
    assert seen == [((1, 512, 512, 3), "cpu")]
    assert note == "source face (40 px) enlarged sharply (no restorer: enhance_source off)"
    restored, original, matrix = restore.enhance_face(frame, face.keypoints, None,
                                                      sharpen=ops.SOURCE_SHARPEN)
    assert np.allclose(image[0].numpy(), restored, atol=1e-6)
    mapped = crop_faces.frames[0][0]
    assert np.allclose(mapped.keypoints, Template("ffhq_512", 512).points, atol=0.5)
    corners = np.array([[60, 50], [100, 90]], np.float64)
    want_box = (matrix[:, :2] @ corners.T).T + matrix[:, 2]
    assert np.allclose(mapped.box, want_box.reshape(4), atol=1e-3)
    assert mapped.score == 0.8 and mapped.detector == "det" and mapped.source_width == 40.0
    assert crop_faces.image_sizes == ((512, 512),)
    up = Nearest(4, gain=0.5)
    image, crop_faces, note = ops.restore_source(_image(frame), faces, 0,
                                                 face.with_(source_width=33.0), up, blend=0.25)
    assert seen[-1] == ((1, 512, 512, 3), "auto") and crop_faces.image_sizes == ((512, 512),)
    assert note == "source face (40 px) enhanced with nearest, blend 0.25"
    assert crop_faces.frames[0][0].source_width == 33.0       # the fallback: mapped face
    assert crop_faces.frames[0][0].landmarks is None
    restored, original, matrix = restore.enhance_face(frame, face.keypoints, Nearest(4, gain=0.5),
                                                      sharpen=ops.SOURCE_SHARPEN)
    plain = restore.sharpened(original, restore.magnification(matrix), ops.SOURCE_SHARPEN)
    assert np.allclose(image[0].numpy(), 0.25 * restored + 0.75 * plain, atol=1e-5)
    with pytest.raises(ValueError, match=r"^source_image: "):
        ops.restore_source(torch.zeros(1, 4, 4), faces, 0, face, None)


def test_source_enhancement_policy_and_prepare_source(monkeypatch):
    assert ops.wants_source_enhancement("always", 500) and not ops.wants_source_enhancement("off", 10)
    assert ops.wants_source_enhancement("auto", 64) and not ops.wants_source_enhancement("auto", 65)
    assert ops.wants_source_enhancement("auto", 80, small=80)
    with pytest.raises(ValueError, match=exactly(
            "enhance_source must be one of ['auto', 'always', 'off'], got 'yes'")):
        ops.wants_source_enhancement("yes", 10)
    frame = _frame()
    big, small = _face((20, 20, 120, 120)), _face((150, 60, 190, 100))
    faces = FaceSet(((big, small),), ((200, 240),))
    image = _image(frame)
    got = []
    monkeypatch.setattr(ops, "get_enhancer", lambda *a: got.append(a) or Nearest(4))
    monkeypatch.setattr(ops, "restore_source",
                        lambda img, fs, i, face, enh, device:
                        (img, fs, f"{face.width} {enh and enh.id} {device} {i} {fs.count} {img.shape[0]}"))
    assert ops.prepare_source(image, faces, 0, "auto") == (image, faces, 0, "")
    assert ops.prepare_source(image, faces, 1, "off", device="cpu")[2:] == (0, "40.0 None cpu 0 2 1")
    assert got == []
    assert ops.prepare_source(image, faces, 1, "auto", model="m", upscale_model="u", device="cpu",
                              allow_download=False)[2:] == (0, "40.0 nearest cpu 0 2 1")
    assert got == [("m", "u", "cpu", False)]
    assert ops.prepare_source(image, faces, 0, "always")[3] == "100.0 nearest auto 0 2 1"
    assert got[-1] == (ops.DEFAULT_SOURCE_ENHANCER, None, "auto", None)
    assert ops.prepare_source(image, faces, 0, "auto", small=100.0)[3] == "100.0 nearest auto 0 2 1"
    assert ops.prepare_source(image, faces, 1)[3] == "40.0 nearest auto 0 2 1"        # auto
    sixty_five = FaceSet(((_face((20, 20, 85, 85)),),), ((200, 240),))
    assert ops.prepare_source(image, sixty_five, 0)[3] == ""            # over 64 px: as is
    edge = FaceSet(((_face((20, 20, 67.4, 67.4)), _face((20, 20, 67.6, 67.6))),), ((200, 240),))
    assert ops.prepare_source(image, edge, 0, "off")[3].startswith("47.4")
    assert ops.prepare_source(image, edge, 1, "off")[3] == ""      # 47.6: 48 px after rounding


def test_get_enhancer_prefers_the_connected_upscale_model(monkeypatch):
    monkeypatch.setattr(ops, "from_upscale_model", lambda m, d: ("comfy", m, d))
    monkeypatch.setattr(ops, "load_enhancer", lambda m, d, a, f: ("manifest", m, d, a, f))
    assert ops.get_enhancer("x", "model", "cpu") == ("comfy", "model", "cpu")
    assert ops.get_enhancer("x", None, "cpu", False, 0.7) == ("manifest", "x", "cpu", False, 0.7)
    assert ops.get_enhancer() == ("manifest", ops.DEFAULT_ENHANCER, "auto", None, 0.5)


class Fixed:
    """Stand-in engine returning a fixed random image of ``size`` (whatever its input)."""

    def __init__(self, size, scale=4, input_size=None, low=0.0, seed=0):
        self.scale, self.input_size, self.id, self.face_only = scale, input_size, "fixed", False
        rng = np.random.default_rng(seed)
        self.output = rng.uniform(low, 1.0, (size, size, 3)).astype(np.float32)

    def __call__(self, image):
        return self.output.copy()


def test_enhance_face_resizes_outputs_by_area_down_and_cubically_up():
    frame = _frame()
    big = Fixed(2048)
    got, _, _ = restore.enhance_face(frame, _keypoints(1.0), big, structure=False)
    assert np.allclose(got, cv2.resize(big.output, (512, 512), interpolation=cv2.INTER_AREA), atol=1e-6)
    small = Fixed(256, scale=1, input_size=256, seed=1)
    got, _, _ = restore.enhance_face(frame, _keypoints(4.0), small)
    want = np.clip(cv2.resize(small.output, (512, 512), interpolation=cv2.INTER_CUBIC), 0, 1)
    assert np.allclose(got, want, atol=1e-6)
    negative = Fixed(512, scale=4, low=-1.0, seed=2)
    got, _, _ = restore.enhance_face(frame, _keypoints(4.0), negative, structure=False)
    assert got.min() == 0.0 and np.allclose(got, np.clip(negative.output, 0, 1))
    sharp, original, _ = restore.enhance_face(frame, _keypoints(4.0), negative, sharpen=1.0)
    want = restore.keep_structure(np.clip(negative.output, 0, 1), original, 4.0, 1.0)
    assert np.allclose(sharp, want, atol=1e-5)


def test_sharpen_and_structure_details():
    rng = np.random.default_rng(5)
    crop = rng.uniform(0.3, 0.7, (32, 32, 3)).astype(np.float32)
    half = restore.sharpened(crop, 2.0, 0.5)
    blur = cv2.GaussianBlur(crop, (0, 0), 1.0)
    assert np.allclose(half, np.clip(crop + 0.5 * (crop - blur), 0, 1), atol=1e-6)
    fine = restore.keep_structure(crop, np.full_like(crop, 0.5), 0.5)
    detail = crop - cv2.GaussianBlur(crop, (0, 0), restore.DETAIL_SIGMA * 0.5)
    assert np.allclose(fine, np.clip(0.5 + detail, 0, 1), atol=1e-6)
    assert np.array_equal(restore._ramp(4, 1, True, False), [0.5, 1, 1, 1])


def test_tiles_cross_fade_vertically_and_use_the_defaults():
    def mean_of_tile(patch):
        return np.full((patch.shape[0] * 2, patch.shape[1] * 2, 3), patch.mean(), np.float32)

    image = np.tile(np.linspace(0, 1, 50, dtype=np.float32)[:, None, None], (1, 20, 3))
    out = restore.tiled_upscale(image, mean_of_tile, 2, tile=30, overlap=10)
    m0, m1 = image[:30].mean(), image[20:].mean()
    t = (np.arange(20, dtype=np.float32) + 0.5) / 20
    s = t * t * (3 - 2 * t)
    assert np.allclose(out[40:60, 5, 0], (m0 * s[::-1] + m1 * s) / (s[::-1] + s), atol=1e-5)
    wide = np.tile(np.linspace(0, 1, 300, dtype=np.float32)[None, :, None], (8, 1, 3))
    assert np.array_equal(restore.tiled_upscale(wide, mean_of_tile, 2),
                          restore.tiled_upscale(wide, mean_of_tile, 2, 256, 32))
    assert np.array_equal(restore.tiled_upscale(wide, mean_of_tile, 2, tile=16, overlap=40),
                          restore.tiled_upscale(wide, mean_of_tile, 2, tile=16, overlap=8))
    below = restore.tiled_upscale(wide, lambda p: Nearest(2)(p) - 2.0, 2)
    assert below.min() == 0.0 and below.max() == 0.0


def test_face_regions_fade_box_sizes_and_skips():
    image = _frame(60, 80, seed=3)
    bicubic = np.clip(cv2.resize(image, (160, 120), interpolation=cv2.INTER_CUBIC), 0, 1)
    from face_pipeline.vision.geometry import feather_mask

    def expected(box, margin=restore.FACE_REGION_MARGIN, tile=256, overlap=32):
        x1, y1, x2, y2 = box
        pad = margin * max(x2 - x1, y2 - y1, 1.0)
        left, top = int(max(np.floor(x1 - pad), 0)), int(max(np.floor(y1 - pad), 0))
        right, bottom = int(min(np.ceil(x2 + pad), 80)), int(min(np.ceil(y2 + pad), 60))
        up = restore.tiled_upscale(image[top:bottom, left:right], Nearest(2), 2, tile, overlap)
        out = bicubic.copy()
        region = out[2 * top:2 * bottom, 2 * left:2 * right]
        region += feather_mask((up.shape[1], up.shape[0]), pad)[..., None] * (up - region)
        return out

    for box in ((30, 20, 36, 44), (20, 25, 50, 31)):       # tall, wide: the longer side pads
        got = restore.upscale_face_regions(image, [box], Nearest(2), 2)
        assert np.allclose(got, expected(box), atol=1e-6), box
    got = restore.upscale_face_regions(image, [(30, 20, 36, 44)], Nearest(2), 2, tile=8, overlap=2)
    assert np.allclose(got, expected((30, 20, 36, 44), tile=8, overlap=2), atol=1e-6)
    # a region 2 px wide is enlarged by the network; a degenerate one before it is skipped
    two = restore.upscale_face_regions(image, [(79.5, 10, 79.5, 10), (10, 10, 12, 40)],
                                       Nearest(2), 2, margin=0.0)
    assert not np.array_equal(two, bicubic)
