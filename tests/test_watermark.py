"""`vision/watermark.py` on synthetic frames: grid choice, the fixed per-grid pattern, the
one-grey-level embedding (exact levels, clipping, in place), and detection scores on marked,
resized and unmarked frames (issue 15 item 4: outcomes that kill behaviour-changing mutants).
"""
import cv2
import numpy as np
import pytest

from face_pipeline.vision import watermark as wm


def texture(h, w, seed=0):
    """A smooth random picture (detail at several scales) in 0.2..0.8."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w), np.float32)
    for cells in (4, 16, 64):
        out += cv2.resize(rng.random((cells, cells), dtype=np.float32), (w, h),
                          interpolation=cv2.INTER_CUBIC)
    out = 0.2 + 0.6 * (out - out.min()) / (out.max() - out.min())
    return np.repeat(out[..., None], 3, axis=-1)


def test_grid_for_picks_the_finest_grid_with_cells_of_4_px():
    assert wm.GRIDS == (32, 48, 64, 96, 128) and wm.MIN_CELL == 4
    assert wm.grid_for(128, 128) == 32 and wm.grid_for(191, 1000) == 32
    assert wm.grid_for(192, 192) == 48 and wm.grid_for(1000, 300) == 64
    assert wm.grid_for(384, 400) == 96 and wm.grid_for(512, 512) == 128
    assert wm.grid_for(4000, 3000) == 128 and wm.grid_for(100, 50) == 32


def test_patterns_are_fixed_balanced_signs_per_grid():
    for grid in wm.GRIDS:
        p = wm._pattern(grid)
        want = np.random.default_rng(wm.SEED + grid).choice([-1.0, 1.0], (grid, grid))
        assert p.shape == (grid, grid) and p.dtype == np.float32 and np.array_equal(p, want)
        assert set(np.unique(p)) == {-1.0, 1.0} and abs(p.mean()) < 0.1
        assert not p.flags.writeable
    assert wm.SEED == 0x5A17F00D


def test_field_stretches_the_grid_over_the_frame_in_flat_cells():
    f = wm.field(256, 320)                                    # grid 64: 4 x 5 px cells
    assert f.shape == (256, 320) and f.dtype == np.float32 and not f.flags.writeable
    assert np.array_equal(f[::4, ::5], wm._pattern(64))
    assert np.array_equal(f[3::4, 4::5], wm._pattern(64))
    offsets = wm._offsets(256, 320, 3)
    assert offsets.shape == (256, 320, 3) and not offsets.flags.writeable
    assert np.array_equal(offsets[..., 2], np.where(f > 0, 1.0, -0.5))
    assert wm._offsets(256, 320, 1).shape[-1] == 1 or wm._offsets(256, 320, 1).ndim == 2


def test_embed_moves_each_pixel_one_level_on_the_8_bit_grid():
    f = wm.field(256, 256)
    levels = np.random.default_rng(1).integers(1, 255, (256, 256, 3)).astype(np.float32)
    marked = wm.embed(levels / 255)
    assert marked.dtype == np.float32
    assert np.allclose(marked * 255, levels + f[..., None], atol=1e-3)   # exactly +-1 level
    x = np.random.default_rng(2).random((256, 256, 3), dtype=np.float32)   # between levels
    x = x.astype(np.float64)                                 # (float32 values: exact floors)
    out = wm.embed(x) * 255
    assert np.allclose(out, np.round(out), atol=1e-3)                 # on the 8-bit grid
    assert np.abs(out - np.round(255 * x)).max() <= 1 + 1e-3
    assert np.abs(out - np.floor(255 * x)).max() <= 1 + 1e-3
    up = f[..., None] > 0
    want = np.clip(np.where(up, np.floor(255 * x) + 1, np.round(255 * x) - 1), 0, 255)
    assert np.allclose(out, want, atol=1e-3)
    black, white = np.zeros((256, 256, 3), np.float32), np.ones((256, 256, 3), np.float32)
    assert np.allclose(wm.embed(black) * 255, np.where(up, 1, 0), atol=1e-4)   # clipped at 0
    assert np.allclose(wm.embed(white) * 255, np.where(up, 255, 254), atol=1e-4)
    frame = (levels / 255).astype(np.float32)
    same = wm.embed(frame, out=frame)
    assert same is frame and np.allclose(frame, marked)


def test_score_finds_the_mark_after_resizing_but_not_on_unmarked_frames():
    picture = texture(512, 512)
    marked = wm.embed(picture)
    z = wm.score(marked)
    assert z > 20 and wm.detect(marked)
    half = cv2.resize(marked, (256, 256), interpolation=cv2.INTER_AREA)
    assert wm.score(half) > wm.THRESHOLD and wm.detect(half)
    assert wm.score(marked[..., 0]) == pytest.approx(z, rel=1e-4)        # grey input
    for seed in range(3):
        clean = texture(512, 512, seed)
        assert abs(wm.score(clean)) < 4 and not wm.detect(clean)
    assert abs(wm.score(np.random.default_rng(5).random((300, 300, 3)))) < 4
    assert abs(wm.score(np.full((300, 300, 3), 0.5, np.float32))) < 4
    assert wm.score(np.random.default_rng(6).random((20, 40, 3))) == 0.0  # under every grid
    assert wm.THRESHOLD == 5.0


def test_flat_areas_count_more_than_busy_ones():
    picture = texture(512, 512)
    picture[:, 256:] += np.random.default_rng(9).normal(0, 0.08, (512, 256, 3)).astype(np.float32)
    marked = wm.embed(np.clip(picture, 0, 1))
    flat_half = wm._grid_score(marked[:, :256].mean(-1), 64)
    busy_half = wm._grid_score(marked[:, 256:].mean(-1), 64)
    assert flat_half > 2 * busy_half and wm.score(marked) > wm.THRESHOLD


def test_grids_as_large_as_the_frame_count_and_blank_frames_score_0(monkeypatch):
    tiny = wm.embed(np.full((32, 32, 3), 0.5, np.float32))      # one pixel per cell
    assert wm._grid_score(tiny.mean(-1), 32) > wm.THRESHOLD
    assert wm.score(tiny) > wm.THRESHOLD
    assert wm._grid_score(np.zeros((64, 64), np.float32), 32) == 0.0   # nothing to correlate
    assert wm.score(np.zeros((64, 64, 3), np.float32)) == 0.0
    monkeypatch.setattr(wm, "score", lambda image: wm.THRESHOLD)
    assert not wm.detect(tiny)                                  # "above" the threshold
