"""`vision/poisson.py` on synthetic images with known answers: the neighbour sum, the guidance
divergence (normal and mixed), push-pull fill, the conjugate-gradient solver, and clones whose
exact result is known (constant and linear boundaries are harmonic; a source equal to the
target plus an offset gives the target back), masks on the border, clipping and refusals
(issue 15 item 4: outcomes that kill behaviour-changing mutants; no photos, no models).
"""
import cv2
import numpy as np
import pytest
from conftest import checked_poisson_clone

from face_pipeline.vision import poisson


def smooth(h, w, seed, lo=0.25, hi=0.75):
    rng = np.random.default_rng(seed)
    out = cv2.resize(rng.random((6, 6, 3), dtype=np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    return (lo + (hi - lo) * (out - out.min()) / (out.max() - out.min())).astype(np.float32)


def square(h, w, y0, y1, x0, x1, value=1.0):
    mask = np.zeros((h, w), np.float32)
    mask[y0:y1, x0:x1] = value
    return mask


def test_neighbour_sum_counts_the_four_neighbours():
    assert poisson._neighbour_sum(np.ones((3, 3), np.float32)).tolist() == [
        [2, 3, 2], [3, 4, 3], [2, 3, 2]]
    x = np.arange(9, dtype=np.float32).reshape(3, 3)
    assert poisson._neighbour_sum(x)[1, 1] == 1 + 3 + 5 + 7
    assert poisson._neighbour_sum(np.ones((3, 4, 3), np.float32)).shape == (3, 4, 3)
    single = poisson._neighbour_sum(np.ones((3, 4, 1), np.float32))
    assert single.shape == (3, 4, 1) and single[0, 0, 0] == 2


def test_guidance_divergence_of_ramps_and_the_stronger_gradient():
    ramp = np.tile(np.arange(5, dtype=np.float32)[None, :, None], (4, 1, 3)) * 0.1
    div = poisson._guidance_divergence(ramp, ramp, "normal")
    assert np.allclose(div[:, 1:-1], 0, atol=1e-6)                       # linear: no divergence inside
    assert np.allclose(div[:, 0], -0.1, atol=1e-6) and np.allclose(div[:, -1], 0.1, atol=1e-6)
    rows = np.transpose(ramp, (1, 0, 2))                      # the same along y
    div_y = poisson._guidance_divergence(rows, rows, "normal")
    assert np.allclose(div_y[1:-1], 0, atol=1e-6) and np.allclose(div_y[0], -0.1, atol=1e-6)
    flat = np.zeros_like(ramp)
    assert np.allclose(poisson._guidance_divergence(flat, ramp, "normal"), 0, atol=1e-6)
    mixed = poisson._guidance_divergence(flat, ramp, "mixed")     # the target's is stronger
    assert np.allclose(mixed, div, atol=1e-6)
    assert np.allclose(poisson._guidance_divergence(ramp, flat, "mixed"), div, atol=1e-6)
    tie = poisson._guidance_divergence(ramp, -ramp, "mixed")      # equal lengths: the source's
    assert np.allclose(tie, div, atol=1e-6)
    colour = np.zeros_like(ramp)
    colour[..., 0] = 0.3 * ramp[..., 0]                       # 0.03 per step, one channel
    weak = ramp * 0.2                                         # 0.02 per step, all three
    assert np.allclose(poisson._guidance_divergence(weak, colour, "mixed"),   # by length
                       poisson._guidance_divergence(weak, weak, "normal"), atol=1e-6)


def test_mixed_guidance_picks_per_neighbour_pair_by_length_over_channels():
    """The rule written out pair by pair (module docstring), on random images."""
    rng = np.random.default_rng(11)
    source = rng.random((5, 6, 3), dtype=np.float32) * rng.random((5, 6, 1), dtype=np.float32)
    target = rng.random((5, 6, 3), dtype=np.float32) * 0.6
    want = np.zeros_like(source)
    for (y, x) in np.ndindex(5, 6):
        for dy, dx in ((0, 1), (1, 0)):
            if y + dy >= 5 or x + dx >= 6:
                continue
            ds = source[y + dy, x + dx] - source[y, x]
            dt = target[y + dy, x + dx] - target[y, x]
            v = ds if (ds * ds).sum() >= (dt * dt).sum() else dt
            want[y, x] -= v
            want[y + dy, x + dx] += v
    got = poisson._guidance_divergence(source, target, "mixed")
    assert np.allclose(got, want, atol=1e-6)
    assert not np.allclose(got, poisson._guidance_divergence(source, target, "normal"))


def test_push_pull_keeps_known_pixels_and_fills_smoothly():
    values = smooth(20, 24, 1)
    assert np.allclose(poisson.push_pull(values, np.ones((20, 24), bool)), values, atol=1e-5)
    known = np.zeros((20, 24), bool)
    known[7, 9] = True
    one = poisson.push_pull(np.full((20, 24, 3), 0.4, np.float32), known)
    assert np.allclose(one, 0.4, atol=1e-4)                  # a single value fills everything
    sides = np.zeros((20, 24, 3), np.float32)
    sides[:, :3], sides[:, -3:] = 0.2, 0.8
    mask = np.zeros((20, 24), bool)
    mask[:, :3] = mask[:, -3:] = True
    fill = poisson.push_pull(sides, mask)[10, :, 0]
    assert np.allclose(fill[:3], 0.2, atol=1e-3) and np.allclose(fill[-3:], 0.8, atol=1e-3)
    assert np.all(np.diff(fill) >= -1e-4) and 0.35 < fill[12] < 0.65


def test_solve_finds_the_solution_of_small_systems():
    region = np.zeros((3, 3), bool)
    region[1, 1] = True
    degree = poisson._neighbour_sum(np.ones((3, 3), np.float32))
    rhs = np.zeros((3, 3), np.float32)
    rhs[1, 1] = 2.0
    x = poisson.solve(rhs, region, degree, np.zeros((3, 3), np.float32))
    assert x[1, 1] == pytest.approx(0.5, abs=1e-5) and np.count_nonzero(x) == 1
    start = np.full((3, 3), 7.0, np.float32)
    kept = poisson.solve(rhs, region, degree, start, max_iterations=0)
    assert kept[1, 1] == 7.0 and np.count_nonzero(kept) == 1   # the start, inside only
    # 2 x 2 block: 4 x - (two neighbours) = 1 -> x = 1/2 each
    block = np.zeros((4, 4), bool)
    block[1:3, 1:3] = True
    deg = poisson._neighbour_sum(np.ones((4, 4), np.float32))
    sol = poisson.solve(np.where(block, 1.0, 0).astype(np.float32), block, deg,
                        np.zeros((4, 4), np.float32))
    assert np.allclose(sol[block], 0.5, atol=1e-4) and not sol[~block].any()
    loose = poisson.solve(np.where(block, 1.0, 0).astype(np.float32), block, deg,
                          np.zeros((4, 4), np.float32), tolerance=1.0)
    assert np.allclose(loose, 0)                              # already within the tolerance
    assert poisson.TOLERANCE == 1e-4 and poisson.MAX_ITERATIONS == 2000


def test_clone_refuses_unknown_modes_and_passes_empty_masks():
    t, s = smooth(16, 16, 2), smooth(16, 16, 3)
    with pytest.raises(ValueError, match=r"^unknown Poisson mode 'fast'; choose one of "
                       r"\['normal', 'mixed'\]$"):
        poisson.poisson_clone(t, s, np.ones((16, 16)), "fast")
    column = square(16, 16, 3, 13, 7, 8)                       # one pixel wide
    thin, region = poisson.poisson_clone(t, s, column)
    assert region.dtype == np.float32 and np.array_equal(region, column)
    assert not np.array_equal(thin[3:13, 7], t[3:13, 7])       # cloned, not passed through
    wide, _ = poisson.poisson_clone(t.astype(np.float64), s.astype(np.float64), column)
    assert wide.dtype == np.float32
    image, region = poisson.poisson_clone(t, s, np.full((16, 16), 0.5))   # > 0.5 only
    assert np.array_equal(image, t) and image is not t and region.dtype == np.float32
    assert not region.any()


@pytest.mark.parametrize("mode", ["normal", "mixed"])
def test_constant_and_linear_borders_give_the_harmonic_answer(mode):
    h, w = 40, 50
    mask = square(h, w, 8, 32, 10, 40)
    target = np.full((h, w, 3), 0.3, np.float32)
    flat_source = np.full((h, w, 3), 0.7, np.float32)
    image, region = poisson.poisson_clone(target, flat_source, mask, mode)
    assert np.array_equal(region, mask) and image.dtype == np.float32
    assert np.allclose(image, 0.3, atol=2e-3)                  # flat in flat: the border value
    ramp = np.tile(np.linspace(0.2, 0.8, w, dtype=np.float32)[None, :, None], (h, 1, 3))
    image, _ = poisson.poisson_clone(ramp, flat_source, mask, "normal")
    assert np.allclose(image, ramp, atol=2e-3)                 # linear border: linear inside


def test_the_source_detail_is_kept_and_the_outside_is_untouched():
    h, w = 48, 48
    target, source = smooth(h, w, 4), smooth(h, w, 5)
    mask = square(h, w, 10, 38, 12, 36)
    mask[20, 5] = 0.9                                          # a second, one-pixel region
    image, region, interior = checked_poisson_clone(target, source, mask)
    edge = (region > 0) & ~interior
    assert np.abs(image[edge] - target[edge]).mean() < np.abs(source[edge] - target[edge]).mean()
    assert np.abs(image[20, 5] - target[20, 5]).max() < 0.05   # the lone pixel meets its ring


def test_mixed_keeps_a_target_edge_under_a_flat_source():
    h, w = 40, 40
    target = np.full((h, w, 3), 0.3, np.float32)
    target[:, 20:] = 0.7                                       # a vertical edge
    flat = np.full((h, w, 3), 0.5, np.float32)
    flat += np.random.default_rng(3).uniform(-0.004, 0.004, flat.shape).astype(np.float32)
    mask = square(h, w, 8, 32, 8, 32)
    normal, _ = poisson.poisson_clone(target, flat, mask, "normal")
    mixed, _ = poisson.poisson_clone(target, flat, mask, "mixed")
    assert abs(mixed[20, 21, 0] - mixed[20, 18, 0]) > 0.3      # the step survives
    assert abs(normal[20, 21, 0] - normal[20, 18, 0]) < 0.1    # smoothed away


def test_masks_on_the_image_border_and_clipping():
    h, w = 32, 40
    target = smooth(h, w, 6)
    mask = square(h, w, 0, 20, 0, 15)                          # the top-left corner
    image, region = poisson.poisson_clone(target, target - 0.2, mask)
    assert np.isfinite(image).all() and np.abs(image - target).max() < 3e-3
    bright = np.full((h, w, 3), 0.95, np.float32)
    spot = bright.copy()
    spot[10:20, 15:25] = 3.0                                   # a source far above 1
    clipped, _ = poisson.poisson_clone(bright, spot, square(h, w, 5, 25, 10, 30))
    assert clipped.max() <= 1.0 and clipped.min() >= 0.0 and clipped[15, 20, 0] == 1.0
    dark = np.full((h, w, 3), 0.05, np.float32)
    hole = dark.copy()
    hole[10:20, 15:25] = -2.0                                  # a source far below 0
    low, _ = poisson.poisson_clone(dark, hole, square(h, w, 5, 25, 10, 30))
    assert low.min() == 0.0 and low[15, 20, 0] == 0.0
    everything, _ = poisson.poisson_clone(target, target + 0.1, np.ones((h, w)))
    assert np.isfinite(everything).all()                       # no fixed border at all
    assert np.allclose(everything - everything.mean((0, 1)), target + 0.1 -
                       (target + 0.1).mean((0, 1)), atol=2e-3)   # only an offset is free
