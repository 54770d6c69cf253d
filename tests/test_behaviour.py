"""Behaviour the rest of the suite did not pin down: each test here fails when one small
deliberate change (a mutant) is made to the code, e.g. an option that stops doing anything.

The twelve changes named in issue 15 (all survived the suite before): the detail gate always
open, ``target_light`` ignored, ``sharpen`` ignored, Paste Faces Back ignoring its crop mask,
``shape_transfer`` dropped, the ONNX swap pasting without its face-oval mask, the blend always
getting quality 1.0, Reinhard transfer without its gain, ``keep_target_eyes`` dropped, ``<``
for ``<=`` in gallery matching, face-model means ignoring quality weights, the similarity
transform without its reflection guard.  Assertions are on properties (which band comes from
where, which pixels may change), not on values tuned to the current implementation.
"""
import cv2
import numpy as np
import pytest
import torch
from conftest import as_image, load_rgb
from tiny_models import tiny_arcface, tiny_inswapper

from face_pipeline.models import onnx as ort_cache
from face_pipeline.pipeline import blend as blend_ops
from face_pipeline.pipeline import identity as id_ops
from face_pipeline.pipeline import swap as swap_ops
from face_pipeline.pipeline.faces import add_landmarks, align_faces, detect_faces, paste_faces_back
from face_pipeline.pipeline.swap_geometry import mesh_warp_swap
from face_pipeline.vision import blend, color, regions
from face_pipeline.vision.face import Face, FaceSet
from face_pipeline.vision.gallery import FaceModel, Gallery
from face_pipeline.vision.geometry import Template, similarity_transform
from face_pipeline.vision.identity import normalize

ASTRONAUT = "faces/nasa_astronaut/1.png"
HOPPER = "faces/grace_hopper/1.jpg"
SIZE = 160


def highpass_energy(image, mask, sigma=1.0):
    """Mean squared fine detail (image minus its Gaussian blur) inside ``mask > 0.99``."""
    fine = image - cv2.GaussianBlur(image, (0, 0), sigma)
    return float((fine[mask > 0.99] ** 2).mean())


