"""Gated blend, colour transfer and Poisson composite on a real swap-like pair: the astronaut's
face aligned onto Grace Hopper's 478 landmarks (a similarity warp), masked by the face oval."""
import cv2
import numpy as np
import pytest
import torch
from conftest import HELD_OUT, as_image, checked_poisson_clone, degraded, load_rgb

from face_pipeline.nodes.blend import GatedBlend, PoissonComposite
from face_pipeline.pipeline import blend as batch_ops
from face_pipeline.pipeline import faces as ops
from face_pipeline.vision import blend, poisson
from face_pipeline.vision.geometry import similarity_transform

CHEEKS = (50, 280, 205, 425)       # mesh points on both cheeks


def landmarks_of(frame):
    image = as_image(frame)
    return ops.add_landmarks(image, ops.detect_faces(image)).frames[0][0].landmarks


def hull_mask(points, shape):
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(points.astype(np.int32)), 1)
    return mask.astype(np.float32)


def warp_onto(source, src_points, dst_points, shape):
    matrix = similarity_transform(src_points, dst_points)
    return cv2.warpAffine(source, matrix, (shape[1], shape[0]), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def pair():
    """(target, warped source, face-oval mask, target landmarks), float32 0..1."""
    src, tgt = load_rgb("faces/nasa_astronaut/1.png"), load_rgb("faces/grace_hopper/1.jpg")
    src_lmk, tgt_lmk = landmarks_of(src), landmarks_of(tgt)
    warped = warp_onto(src, src_lmk[:468, :2], tgt_lmk[:468, :2], tgt.shape[:2])
    mask = hull_mask(tgt_lmk[:468, :2], tgt.shape[:2])
    return tgt.astype(np.float32) / 255, warped.astype(np.float32) / 255, mask, tgt_lmk


def grad(image):
    grey = cv2.cvtColor(np.ascontiguousarray(image, np.float32), cv2.COLOR_RGB2GRAY)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def lab_mean(image, points, radius=12):
    disc = np.zeros(image.shape[:2], np.uint8)
    for x, y in points.astype(int):
        cv2.circle(disc, (int(x), int(y)), radius, 1, -1)
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[disc > 0].mean(0)


# ------------------------------------------------------------------------------ gated blend

def test_outside_the_final_mask_is_bit_identical(pair):
    target, source, mask, _ = pair
    for options in ({}, {"feather": 0.0, "sharpen": 1.0, "color": "histogram"}):
        result = blend.gated_blend(target, source, mask, **options)
        outside = result.mask == 0
        assert np.array_equal(result.image[outside], target[outside])
        assert np.all(result.mask[mask == 0] == 0)       # never grows past the input mask
        assert not np.allclose(result.image[mask > 0], target[mask > 0], atol=0.05)


def test_target_patches_are_blended_as_if_the_target_held_them(pair):
    """Face Swap hands its beard-cleaned boxes to the blend as patches: inside the final mask
    the result equals a blend with a patched copy of the target, outside it the target's own
    pixels stay, and the target itself is not touched."""
    target, source, mask, _ = pair
    box = (150, 250, 330, 330)   # a band across the lower face, reaching past the mask
    x0, y0, x1, y1 = box
    pixels = np.full((y1 - y0, x1 - x0, 3), 0.6, np.float32)
    patched = target.copy()
    patched[y0:y1, x0:x1] = pixels
    t, s, m = (torch.from_numpy(a)[None] for a in (target, source, mask))
    kept = t.clone()
    got, got_mask = batch_ops.gated_blend(t, s.clone(), m.clone(),
                                          target_patches={0: [(box, pixels)]})[:2]
    want, want_mask = batch_ops.gated_blend(torch.from_numpy(patched)[None], s.clone(),
                                            m.clone())[:2]
    inside = got_mask > 0
    assert torch.equal(got_mask, want_mask) and torch.equal(got[inside], want[inside])
    outside = ~inside[0, y0:y1, x0:x1]
    assert torch.equal(got[0, y0:y1, x0:x1][outside], t[0, y0:y1, x0:x1][outside])
    assert torch.equal(t, kept)
    assert not torch.equal(got, batch_ops.gated_blend(t, s.clone(), m.clone())[0])


def test_seam_is_smoother_than_a_hard_paste(pair):
    target, source, mask, _ = pair
    hard = np.where(mask[..., None] > 0, source, target)
    blended = blend.gated_blend(target, source, mask).image
    kernel = np.ones((5, 5), np.uint8)
    ring = (cv2.dilate(mask, kernel) - cv2.erode(mask, kernel)) > 0
    assert grad(blended)[ring].mean() < 0.75 * grad(hard)[ring].mean()
    # no seam added: the ring is as busy as the target's own pixels there (hair, jaw line)
    assert grad(blended)[ring].mean() < 1.05 * grad(target)[ring].mean()


@pytest.mark.parametrize("method", ["reinhard", "histogram"])
def test_colour_transfer_brings_the_skin_to_the_targets(pair, method):
    target, source, mask, lmk = pair
    cheeks = lmk[list(CHEEKS), :2]
    skin = lab_mean(target, cheeks)
    difference = {}
    for color in (method, "none"):
        result = blend.gated_blend(target, source, mask, color=color, target_light=0.0)
        difference[color] = np.linalg.norm(lab_mean(result.image, cheeks) - skin)
    assert difference[method] < 0.6 * difference["none"]


def enlarged_blends(photo):
    """Blends of ``photo`` (held out: not the detail gate's calibration set) onto itself from
    its sharp, x4 and blur+x4+noise+JPEG versions (:func:`conftest.degraded`), each enlarged
    back onto the target's pixel grid as a warped source would be."""
    hr = load_rgb(photo)
    mask = hull_mask(landmarks_of(hr)[:468, :2], hr.shape[:2])
    target = hr.astype(np.float32) / 255
    results = {}
    for name, image in degraded(hr).items():
        if name in ("hr", "x4", "mixed"):
            enlarged = cv2.resize(image, (hr.shape[1], hr.shape[0]),
                                  interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
            results[name] = blend.gated_blend(target, enlarged, mask)
    return results


@pytest.mark.parametrize("photo", HELD_OUT)
def test_low_quality_source_lowers_quality_and_strength(photo):
    """The same face sharp and degraded: quality drops, the applied strength does not, and
    the detail gate closes in the order of the damage."""
    good, x4, mixed = enlarged_blends(photo).values()
    assert good.quality > 0.9 and x4.quality < good.quality - 0.2
    assert mixed.quality < x4.quality - 0.1
    assert good.strength == x4.strength == mixed.strength == 1.0   # quality never caps strength
    gate = blend.detail_gate
    assert gate(mixed.quality) < gate(x4.quality) - 0.2 < gate(good.quality) - 0.3


@pytest.mark.xfail(strict=True, reason=(
    "true on the calibration set (lowres: gate 0.16 for the blur+x4+noise+JPEG source), not on "
    "held-out photos: the gate stays 0.57 (Biden 1) and 0.32 (Obama 3), so such a source "
    "keeps about half of its untrusted fine detail"))
def test_a_badly_degraded_source_keeps_under_0_3_of_its_fine_detail():
    assert blend.detail_gate(enlarged_blends(HELD_OUT[0])["mixed"].quality) < 0.3


def test_quality_gates_only_fine_detail_never_structure(pair):
    target, source, mask, _ = pair
    assert blend.gated_blend(target, source, mask, quality=0.1).strength == 1.0
    assert blend.gated_blend(target, source, mask, quality=0.95, strength=0.5).strength == 0.5
    weak = blend.gated_blend(target, source, mask, quality=0.1).image
    full = blend.gated_blend(target, source, mask, quality=0.95).image
    inner = cv2.erode(mask, np.ones((31, 31), np.uint8)) > 0

    def coarse(image):   # structure: everything above the 4 px detail bands
        return cv2.GaussianBlur(image, (0, 0), 4.0)
    # a poor source's structure replaces the target's as fully as a sharp one's ...
    assert np.abs(coarse(weak) - coarse(full))[inner].mean() < 0.2 * \
        np.abs(coarse(full) - coarse(target))[inner].mean()
    # ... and its untrusted fine detail is held back without letting the target's through:
    fine = lambda image: np.abs(image - coarse(image))[inner].mean()  # noqa: E731
    assert fine(weak) < 0.7 * min(fine(full), fine(target))


def test_empty_mask_returns_the_target(pair):
    target, source, mask, _ = pair
    result = blend.gated_blend(target, source, np.zeros_like(mask))
    assert np.array_equal(result.image, target) and result.strength == 0.0
    assert not result.mask.any()


# ---------------------------------------------------------------------------------- Poisson

def test_poisson_solves_the_equation_and_keeps_the_outside(pair):
    target, source, mask, _ = pair
    # keep values away from 0 and 1 so that clipping cannot hide solver errors
    target, source = 0.25 + 0.5 * target, 0.25 + 0.5 * source
    region = cv2.erode(mask, np.ones((9, 9), np.uint8))
    checked_poisson_clone(target, source, region)


def test_poisson_mask_touching_the_border(pair):
    target, source, mask, _ = pair
    region = cv2.erode(mask, np.ones((9, 9), np.uint8))
    shift = int(np.flatnonzero(region.any(0))[0]) + 40          # push 40 px past the left edge
    source, region = np.roll(source, -shift, 1), np.roll(region, -shift, 1)
    region[:, -shift:] = 0
    assert region[:, 0].any()
    image, solved = poisson.poisson_clone(target, source, region)
    assert np.array_equal(image[solved == 0], target[solved == 0])
    assert np.isfinite(image).all()
    # not shifted: inside, the clone differs from the source by a smooth membrane only
    interior = cv2.erode(solved, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0
    interior &= (image > 0.01).all(-1) & (image < 0.99).all(-1)
    lap = cv2.Laplacian((image - source).astype(np.float64), cv2.CV_64F, ksize=1)
    assert np.abs(lap[interior]).mean() < 2e-3
    # and it meets the target along the (non-border) edge better than a hard paste
    edge = (cv2.dilate(solved, np.ones((3, 3), np.uint8)) > 0) & (solved == 0)
    near = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    hard = np.where(region[..., None] > 0.5, source, target)
    assert grad(image)[near].mean() < 0.7 * grad(hard)[near].mean()


def test_mixed_keeps_the_targets_edges_where_the_source_is_flat(pair):
    target, source, mask, _ = pair
    region = cv2.erode(mask, np.ones((9, 9), np.uint8))
    flat = cv2.GaussianBlur(source, (0, 0), 4.0)
    normal, _ = poisson.poisson_clone(target, flat, region, "normal")
    mixed, _ = poisson.poisson_clone(target, flat, region, "mixed")
    inside = cv2.erode(region, np.ones((5, 5), np.uint8)) > 0
    g_t, g_n, g_m = grad(target)[inside], grad(normal)[inside], grad(mixed)[inside]
    assert g_m.mean() > 1.5 * g_n.mean()
    assert np.corrcoef(g_m, g_t)[0, 1] > np.corrcoef(g_n, g_t)[0, 1] + 0.3
    same_n, _ = poisson.poisson_clone(target, target, region, "normal")
    same_m, _ = poisson.poisson_clone(target, target, region, "mixed")
    assert np.abs(same_n - target).max() < 2e-3 and np.abs(same_m - target).max() < 2e-3


# ---------------------------------------------------------------------------------- batches

def test_batch_of_eight_with_one_mask_and_one_source(pair, monkeypatch):
    target, source, mask, _ = pair
    frames = np.stack([np.clip(target * (0.8 + 0.05 * i), 0, 1) for i in range(8)])
    targets = torch.from_numpy(frames.astype(np.float32))
    calls = []
    measure = blend.source_quality
    monkeypatch.setattr(blend, "source_quality", lambda *a: calls.append(1) or measure(*a))
    image, final, qualities, strengths = batch_ops.gated_blend(
        targets, torch.from_numpy(source)[None], torch.from_numpy(mask)[None])
    assert image.shape == targets.shape and final.shape == (8,) + mask.shape
    assert len(calls) == 1 and len(set(qualities)) == 1 and len(strengths) == 8
    single = blend.gated_blend(targets[5].numpy(), source, mask, quality=qualities[0])
    assert np.array_equal(image[5].numpy(), single.image)
    outside = final.numpy() == 0
    assert torch.equal(image[torch.from_numpy(outside)], targets[torch.from_numpy(outside)])

    composite, region = batch_ops.poisson_composite(
        targets, torch.from_numpy(source)[None], torch.from_numpy(mask)[None], "mixed")
    assert composite.shape == targets.shape and region.shape == (8,) + mask.shape
    assert torch.equal(composite[region == 0], targets[region == 0])


def test_mismatched_batches_and_sizes_are_clear_errors(pair):
    target, source, mask, _ = pair
    targets = torch.from_numpy(target)[None].repeat(8, 1, 1, 1)
    sources = torch.from_numpy(source)[None].repeat(3, 1, 1, 1)
    masks = torch.from_numpy(mask)[None]
    with pytest.raises(ValueError, match="source has a batch of 3 but the target has 8"):
        batch_ops.gated_blend(targets, sources, masks)
    with pytest.raises(ValueError, match="mask has a batch of 2"):
        batch_ops.poisson_composite(targets, sources[:1], masks.repeat(2, 1, 1))
    with pytest.raises(ValueError, match="mask is 256x300 but the target is 512x600"):
        batch_ops.gated_blend(targets, sources[:1], masks[:, ::2, ::2])
    with pytest.raises(ValueError, match="unknown colour transfer"):
        batch_ops.gated_blend(targets[:1], sources[:1], masks, color="lab")
    with pytest.raises(ValueError, match="unknown Poisson mode"):
        batch_ops.poisson_composite(targets[:1], sources[:1], masks, "monochrome")


def test_nodes_return_their_declared_types(pair):
    target, source, mask, _ = pair
    t, s, m = (torch.from_numpy(a)[None] for a in (target, source, mask))
    image, final, quality, strength = GatedBlend().blend(t, s, m, 1.0, 15.0, "reinhard", 0.6, 0.2)
    assert image.shape == t.shape and final.shape == m.shape
    assert isinstance(quality, float) and isinstance(strength, float) and 0 < strength <= 1
    assert GatedBlend().blend(t, s, m, 1.0, 15.0, "none", 0.6, 0.0, quality=0.0)[3] == 1.0
    image, region = PoissonComposite().composite(t, s, m, "normal")
    assert image.shape == t.shape and region.shape == m.shape
    for node in (GatedBlend, PoissonComposite):
        spec = node.INPUT_TYPES()
        for name, section in spec.items():
            if name != "hidden":
                assert all("tooltip" in options for _, options in section.values())