@pytest.fixture(scope="module")
def flat_and_textured():
    """A flat grey target, a finely textured source of the same mean, a disc mask."""
    rng = np.random.default_rng(3)
    target = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    source = np.clip(0.5 + 0.15 * rng.standard_normal((SIZE, SIZE, 1)), 0, 1).repeat(3, -1)
    mask = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(mask, (SIZE // 2, SIZE // 2), 60, 1.0, -1)
    return target, source.astype(np.float32), mask


# --------------------------------------------------------------------------- gated blend

def test_a_poor_source_gives_no_fine_detail(flat_and_textured):
    """The detail gate: a low-quality source's finest bands are not pasted."""
    target, source, mask = flat_and_textured
    good = blend.gated_blend(target, source, mask, quality=1.0, color="none").image
    poor = blend.gated_blend(target, source, mask, quality=0.1, color="none").image
    assert highpass_energy(poor, mask) < 0.2 * highpass_energy(good, mask)
    assert blend.detail_gate(0.0) == 0.0 and blend.detail_gate(1.0) == 1.0


def test_target_light_keeps_the_targets_lighting(flat_and_textured):
    """The coarsest band (a brightness offset over the whole face) comes from the target in
    proportion to ``target_light``."""
    target, _, mask = flat_and_textured
    brighter = target + 0.3
    centre = mask.copy()
    centre[:SIZE // 2 - 20] = centre[SIZE // 2 + 20:] = 0
    centre[:, :SIZE // 2 - 20] = centre[:, SIZE // 2 + 20:] = 0
    lift = {}
    for light in (0.0, 1.0):
        out = blend.gated_blend(target, brighter, mask, quality=1.0, color="none",
                                target_light=light).image
        lift[light] = float((out - target)[centre > 0].mean())
    assert lift[0.0] > 0.25 and lift[1.0] < 0.1, lift


def test_sharpen_adds_fine_contrast(flat_and_textured):
    target, source, mask = flat_and_textured
    plain = blend.gated_blend(target, source, mask, quality=1.0, color="none").image
    sharp = blend.gated_blend(target, source, mask, quality=1.0, color="none", sharpen=1.0).image
    assert highpass_energy(sharp, mask) > 1.5 * highpass_energy(plain, mask)
    outside = mask == 0
    assert np.array_equal(sharp[outside], target[outside])
    inner = cv2.erode(mask, np.ones((41, 41), np.uint8)) > 0     # edge ramp at 1, away from the ROI border
    expected = np.clip(blend.unsharp(plain, 1.0), 0, 1)
    assert np.allclose(sharp[inner], expected[inner], atol=0.02)


def test_reinhard_matches_the_targets_contrast():
    rng = np.random.default_rng(5)
    base = rng.random((64, 64, 3)).astype(np.float32)
    target = 0.4 + 0.2 * base
    source = 0.1 + 0.8 * base[::-1]        # four times the target's contrast
    mask = np.ones((64, 64), np.float32)
    out = color.transfer_color(source, target, mask, "reinhard")
    lab = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    std_out, std_tgt = lab(out).reshape(-1, 3).std(0), lab(target).reshape(-1, 3).std(0)
    assert np.allclose(std_out, std_tgt, rtol=0.1), (std_out, std_tgt)
    assert np.allclose(lab(out).reshape(-1, 3).mean(0), lab(target).reshape(-1, 3).mean(0),
                       atol=1.0)


# --------------------------------------------------------------------------- geometry, identity

def test_similarity_transform_never_mirrors():
    src = np.array([[0, 0], [10, 0], [0, 20], [7, 9]], np.float32)
    mirrored = src * [-1, 1] + [50, 0]
    matrix = similarity_transform(src, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0
    exact = similarity_transform(src, src @ np.array([[0, -2], [2, 0]], np.float32).T + 5)
    assert np.allclose(exact, [[0, -2, 5], [2, 0, 5]], atol=1e-4)


def test_face_model_mean_is_weighted_by_quality():
    rows = normalize(np.random.default_rng(2).normal(size=(2, 16)))
    model = FaceModel.build("p", "m", rows, [1.0, 0.0], ("a", "b"))
    assert np.allclose(model.embedding, rows[0], atol=1e-6)
    model = FaceModel.build("p", "m", rows, [0.25, 0.75], ("a", "b"))
    assert np.allclose(model.embedding, normalize(0.25 * rows[0] + 0.75 * rows[1]), atol=1e-6)


def test_a_match_exactly_at_the_threshold_is_known():
    rows = normalize(np.random.default_rng(4).normal(size=(3, 8)))
    gallery = Gallery("m", ("a", "b", "c"), rows, [1, 1, 1], ("1", "2", "3"))
    probe = normalize(rows[1] + 0.3 * rows[0])
    (first,) = gallery.search(probe[None], 0.01, metric="cosine")
    at = first.matches[0].distance
    (hit,) = gallery.search(probe[None], at, metric="cosine")
    (miss,) = gallery.search(probe[None], at - 1e-5, metric="cosine")
    assert (hit.identity, miss.identity) == ("b", "unknown")
    faces = FaceSet([(Face(np.array([0, 0, 9, 9], np.float32), 1.0, np.zeros((5, 2), np.float32),
                           embedding=probe, embedding_model="m"),)])
    reference = FaceModel.build("b", "m", rows[1:2], [1.0], ("x",))
    distance = id_ops.select_by_reference(faces, reference, metric="euclidean",
                                          threshold=1.0)[1][0]
    kept, _ = id_ops.select_by_reference(faces, reference, metric="euclidean", threshold=distance)
    assert kept.count == 1


# --------------------------------------------------------------------------- paste back

def test_paste_back_follows_its_crop_mask():
    image = as_image(load_rgb(HOPPER))
    faces = add_landmarks(image, detect_faces(image))
    crops, aligned = align_faces(image, faces, Template("arcface_128_v2", 128))
    half = torch.ones(1, 128, 128)
    half[:, :, :64] = 0                   # keep the image's left half of the crop
    out, mask = paste_faces_back(image, torch.zeros_like(crops), aligned, crop_masks=half)
    changed = (out[0] != image[0]).any(-1)
    assert changed.any() and torch.equal(changed, mask[0] > 0)
    crop_x = aligned.frames[0][0].matrix[0]         # x in crop space of every frame pixel
    ys, xs = torch.nonzero(changed, as_tuple=True)
    assert (crop_x[0] * xs + crop_x[1] * ys + crop_x[2] >= 63).all()


# --------------------------------------------------------------------------- swaps

@pytest.fixture(scope="module")
def swap_pair():
    src, tgt = as_image(load_rgb(ASTRONAUT)), as_image(load_rgb(HOPPER))
    return src, add_landmarks(src, detect_faces(src)), tgt, add_landmarks(tgt, detect_faces(tgt))


def test_shape_transfer_moves_the_outline_toward_the_source(swap_pair):
    src, src_faces, tgt, tgt_faces = swap_pair
    masks = {amount: mesh_warp_swap(src, src_faces, tgt, tgt_faces,
                                    shape_transfer=amount)[1][0] > 0.5 for amount in (0.0, 1.0)}
    differ = (masks[0.0] ^ masks[1.0]).sum() / masks[0.0].sum()
    assert differ > 0.03, float(differ)


def test_keep_target_eyes_leaves_the_eyes(swap_pair):
    src, src_faces, tgt, tgt_faces = swap_pair
    eyes = regions.faces_region_mask(tgt_faces.frames[0], tuple(tgt.shape[1:3]), ["eyes"]) > 0.5
    kept, kept_mask, _ = mesh_warp_swap(src, src_faces, tgt, tgt_faces, keep_eyes=True)
    swapped, swapped_mask, _ = mesh_warp_swap(src, src_faces, tgt, tgt_faces, keep_eyes=False)
    assert float(kept_mask[0][torch.from_numpy(eyes)].mean()) < 0.1
    assert float(swapped_mask[0][torch.from_numpy(eyes)].mean()) > 0.9
    moved = lambda out: float((out[0] - tgt[0]).abs()[torch.from_numpy(eyes)].mean())
    assert moved(kept) < 0.2 * moved(swapped)


def test_face_swap_blends_with_the_measured_source_quality(swap_pair, monkeypatch):
    src, src_faces, tgt, tgt_faces = swap_pair
    small = as_image(cv2.resize(load_rgb(ASTRONAUT), (128, 128), interpolation=cv2.INTER_AREA))
    seen = []
    real = blend_ops.gated_blend
    monkeypatch.setattr(swap_ops.blend, "gated_blend",
                        lambda *a, **k: seen.append(k["quality"]) or real(*a, **k))
    _, _, report = swap_ops.face_swap(small, tgt, target_faces=tgt_faces)
    measured = float(report.rsplit("source quality ", 1)[1].split(",")[0])
    assert len(seen) == 1 and seen[0] < 0.5 and abs(seen[0] - measured) < 0.005


def test_onnx_swap_changes_only_the_face_oval(swap_pair, tmp_path, monkeypatch):
    src, src_faces, tgt, tgt_faces = swap_pair
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    tiny_arcface(tmp_path / "w600k_r50.onnx")
    tiny_inswapper(tmp_path / "inswapper_128.onnx", np.eye(512, dtype=np.float32))
    try:
        out, mask, _ = swap_ops.model_swap(src, src_faces, tgt, tgt_faces)
    finally:
        ort_cache.unload_all()
    face = regions.faces_region_mask(tgt_faces.frames[0], tuple(tgt.shape[1:3]), ["face"]) > 0
    outside = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 5)
    changed = (out[0] != tgt[0]).any(-1).numpy()
    # resampling the crop-space oval spreads it by a few pixels; the crop's corners are far out
    assert changed.sum() > 1000 and outside[changed].max() < 8, outside[changed].max()


# --------------------------------------------------------------------------- geometry details

def test_similarity_transform_is_a_similarity_for_any_input():
    src = np.array([[0, 0], [0.5, 0], [0, 0.8], [0.3, 0.4]], np.float32)   # spread < 1 px
    for dst in (src * [-1, 1], src @ np.array([[0.8, -0.6], [0.6, 0.8]], np.float32).T * 3 + 7):
        matrix = similarity_transform(src, dst)
        linear = matrix[:, :2].astype(np.float64)
        gram = linear @ linear.T
        assert matrix.dtype == np.float32
        assert np.allclose(gram, np.eye(2) * gram[0, 0], atol=1e-5) and np.linalg.det(linear) > 0
    rotated = similarity_transform(src, src @ np.array([[0.8, -0.6], [0.6, 0.8]]).T * 3 + 7)
    assert np.allclose(rotated, [[2.4, -1.8, 7], [1.8, 2.4, 7]], atol=1e-4)
    same = similarity_transform(np.ones((3, 2)), np.ones((3, 2)) * 5)   # no spread at all
    assert np.allclose(same, [[1, 0, 4], [0, 1, 4]])


def test_transform_points_scales_depth_and_invert_round_trips():
    from face_pipeline.vision.geometry import invert, transform_points

    matrix = np.array([[0, -2, 5], [2, 0, 1]], np.float32)
    moved = transform_points(np.array([[1, 2, 3]], np.float32), matrix)
    assert moved.dtype == np.float32 and np.allclose(moved, [[1, 3, 6]])
    back = invert(matrix)
    assert back.dtype == np.float32
    assert np.allclose(transform_points(moved[:, :2], back), [[1, 2]], atol=1e-6)


def test_feather_mask_ramps_over_the_given_width():
    from face_pipeline.vision.geometry import feather_mask

    mask = feather_mask((20, 10), 4.0)
    assert mask.shape == (10, 20) and mask.dtype == np.float32
    assert mask[0].max() == 0 and mask[:, -1].max() == 0 and mask[4:6, 4:16].min() == 1.0
    assert mask[2, 10] == pytest.approx(0.5) and mask[1, 10] == pytest.approx(0.15625)
    hard = feather_mask((6, 6), 0.0)
    assert hard[0].max() == 0 and hard[1:5, 1:5].min() == 1.0


def test_warp_crop_replicates_the_border():
    from face_pipeline.vision.geometry import warp_crop

    ramp = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    shifted = warp_crop(ramp, np.array([[1, 0, 8], [0, 1, 0]], np.float32), (32, 32))
    assert np.allclose(shifted[:, :8], 0.0) and shifted[:, 8:].min() >= 0
    outside = warp_crop(ramp, np.array([[1, 0, -40], [0, 1, 0]], np.float32), (8, 8))
    assert np.allclose(outside, 1.0)                      # border replicated, never black


@pytest.mark.parametrize("angle, scale, shift", [(20, 1.7, (30, 10)), (-35, 0.6, (-20, 15)),
                                                 (0, 1.0, (-60, -60)), (10, 2.0, (500, 0))])
def test_paste_back_equals_the_whole_frame_composite(angle, scale, shift):
    """paste_back warps only the crop's footprint; it must give the pixels a whole-frame warp
    gives, including crops partly or wholly outside the frame."""
    from face_pipeline.vision.geometry import feather_mask, invert, paste_back

    rng = np.random.default_rng(7)
    frame = rng.random((90, 120, 3)).astype(np.float32)
    crop = rng.random((48, 48, 3)).astype(np.float32)
    crop_mask = feather_mask((48, 48), 6.0)
    to_frame = cv2.getRotationMatrix2D((24, 24), angle, scale)
    to_frame[:, 2] += shift
    matrix = invert(to_frame.astype(np.float32))
    out, mask = paste_back(frame, crop, matrix, crop_mask)
    inverse = invert(matrix)
    interp = cv2.INTER_AREA if abs(np.linalg.det(inverse[:, :2])) < 1 else cv2.INTER_CUBIC
    warped = cv2.warpAffine(crop, inverse, (120, 90), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    full = np.clip(cv2.warpAffine(crop_mask, inverse, (120, 90), flags=cv2.INTER_LINEAR), 0, 1)
    expected = np.where(full[..., None] > 0,
                        frame + (np.clip(warped, 0, 1) - frame) * full[..., None], frame)
    assert np.allclose(mask, full, atol=1e-4) and np.allclose(out, expected, atol=1e-4)
    assert np.array_equal(out[full == 0], frame[full == 0])


# --------------------------------------------------------------------------- blend details

def test_separate_faces_are_blended_each_on_their_own():
    """Two faces apart in one frame: the same as blending each alone (its own colour
    statistics and band count), not one region spanning both."""
    rng = np.random.default_rng(0)
    target = cv2.GaussianBlur(rng.random((120, 200, 3)).astype(np.float32), (0, 0), 3)
    source = cv2.GaussianBlur(rng.random((120, 200, 3)).astype(np.float32), (0, 0), 2)
    left, right = np.zeros((120, 200), np.float32), np.zeros((120, 200), np.float32)
    cv2.circle(left, (45, 60), 30, 1.0, -1)
    cv2.circle(right, (150, 55), 20, 1.0, -1)
    both = blend.gated_blend(target, source, left + right, quality=0.9)
    first = blend.gated_blend(target, source, left, quality=0.9)
    second = blend.gated_blend(first.image, source, right, quality=0.9)
    assert np.array_equal(both.image, second.image)
    assert np.array_equal(both.mask, first.mask + second.mask)


def test_blend_helpers_follow_their_docstrings():
    mask = np.zeros((40, 50), np.float32)
    mask[10:20, 5:30] = 1.0
    assert blend.mask_box(mask) == (5, 10, 30, 20)
    assert blend.mask_box(mask, 3) == (2, 7, 33, 23)
    assert blend.mask_box(mask, 8) == (0, 2, 38, 28)               # clipped at the border
    assert blend.mask_box(np.zeros((4, 4))) is None
    top = np.zeros((40, 50), np.float32)
    top[0:5, 0:5] = 1
    assert blend.mask_box(top, 3) == (0, 0, 8, 8)
    two = mask.copy()
    two[30:35, 40:45] = 0.5                                        # a second face, apart
    assert blend.mask_boxes(mask, 3) == [blend.mask_box(mask, 3)]
    assert sorted(blend.mask_boxes(two, 3)) == [(2, 7, 33, 23), (37, 27, 48, 38)]
    assert blend.mask_boxes(two, 8) == [blend.mask_box(two, 8)]   # margins overlap: one
    assert blend.mask_boxes(np.zeros((4, 4))) == []
    full = blend.inner_distance(np.ones((9, 9), np.float32))
    assert full.min() > 8                                          # the border is not outside
    inside = blend.inner_distance(mask)
    assert inside[10, 17] == 1 and inside[15, 17] == 5 and inside[5, 5] == 0
    ramp = blend.edge_ramp(np.array([0, 5, 10, 20], np.float32), 10)
    assert np.allclose(ramp, [0, 0.5, 1, 1])
    assert np.allclose(blend.edge_ramp(np.array([0.5, 1, 3], np.float32), 0.2), [0.5, 1, 1])
    assert [blend.band_count(w) for w in (0, 16, 64, 100, 256, 10000)] == [2, 2, 3, 4, 5, 7]
    image = np.random.default_rng(0).random((20, 20, 3)).astype(np.float32)
    assert np.array_equal(blend.unsharp(image, 0.0), image)
    assert np.allclose(blend.unsharp(image, 0.5),
                       image + 0.5 * (image - cv2.GaussianBlur(image, (0, 0), 1.0)))
    stack = blend.lowpass_stack(image, 3)
    assert len(stack) == 4 and stack[0] is image and all(s.shape == image.shape for s in stack)
    flat = blend.lowpass_stack(np.full((20, 20, 3), 0.3, np.float32), 3)
    assert all(np.allclose(s, 0.3) for s in flat)


def test_source_quality_measures_the_masks_face_box():
    from face_pipeline.vision.quality import oval_quality

    image = load_rgb(HOPPER).astype(np.float32) / 255
    mask = np.zeros(image.shape[:2], np.float32)
    mask[150:350, 180:360] = 0.3
    mask[170:330, 200:340] = 1.0
    assert blend.source_quality(image, mask) == oval_quality(image, (200, 170, 340, 330)).quality
    soft = np.where(mask > 0, 0.3, 0).astype(np.float32)
    assert blend.source_quality(image, soft) == oval_quality(image, (180, 150, 360, 350)).quality
    assert blend.source_quality(image, np.zeros_like(mask)) == 1.0
    target = np.full_like(image, 0.4)
    estimated = blend.gated_blend(target, image, mask)
    given = blend.gated_blend(target, image, mask, quality=blend.source_quality(image, mask))
    assert estimated.quality == given.quality and np.array_equal(estimated.image, given.image)


def test_blend_defaults_and_empty_mask():
    target = np.random.default_rng(1).random((60, 60, 3)).astype(np.float32)
    source = np.random.default_rng(2).random((60, 60, 3)).astype(np.float32)
    mask = np.zeros((60, 60), np.float32)
    mask[10:50, 10:50] = 1
    default = blend.gated_blend(target, source, mask, quality=1.0)
    explicit = blend.gated_blend(target, source, mask, quality=1.0, strength=1.0, feather=15.0,
                                 color="reinhard", target_light=0.6, sharpen=0.0)
    assert np.array_equal(default.image, explicit.image) and default.strength == 1.0
    assert default.image.dtype == np.float32 and default.mask.dtype == np.float32
    thin = blend.gated_blend(target, source, mask, quality=1.0, feather=2.0).mask
    assert thin[10, 30] == pytest.approx(float(blend.edge_ramp(np.float32(1), 2.0)))
    assert thin[12, 30] == 1.0 and thin[9, 30] == 0.0
    empty = blend.gated_blend(target, source, np.zeros_like(mask))
    assert (empty.quality, empty.strength) == (1.0, 0.0) and not empty.mask.any()
    assert blend.gated_blend(target, source, np.zeros_like(mask), quality=0.3).quality == 0.3
    assert empty.image.dtype == np.float32 and empty.mask.dtype == np.float32


@pytest.mark.parametrize("quality, target_light", [(1.0, 0.0), (1.0, 1.0), (0.0, 0.0)])
def test_bands_recombine_to_what_the_docstring_says(quality, target_light):
    """Far inside the mask (every edge ramp at 1) the blend adds exactly the bands whose gate
    is open, times the applied strength: all of them (the source itself) or all but the
    lighting residual; at quality 0 (detail gate shut) the target's two finest bands are
    removed and none of the source's added (the face is the source low-passed there)."""
    rng = np.random.default_rng(9)
    target = cv2.GaussianBlur(rng.random((300, 300, 3)).astype(np.float32), (0, 0), 2)
    source = cv2.GaussianBlur(rng.random((300, 300, 3)).astype(np.float32), (0, 0), 1)
    mask = np.zeros((300, 300), np.float32)
    mask[50:250, 50:250] = 1
    result = blend.gated_blend(target, source, mask, quality=quality, color="none",
                               target_light=target_light, feather=4.0)
    x0, y0, x1, y1 = blend.mask_box(mask, blend.MARGIN)
    diff = (source - target)[y0:y1, x0:x1] * (mask[y0:y1, x0:x1] > 0)[..., None]
    levels = blend.band_count(200)
    stack = blend.lowpass_stack(diff, levels)
    if quality == 0.0:   # every band of the difference, less the source's bands 0, 1 (< 4 px)
        filled = np.where(mask[..., None] > 0, source, target)[y0:y1, x0:x1]
        expected = diff - (filled - blend.lowpass_stack(filled, 2)[2])
    else:
        expected = diff - stack[levels] if target_light == 1.0 else diff
    inner = slice(50 + 2 ** (levels + 1) + 2, 250 - 2 ** (levels + 1) - 2)
    added = (result.image - target)[inner, inner]
    want = result.strength * expected[inner.start - y0:inner.stop - y0,
                                      inner.start - x0:inner.stop - x0]
    assert added.size > 3 * 40 * 40 and np.allclose(added, want, atol=2e-4)


def test_batch_blend_measures_each_source_frame():
    sharp = load_rgb(HOPPER).astype(np.float32) / 255
    soft = cv2.GaussianBlur(sharp, (0, 0), 4)
    source = torch.from_numpy(np.stack([sharp, soft]))
    target = torch.full_like(source, 0.5)
    mask = torch.zeros(1, *sharp.shape[:2])
    mask[0, 170:330, 200:340] = 1
    _, _, qualities, _ = blend_ops.gated_blend(target, source, mask)
    assert qualities[1] < qualities[0] - 0.3
    assert qualities[0] == blend.source_quality(sharp, mask[0].numpy())
    default, _ = blend_ops.poisson_composite(target[:1], source[:1], mask)
    assert torch.equal(default, blend_ops.poisson_composite(target[:1], source[:1], mask,
                                                            "normal")[0])


# ------------------------------------------------------------- batch gated blend (pipeline)

@pytest.fixture(scope="module")
def two_frames():
    """A 2-frame 96x96 textured target, a one-frame source, and masks: a disc in frame 0,
    nothing in frame 1."""
    rng = np.random.default_rng(7)
    target = cv2.GaussianBlur(rng.random((2, 96, 96, 3), dtype=np.float32).reshape(192, 96, 3),
                              (0, 0), 1.5).reshape(2, 96, 96, 3)
    source = np.clip(0.35 + 0.3 * rng.random((1, 96, 96, 3), dtype=np.float32), 0, 1)
    mask = np.zeros((2, 96, 96), np.float32)
    cv2.circle(mask[0], (48, 48), 24, 1.0, -1)
    return (torch.from_numpy(np.ascontiguousarray(target)), torch.from_numpy(source),
            torch.from_numpy(mask))


def test_batch_blend_reports_quality_and_strength_per_frame(two_frames):
    """A given quality is used and reported for every frame; a frame without a mask gets
    strength 0 and its target back; measured qualities stay in 0..1."""
    target, source, mask = two_frames
    measured = blend.source_quality(source[0].numpy(), mask[0].numpy())
    assert blend.detail_gate(measured) < 0.5   # the noise source measures low ...
    image, final, qualities, strengths = blend_ops.gated_blend(target, source, mask, quality=0.9)
    assert qualities == [0.9, 0.9] and strengths == [1.0, 0.0]   # ... the given 0.9 is used
    single = blend.gated_blend(target[0].numpy(), source[0].numpy(), mask[0].numpy(), quality=0.9)
    assert np.array_equal(image[0].numpy(), single.image)
    assert torch.equal(image[1], target[1]) and not final[1].any()
    _, _, measured, strengths = blend_ops.gated_blend(target, source, mask)
    assert all(0.0 <= q <= 1.0 for q in measured) and strengths == [1.0, 0.0]
    assert image.dtype == final.dtype == torch.float32


def test_batch_blend_output_stays_in_0_1(two_frames):
    """A target that overshoots 0..1 (an upscaler's ringing) comes out clipped to 0..1, also
    outside the mask."""
    target, source, mask = two_frames
    loud = (target - 0.5) * 8 + 0.5
    image = blend_ops.gated_blend(loud, source, mask)[0]
    assert image.min() == 0.0 and image.max() == 1.0
    outside = (mask == 0)[..., None].expand_as(image)
    assert torch.equal(image[outside], loud.clamp(0, 1)[outside])


def test_batch_blend_in_place_writes_into_the_scratch_batches(two_frames):
    """``in_place``: the IMAGE and MASK are the caller's scratch batches, filled with what an
    ordinary call returns; scratch batches of another shape are an error."""
    target, source, mask = two_frames
    want_image, want_mask, _, _ = blend_ops.gated_blend(target, source, mask, quality=0.8)
    scratch = torch.where(mask[..., None] > 0, source.expand_as(target), target).contiguous()
    scratch_mask = mask.clone()
    image, final, _, _ = blend_ops.gated_blend(target, scratch, scratch_mask, quality=0.8,
                                               in_place=True)
    assert image.data_ptr() == scratch.data_ptr() and final.data_ptr() == scratch_mask.data_ptr()
    assert torch.equal(image, want_image) and torch.equal(final, want_mask)
    for bad_source, bad_mask in ((scratch[:1].clone(), mask.clone()),
                                 (scratch.clone(), mask[:1].clone())):
        with pytest.raises(ValueError, match="^in_place needs a source and a mask with one "
                                             "frame per target frame$"):
            blend_ops.gated_blend(target, bad_source, bad_mask, in_place=True)


def test_batch_blend_hands_each_region_its_colour_statistics(two_frames):
    """``color_stats(frame, box)`` is asked once per frame with a mask, with that frame's index
    and the blended region's box, and the statistics it returns recolour the face."""
    target, source, mask = two_frames
    calls = []

    def brighter(stats):   # the target's L* mean raised by 20: the face comes out brighter
        stats = np.array(stats, np.float64)
        stats[2, 0] += 20.0
        return stats

    def hook(frame, box):
        calls.append((frame, box))
        return brighter
    options = {"color": "reinhard", "target_light": 0.0}
    plain = blend_ops.gated_blend(target, source, mask, **options)[0]
    hooked = blend_ops.gated_blend(target, source, mask, color_stats=hook, **options)[0]
    assert calls == [(0, blend.mask_boxes(mask[0].numpy(), blend.MARGIN)[0])]
    inside = mask[0] > 0.99
    assert (hooked[0][inside] - plain[0][inside]).mean() > 0.05


def test_batch_blend_target_patches_cut_to_the_region(two_frames):
    """Patches larger than the blended region are cut to it; a patch beside the region (same
    columns, other rows) changes nothing."""
    target, source, mask = two_frames
    big = (5, 6, 91, 90)
    pixels = np.full((84, 86, 3), 0.3, np.float32)
    patched = target.clone()
    patched[0, 6:90, 5:91] = torch.from_numpy(pixels)
    got, got_mask = blend_ops.gated_blend(target, source, mask, target_patches={0: [(big, pixels)]})[:2]
    want = blend_ops.gated_blend(patched, source, mask)[0]
    inside = got_mask[0] > 0
    assert torch.equal(got[0][inside], want[0][inside])
    above = (20, 0, 76, 3)   # the region starts below row 3
    plain = blend_ops.gated_blend(target, source, mask)[0]
    beside = blend_ops.gated_blend(target, source, mask,
                                   target_patches={0: [(above, np.zeros((3, 56, 3), np.float32))]})[0]
    assert torch.equal(beside, plain)


def test_batch_blend_takes_half_precision_and_rgba_images(two_frames):
    """Half-precision and RGBA IMAGEs (alpha dropped) blend as their float32 RGB values do."""
    target, source, mask = two_frames
    half_t, half_s = target.half(), source.half()
    want = blend_ops.gated_blend(half_t.float(), half_s.float(), mask)[0]
    assert torch.equal(blend_ops.gated_blend(half_t, half_s, mask)[0], want)
    assert torch.equal(blend_ops.gated_blend(half_t, half_s, mask.half())[0], want)
    alpha = torch.full(target.shape[:3] + (1,), 0.5)
    want = blend_ops.gated_blend(target, source, mask)[0]
    rgba = blend_ops.gated_blend(torch.cat([target, alpha], -1), torch.cat([source, alpha[:1]], -1),
                                 mask)[0]
    assert torch.equal(rgba, want)
