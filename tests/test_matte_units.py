"""Matte nodes' batch functions (pipeline/matte.py) on small synthetic frames with known
answers: arguments reach the per-frame functions, the head region's geometry, the report,
composite placement and light, WebM rate / quality / alpha levels, exact error messages.
Fast (about a second): the mutation subset of the matte modules (tools/mutation/modules.txt)."""
import re

import cv2
import numpy as np
import pytest
import torch
from matte_synthetic import green_screen, mse, sad

from face_pipeline.pipeline import matte as ops
from face_pipeline.vision import chroma_key as keying
from face_pipeline.vision import composite as comp
from face_pipeline.vision import matte
from face_pipeline.vision.face import Face, FaceSet


def exactly(text: str) -> str:
    """``pytest.raises(match=...)`` pattern for the whole message ``text``."""
    return "^" + re.escape(text) + "$"


def _face(box) -> Face:
    return Face(box=np.array(box, np.float32), score=1.0, keypoints=np.zeros((5, 2), np.float32))


def _screen_frame(green=(26, 204, 26), size=(48, 64)) -> np.ndarray:
    """A flat screen (uint8 RGB ``green``) with a grey opaque square: float32 0..1."""
    frame = np.empty((*size, 3), np.float32)
    frame[:] = np.float32(green) / 255
    frame[14:34, 20:44] = 0.5
    return frame


# ---- chroma key ---------------------------------------------------------------------------

def test_chroma_key_passes_every_option_to_the_keyer():
    c = green_screen(0)
    frame = c.image
    options = dict(tolerance=0.2, softness=0.5, clean_up=0)
    fg, alpha, _ = ops.chroma_key(torch.from_numpy(frame)[None], "auto", despill="max",
                                  despill_strength=0.5, **options)
    want = keying.chroma_key(frame, None, despill_method="max", despill_amount=0.5, **options)
    assert np.array_equal(alpha[0].numpy(), want.alpha)
    assert np.array_equal(fg[0].numpy(), want.foreground)
    # each option on its own changes the result (so none may be dropped on the way)
    base = keying.chroma_key(frame, None)
    for changed in (dict(tolerance=0.2), dict(softness=0.5), dict(clean_up=0),
                    dict(despill_method="max"), dict(despill_amount=0.5)):
        other = keying.chroma_key(frame, None, **changed)
        assert not (np.array_equal(other.alpha, base.alpha)
                    and np.array_equal(other.foreground, base.foreground)), changed
    for name, value in (("tolerance", 0.2), ("softness", 0.5), ("clean_up", 0),
                        ("despill", "max"), ("despill_strength", 0.5)):
        got = ops.chroma_key(torch.from_numpy(frame)[None], **{name: value})
        assert not (torch.equal(got[0][0], torch.from_numpy(base.foreground))
                    and torch.equal(got[1][0], torch.from_numpy(base.alpha))), name


def test_chroma_key_picks_the_auto_key_once_and_reports_it():
    first = _screen_frame((26, 204, 26))
    second = _screen_frame((26, 178, 26))      # a darker screen: keyed with the first's key
    image = torch.from_numpy(np.stack([first, second]))
    _, _, report = ops.chroma_key(image)
    assert report == "frame 0: key #1acc1a, tolerance 0.05\nframe 1: key #1acc1a, tolerance 0.05"
    _, _, report = ops.chroma_key(image[1:], "#1AB21A", tolerance=0.1)
    assert report == "frame 0: key #1ab21a, tolerance 0.10"


# ---- portrait matte -----------------------------------------------------------------------

def test_portrait_matte_gives_the_model_its_options(monkeypatch):
    calls = []

    def fake_load(model, device, allow_download):
        calls.append((model, device, allow_download))
        return lambda frame, resolution: np.full(frame.shape[:2], resolution / 1000, np.float32)

    monkeypatch.setattr(ops, "load_matte_model", fake_load)
    alpha = ops.portrait_matte(torch.zeros(2, 4, 6, 3), "some_model", 320, "cpu", False)
    assert calls == [("some_model", "cpu", False)]
    assert torch.allclose(alpha, torch.full((2, 4, 6), 0.32))


# ---- head region and refinement around heads ----------------------------------------------

def test_head_region_is_an_ellipse_above_each_face_box():
    # box 40 wide, 20 high at (40, 60): centre (60, 66), half-axes 40 x 20
    region = ops.head_region([_face([40, 60, 80, 80])], (120, 160))
    assert region.dtype == bool
    inside = [(66, 60), (66 + 19, 60), (66 - 19, 60), (66, 60 + 39), (66, 60 - 39)]
    outside = [(66 + 22, 60), (66 - 22, 60), (66, 60 + 42), (66, 60 - 42), (0, 0), (119, 159)]
    assert all(region[p] for p in inside) and not any(region[p] for p in outside)
    assert abs(int(region.sum()) - np.pi * 40.5 * 20.5) < 0.02 * np.pi * 40.5 * 20.5
    assert not region[:, 102:].any() and not region[:45].any()
    # two faces: the union of their ellipses
    both = ops.head_region([_face([40, 60, 80, 80]), _face([120, 10, 130, 20])], (120, 160))
    assert both[13, 125] and not region[13, 125] and np.array_equal(both[:, :100], region[:, :100])
    assert not ops.head_region([], (10, 12)).any()


def test_refine_matte_widens_the_band_around_heads_and_passes_its_options():
    rng = np.random.default_rng(0)
    h, w = 96, 128
    frame = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    mask = np.zeros((h, w), np.float32)
    mask[30:80, 20:110] = 1.0
    faces = FaceSet(frames=((_face([30, 35, 60, 55]),),), image_sizes=((h, w),))
    image, m = torch.from_numpy(frame)[None], torch.from_numpy(mask)[None]
    fg, alpha, tri = ops.refine_matte(image, m, band=3, radius=4, eps=0.01, faces=faces,
                                      hair_band=12)
    wide = ops.head_region(faces.frames[0], (h, w))
    want_alpha, want_tri = matte.refine_alpha(frame, mask, 3, radius=4, eps=0.01, wide=wide,
                                              wide_band=12)
    assert np.array_equal(alpha[0].numpy(), want_alpha)
    assert np.array_equal(tri[0].numpy(), want_tri)
    assert np.array_equal(fg[0].numpy(), matte.estimate_foreground(frame, want_alpha))
    # 8 px above the top edge: unknown over the head, known background elsewhere
    assert tri[0, 22, 45] == 0.5 and tri[0, 22, 100] == 0.0
    assert tri[0, 28, 100] == 0.5 and tri[0, 26, 100] == 0.0          # band 3 away from heads
    plain = ops.refine_matte(image, m, band=3)[2]
    assert plain[0, 22, 45] == 0.0
    with pytest.raises(ValueError, match="FACES has 1 frame"):
        ops.refine_matte(image.expand(2, -1, -1, -1), m, faces=faces)


# ---- composite ----------------------------------------------------------------------------

def _gradient(h, w) -> torch.Tensor:
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    return torch.from_numpy(np.dstack([yy / h, xx / w, 1 - yy / h]))[None]


def test_composite_places_the_background_at_the_centre_by_default():
    fg = torch.zeros(1, 20, 40, 3)
    bg = _gradient(10, 10)
    image, _ = ops.composite(fg, torch.zeros(1, 20, 40), bg)
    want = comp.place(bg[0].numpy(), (20, 40), "fill", 0.5, 0.5)
    assert np.array_equal(image[0].numpy(), want)
    # one background per frame, frames with a height unlike their count
    two = torch.cat([bg, 1 - bg])
    image, _ = ops.composite(fg.expand(2, -1, -1, -1), torch.zeros(1, 20, 40), two)
    assert np.array_equal(image[1].numpy(), comp.place(1 - bg[0].numpy(), (20, 40), "fill"))


def test_composite_light_wrap_and_match_light_follow_the_composite_functions():
    rng = np.random.default_rng(1)
    fg = rng.uniform(0.0, 0.3, (1, 24, 32, 3)).astype(np.float32)
    fg[..., 0] += 0.6                                       # a red subject on a blue background
    alpha = np.zeros((1, 24, 32), np.float32)
    alpha[:, 6:18, 8:24] = 1.0
    alpha[:, 5, 8:24] = 0.5
    bg = np.zeros((1, 24, 32, 3), np.float32)
    bg[..., 2] = 0.9
    out, rgba = ops.composite(torch.from_numpy(fg), torch.from_numpy(alpha),
                              torch.from_numpy(bg), light_wrap=0.7, match_light=0.6)
    f, a, b = fg[0], alpha[0], bg[0]
    matched = comp.match_light(f, a, b, 0.6)
    want = comp.light_wrap(comp.over(matched, a, b), a, b, 0.7)
    assert np.allclose(out[0].numpy(), want, atol=1e-6)
    assert np.allclose(rgba[0, ..., :3].numpy(), np.clip(matched, 0, 1), atol=1e-6)
    assert not np.allclose(want, comp.over(matched, a, b))   # the wrap did something


def test_composite_rgba_is_clipped_to_0_1():
    """An overshooting foreground (upscaler ringing) gives 0..1 rgba colours."""
    fg = torch.full((1, 8, 8, 3), 1.3)
    fg[..., 1] = -0.2
    _, rgba = ops.composite(fg, torch.ones(1, 8, 8))
    assert torch.equal(rgba[0, 0, 0], torch.tensor([1.0, 0.0, 1.0, 1.0]))


def test_composite_errors_name_the_input():
    fg, mask = torch.zeros(3, 8, 8, 3), torch.zeros(3, 8, 8)
    with pytest.raises(ValueError, match=exactly(
            "background has a batch of 2 but the foreground has 3: give one background for "
            "all frames or one per frame")):
        ops.composite(fg, mask, torch.zeros(2, 8, 8, 3))
    with pytest.raises(ValueError, match=r"^background: expected IMAGE"):
        ops.composite(fg, mask, torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match=exactly(
            "face_poisson needs faces: connect the FACES of Face Landmarks "
            "(or set face_poisson to 'off')")):
        ops.composite(fg, mask, face_poisson="normal")
    with pytest.raises(ValueError, match=r"^face_poisson: unknown mode 'soft'; choose one of "):
        ops.composite(fg, mask, face_poisson="soft")


# ---- WebM with alpha ----------------------------------------------------------------------

def _read(path):
    import av
    from conftest import read_webm_alpha

    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return read_webm_alpha(path), rate


def test_save_webm_alpha_levels_rate_and_quality(tmp_path):
    pytest.importorskip("av")
    h, w = 32, 48
    alpha = np.zeros((2, h, w), np.float32)
    alpha[:, :, 16:32] = 100.4 / 255                 # flat areas: the alpha plane is exact
    alpha[:, :, 32:] = 1.0
    grey = np.full((2, h, w, 3), 0.5, np.float32)
    path = tmp_path / "flat"                         # no extension: the format is given
    assert ops.save_webm_alpha(path, torch.from_numpy(grey), torch.from_numpy(alpha), fps=12.5) == 2
    decoded, rate = _read(path)
    assert rate == 12.5
    assert set(np.unique(decoded[:, :, :16, 3])) == {0}
    assert set(np.unique(decoded[:, :, 16:32, 3])) == {100}
    assert set(np.unique(decoded[:, :, 32:, 3])) == {255}
    # an RGBA batch carries its own alpha; the default rate is 24 fps
    rgba = torch.from_numpy(np.concatenate([grey, alpha[..., None]], -1))
    ops.save_webm_alpha(tmp_path / "rgba.webm", rgba)
    decoded2, rate = _read(tmp_path / "rgba.webm")
    assert rate == 24 and np.array_equal(decoded2[..., 3], decoded[..., 3])
    # colours round to the nearest level (through VP9's YUV: compared with the level itself)
    for level in (100, 180):
        v = np.float32((level + 0.4) / 255)
        ops.save_webm_alpha(tmp_path / f"c{level}.webm", torch.full((1, h, w, 3), v),
                            torch.ones(1, h, w))
        ops.save_webm_alpha(tmp_path / f"r{level}.webm", torch.full((1, h, w, 3), level / 255),
                            torch.ones(1, h, w))
        assert np.array_equal(_read(tmp_path / f"c{level}.webm")[0],
                              _read(tmp_path / f"r{level}.webm")[0])
    # crf sets the quality: noise costs many more bytes at crf 4 than at crf 60
    noise = torch.rand(3, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    sizes = {}
    for crf in (0, 4, 60, 63):
        ops.save_webm_alpha(tmp_path / f"q{crf}.webm", noise, torch.ones(3, 64, 64), crf=crf)
        sizes[crf] = (tmp_path / f"q{crf}.webm").stat().st_size
    assert sizes[4] > 3 * sizes[60] and sizes[0] >= sizes[4] and sizes[63] <= sizes[60]


def test_save_webm_alpha_errors(tmp_path, monkeypatch):
    pytest.importorskip("av")
    rgb, mask = torch.zeros(1, 8, 8, 3), torch.zeros(1, 8, 8)
    with pytest.raises(ValueError, match=exactly(
            "Save WebM (alpha): the image has no alpha channel: connect "
            "Composite's rgba output, or give the alpha as mask")):
        ops.save_webm_alpha(tmp_path / "a.webm", rgb)
    for crf in (-1, 64):
        with pytest.raises(ValueError, match=exactly(f"crf: {crf} is outside 0..63")):
            ops.save_webm_alpha(tmp_path / "a.webm", rgb, mask, crf=crf)
    with pytest.raises(ValueError, match=exactly("fps: 0 must be above 0")):
        ops.save_webm_alpha(tmp_path / "a.webm", rgb, mask, fps=0)
    assert ops.save_webm_alpha(tmp_path / "slow.webm", rgb, mask, fps=0.5) == 1
    assert _read(tmp_path / "slow.webm")[1] == 0.5
    import av

    monkeypatch.setattr(av, "codecs_available", set())
    with pytest.raises(RuntimeError, match=exactly(
            "this PyAV build has no libvpx-vp9 encoder: install PyAV's own "
            "wheel (pip install av), or save the rgba frames as a PNG "
            "sequence with Save Image")):
        ops.save_webm_alpha(tmp_path / "a.webm", rgb, mask)
    monkeypatch.setitem(__import__("sys").modules, "av", None)
    with pytest.raises(RuntimeError, match=exactly(
            "Save WebM (alpha) needs PyAV (the 'av' package, which ComfyUI "
            "itself installs): pip install av")):
        ops.save_webm_alpha(tmp_path / "a.webm", rgb, mask)


# ---- vision/matte.py: trimap, guided filter, refinement, foreground -----------------------

def _square(size=(60, 60), top=20, bottom=40, left=20, right=40, dtype=np.float32):
    mask = np.zeros(size, dtype)
    mask[top:bottom, left:right] = 1.0
    return mask


def test_trimap_band_is_measured_in_pixels_from_the_edge():
    tri = matte.trimap(_square(), 3)
    assert tri.dtype == np.float32
    col = tri[:, 30]
    # rows 20..39 are the subject: 3 px to the background at row 22, 4 px at row 23
    assert col[22] == 0.5 and col[23] == 1.0 and col[36] == 1.0 and col[37] == 0.5
    assert col[17] == 0.5 and col[16] == 0.0 and col[42] == 0.5 and col[43] == 0.0
    row = tri[30]
    assert row[17] == 0.5 and row[16] == 0.0 and row[42] == 0.5 and row[43] == 0.0
    assert row[22] == 0.5 and row[23] == 1.0 and row[37] == 0.5
    # a subject touching the frame's corner keeps its band and its known inside
    corner = matte.trimap(_square(top=0, bottom=20, left=0, right=20), 3)
    assert corner[0, 0] == 1.0 and corner[0, 21] == 0.5 and corner[21, 0] == 0.5
    assert corner[0, 23] == 0.0
    # a one-pixel line is all band
    line = np.zeros((30, 30), np.float32)
    line[5:25, 15] = 1.0
    t = matte.trimap(line, 2)
    assert t[15, 15] == 0.5 and t[15, 17] == 0.5 and t[15, 18] == 0.0
    assert not matte.trimap(np.zeros((8, 8), np.float32), 3).any()


def test_trimap_soft_values_and_the_hard_edge_at_one_half():
    mask = _square(dtype=np.float64)
    mask[:10] = 0.02           # exactly 0.02: known background
    mask[45:] = 0.98           # exactly 0.98: ... and known foreground, away from the edge
    mask[12:14, 5] = 0.3       # soft: unknown
    tri = matte.trimap(mask, 3)
    assert tri[5, 30] == 0.0 and tri[55, 30] == 1.0 and tri[12, 5] == 0.5
    # a ring of exactly 0.5 is below the hard edge (not subject): the band is 3 px from 1.0
    ring = np.zeros((60, 60), np.float32)
    ring[10:50, 10:50] = 0.5
    ring[25:35, 25:35] = 1.0
    t = matte.trimap(ring, 3)
    assert t[30, 21] == 0.0 + 0.5 and t[30, 5] == 0.0   # inside the ring: soft -> unknown


def test_trimap_is_wider_where_asked():
    mask = _square(size=(80, 80), top=30, bottom=60, left=20, right=60)
    wide = np.zeros((80, 80), bool)
    wide[:, :40] = True
    tri = matte.trimap(mask, 2, wide, 8)
    assert tri[23, 30] == 0.5 and tri[23, 50] == 0.0       # 7 px above: band only where wide
    assert tri[21, 30] == 0.0
    assert np.array_equal(matte.trimap(mask, 8, wide, 2), matte.trimap(mask, 8))
    assert np.array_equal(matte.trimap(mask, 0, wide), matte.trimap(mask, 0))


def test_guided_coefficients_resolution_and_regularisation():
    rng = np.random.default_rng(2)
    guide = rng.uniform(0, 1, (40, 60, 3)).astype(np.float32)
    source = np.ascontiguousarray(guide[..., 0])
    assert matte.guided_coefficients(guide, source, 4, 1e-3, subsample=1).shape == (40, 60, 4)
    assert matte.guided_coefficients(guide, source, 4, 1e-3, subsample=0).shape == (40, 60, 4)
    assert matte.guided_coefficients(guide, source, 4, 1e-3, subsample=3).shape == (13, 20, 4)
    assert matte.guided_coefficients(guide[:, :3], source[:, :3], 4, 1e-3,
                                     subsample=2).shape == (20, 1, 4)
    assert matte.guided_coefficients(guide[:3], source[:3], 4, 1e-3,
                                     subsample=2).shape == (1, 30, 4)
    # the source is the guide's red channel: tiny eps gives a = (1, 0, 0), b = 0 ...
    exact = matte.guided_coefficients(guide, source, 4, 1e-6, subsample=1)
    assert exact.dtype == np.float32
    assert np.allclose(exact[10:30, 10:50], [1, 0, 0, 0], atol=0.02)
    # ... a larger eps shrinks a toward 0 (var / (var + eps), var ~ 1/12 here)
    shrunk = matte.guided_coefficients(guide, source, 4, 0.05, subsample=1)[10:30, 10:50, 0]
    assert 0.45 < shrunk.mean() < 0.75 and shrunk.max() < 1.0


def test_refine_alpha_is_the_guided_filter_in_the_band_and_stays_in_0_1():
    rng = np.random.default_rng(4)
    frame = rng.uniform(0, 1, (64, 80, 3)).astype(np.float32)
    mask = _square(size=(64, 80), top=16, bottom=48, left=20, right=60)
    alpha, tri = matte.refine_alpha(frame, mask, 4, radius=3, eps=1e-4)
    assert np.array_equal(tri, matte.trimap(mask, 4))
    known = tri != 0.5
    assert np.array_equal(alpha[known], tri[known])
    coef = matte.guided_coefficients(frame, mask, 3, 1e-4)
    up = cv2.resize(coef, (80, 64), interpolation=cv2.INTER_LINEAR)
    raw = (up[..., :3] * frame).sum(-1) + up[..., 3]
    band = ~known
    assert raw[band].min() < 0 and raw[band].max() > 1          # the filter overshoots ...
    assert np.allclose(alpha[band], np.clip(raw[band], 0, 1), atol=1e-4)   # ... clipped
    other, _ = matte.refine_alpha(frame, mask, 4, radius=8, eps=1e-4)
    assert not np.allclose(other, alpha)
    other, _ = matte.refine_alpha(frame, mask, 4, radius=3, eps=1e-1)
    assert not np.allclose(other, alpha)


def _two_colour_composite(h, w):
    """A red subject (disc with a soft 30 px edge) over a green background: I = aF + (1-a)B."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    r = np.hypot(yy - h / 2, xx - w / 2)
    alpha = np.clip((0.3 * min(h, w) - r) / 30 + 0.5, 0, 1).astype(np.float32)
    fg = np.float32([0.8, 0.2, 0.1])
    bg = np.float32([0.1, 0.8, 0.2])
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return image.astype(np.float32), alpha, fg


@pytest.mark.parametrize("size", [(200, 240), (1080, 1120)])
def test_estimate_foreground_recovers_the_subject_colour(size):
    image, alpha, fg = _two_colour_composite(*size)
    out = matte.estimate_foreground(image, alpha)
    assert out.shape == image.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    opaque = alpha >= 1 - matte.SOFT
    if min(size) >= 4 * matte.WORK_SIDE:         # worked at half size: opaque pixels exact
        assert np.array_equal(out[opaque], image[opaque])
    else:
        assert np.abs(out[opaque] - image[opaque]).max() < 0.005
    soft = (alpha > 0.05) & (alpha < 0.95)
    error, raw = np.abs(out[soft] - fg).mean(), np.abs(image[soft] - fg).mean()
    assert error < 0.07 and error < 0.3 * raw                  # measured 0.054..0.060 / 0.24
    near = (alpha == 0) & (cv2.dilate(alpha, np.ones((5, 5), np.uint8)) > 0)
    assert np.abs(out[near] - fg).mean() < 0.1                 # blur_F just outside


def test_box_mean_and_field_sampling_at_the_borders():
    impulse = np.zeros((9, 11), np.float32)
    impulse[4, 5] = 1.0
    box = matte._box(impulse, 2)
    assert np.allclose(box[2:7, 3:8], 1 / 25) and box.sum() == pytest.approx(1.0)
    assert box[1, 5] == 0 and box[4, 2] == 0 and box[4, 8] == 0 and box[7, 5] == 0
    corner = np.zeros((6, 6), np.float32)
    corner[0, 0] = 1.0
    # reflected border (abc|cba): the corner pixel counts 4 times in the corner's 3x3 mean
    assert matte._box(corner, 1)[0, 0] == pytest.approx(4 / 9)
    field = np.arange(12, dtype=np.float32).reshape(3, 4) / 11
    index = np.arange(6 * 8)
    got = matte.sample_field(field, index, (6, 8))
    want = cv2.resize(field, (8, 6), interpolation=cv2.INTER_LINEAR).reshape(-1)
    assert got.shape == (48, 1) and np.allclose(got[:, 0], want, atol=1e-6)
    many = matte.sample_field(np.dstack([field, 1 - field]), np.arange(0, 6 * 8, 5), (6, 8))
    assert many.shape == (10, 2) and np.allclose(many.sum(1), 1.0)


# ---- vision/chroma_key.py: parsing, despill, unmix, the HSV baseline ----------------------

def test_parse_key_color():
    assert keying.parse_key_color("") is None and keying.parse_key_color(None) is None
    assert keying.parse_key_color("  AUTO ") is None
    key = keying.parse_key_color(" 00b140 ")
    assert key.dtype == np.float32 and np.allclose(key * 255, [0, 177, 64])
    assert np.allclose(keying.parse_key_color("#FF0080") * 255, [255, 0, 128])
    for bad in ("XXXX", "#00b14", "#00b1400", "green"):
        with pytest.raises(ValueError, match=exactly(
                f"key_color: expected 'auto' or a hex colour like '#00b140', got {bad!r}")):
            keying.parse_key_color(bad)


def test_despill_limits_the_key_channel():
    frame = np.array([[[0.3, 0.7, 0.2], [0.5, 0.2, 0.4]]], np.float32)
    avg = keying.despill(frame, 1)
    assert np.allclose(avg, [[[0.3, 0.25, 0.2], [0.5, 0.2, 0.4]]]) and avg is not frame
    assert np.allclose(keying.despill(frame, 1, "max"), [[[0.3, 0.3, 0.2], [0.5, 0.2, 0.4]]])
    assert np.allclose(keying.despill(frame, 1, "average", 0.5)[0, 0], [0.3, 0.475, 0.2])
    for method, amount in (("none", 1.0), ("average", 0.0), ("max", -1.0)):
        same = keying.despill(frame, 1, method, amount)
        assert np.array_equal(same, frame) and same is not frame and same.dtype == np.float32
    assert keying.despill(frame.astype(np.float64), 1).dtype == np.float32
    blue = np.array([[[0.2, 0.3, 0.9]]], np.float32)
    assert np.allclose(keying.despill(blue, 2), [[[0.2, 0.3, 0.25]]])
    u8 = (frame * 255).round().astype(np.uint8)
    out8 = keying.despill(u8, 1)
    assert out8.dtype == np.uint8 and out8[0, 0, 1] == 64 and np.array_equal(out8[0, 1], u8[0, 1])
    target = np.zeros_like(frame)
    assert keying.despill(frame, 1, out=target) is target and np.allclose(target, avg)
    assert frame[0, 0, 1] == np.float32(0.7)
    assert keying.despill(frame, 1, "none", out=target) is target and np.array_equal(target, frame)
    inplace = frame.copy()
    assert keying.despill(inplace, 1, out=inplace) is inplace and np.allclose(inplace, avg)
    with pytest.raises(ValueError, match=exactly(
            "despill: unknown method 'strong'; choose one of ['average', 'max', 'none']")):
        keying.despill(frame, 1, "strong")


def test_unmix_recovers_the_subject_behind_a_known_screen():
    plate = np.float32([0.1, 0.8, 0.1])
    subject = np.float32([0.5, 0.5, 0.5])
    mixed = 0.6 * subject + 0.4 * plate                        # 60 % subject over the screen
    greener = plate + [-0.02, 0.05, 0]                         # greener than the plate
    frame = np.stack([mixed, greener]).reshape(1, 2, 3).astype(np.float32)
    e8 = np.round(keying.excess(frame, 1) * 255).astype(np.uint8)
    plate_small = np.broadcast_to(plate, (2, 2, 3)).copy()
    e_screen = np.full((2, 2), 0.7, np.float32)
    out = keying._unmix(frame, e8, np.array([0, 1]), plate_small, e_screen)
    assert out.shape == (2, 1, 3) and out.dtype == np.uint8
    assert np.abs(out[0, 0].astype(int) - 127.5).max() <= 2          # the subject's grey
    assert out[1, 0, 1] == 255 and out[1, 0, 0] == 0                # share floored at UNMIX_MIN


def _hsv_pixel(h, s, v):
    import cv2 as _cv2
    return _cv2.cvtColor(np.float32([[[h, s, v]]]), _cv2.COLOR_HSV2RGB)[0, 0]


def test_hsv_key_thresholds_hue_saturation_and_value():
    green = np.float32([0.1, 0.8, 0.1])
    pixels = {"screen": _hsv_pixel(120, 0.9, 0.8), "near hue": _hsv_pixel(138, 0.9, 0.8),
              "far hue": _hsv_pixel(143, 0.9, 0.8), "grey": np.float32([0.5, 0.5, 0.5]),
              "pale": _hsv_pixel(120, 0.24, 0.8), "pale ok": _hsv_pixel(120, 0.27, 0.8),
              "dark": _hsv_pixel(120, 0.9, 0.14), "dark ok": _hsv_pixel(120, 0.9, 0.16),
              "mid": _hsv_pixel(118, 0.5, 0.5)}
    frame = np.stack(list(pixels.values()))[None].astype(np.float32)
    alpha = dict(zip(pixels, keying.hsv_key(frame, green)[0]))
    assert alpha == {"screen": 0, "near hue": 0, "far hue": 1, "grey": 1, "pale": 1,
                     "pale ok": 0, "dark": 1, "dark ok": 0, "mid": 0}
    assert keying.hsv_key(frame, green).dtype == np.float32
    assert keying.hsv_key(frame, green, hue_range=25.0)[0, 2] == 0
    assert keying.hsv_key(frame, green, min_saturation=0.3)[0, 5] == 1
    assert keying.hsv_key(frame, green, min_value=0.2)[0, 7] == 1
    # hue is an angle: a red key matches hues on both sides of 0 / 360
    red = np.float32([0.8, 0.1, 0.1])
    reds = np.stack([_hsv_pixel(h, 0.9, 0.8) for h in (350, 10, 25, 180)])[None]
    assert keying.hsv_key(reds, red)[0].tolist() == [0, 0, 1, 1]
    # the key from the border: the frame's green ring
    ring = np.zeros((20, 20, 3), np.float32) + green
    ring[8:12, 8:12] = 0.5
    assert np.array_equal(keying.hsv_key(ring), keying.hsv_key(ring, green))
    assert keying.hsv_key(ring)[10, 10] == 1 and keying.hsv_key(ring)[0, 0] == 0
    assert keying.hsv_key(ring.astype(np.float64), green.tolist()).dtype == np.float32


@pytest.fixture(scope="module")
def composite_1():
    c = green_screen(1)                 # not a calibration seed (100..103)
    return c, keying.chroma_key(c.image)


def test_key_alpha_and_colours_on_one_synthetic_composite(composite_1):
    """The same bounds as tests/test_matte.py's (SAD 4.5, MSE 0.006: the calibration seeds'
    worst plus ~30 %), on one composite."""
    c, k = composite_1
    assert sad(k.alpha, c.alpha) < 4.5 and mse(k.alpha, c.alpha) < 0.006
    assert k.alpha.dtype == np.float32 and k.alpha.min() >= 0 and k.alpha.max() <= 1
    assert sad(k.alpha, c.alpha) < 0.6 * sad(keying.hsv_key(c.image), c.alpha)
    soft = (c.alpha > 0.2) & (c.alpha < 0.8)
    assert np.abs(k.alpha[soft] - c.alpha[soft]).mean() < 0.25
    assert keying.excess(k.foreground, 1)[k.alpha > 0].max() <= 1e-6
    band = (c.alpha > 0.5) & (c.alpha < 0.95)
    assert np.abs(k.foreground[band] - c.foreground[band]).mean() < 0.15
    screen = (c.alpha == 0) & (k.alpha == 0)
    # the screen keeps its red and blue as shot (green: despilled)
    assert np.abs(k.foreground[screen][:, [0, 2]] - c.image[screen][:, [0, 2]]).max() <= 0.5 / 255 + 1e-6
    assert np.argmax(k.key) == 1 and 0.06 < k.tolerance < 0.5      # raised by the grain
    f = k.foreground[k.alpha > 0]                    # "average" despill: G <= (R + B) / 2
    assert (f[:, 1] - (f[:, 0] + f[:, 2]) / 2).max() <= 1 / 255
    assert keying.chroma_key(c.image, tolerance=2.0).tolerance == 0.95
    assert k.plate.shape[2] == 3 and max(k.plate.shape[:2]) == keying.PLATE_SIZE
    assert np.abs(np.median(k.plate.reshape(-1, 3), 0) - k.key).max() < 0.1


def test_key_writes_into_given_arrays_and_handles_any_size(composite_1):
    c, k = composite_1
    h, w = c.alpha.shape
    fg, alpha = np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
    got = keying.chroma_key(c.image, out=(fg, alpha))
    assert got.alpha is alpha and got.foreground is fg
    assert np.array_equal(alpha, k.alpha) and np.array_equal(fg, k.foreground)
    for size in ((1, 1), (2, 300), (300, 2), (7, 5)):
        frame = np.zeros((*size, 3), np.float32) + np.float32([0.1, 0.8, 0.1])
        assert keying.chroma_key(frame, np.float32([0.1, 0.8, 0.1])).alpha.max() == 0.0
    # a subject with no green in it: opaque and its own colours
    frame = _screen_frame()
    key = keying.chroma_key(frame)
    assert np.all(key.alpha[16:32, 22:42] == 1.0) and np.all(key.alpha[:8] == 0.0)
    assert np.allclose(key.foreground[16:32, 22:42], 0.5, atol=1 / 255)
    assert key.tolerance == pytest.approx(keying.TOLERANCE)


def test_key_options_act_as_documented(composite_1):
    c, k = composite_1
    soft = keying.chroma_key(c.image, softness=0.5)
    ramp = (k.alpha > 0.05) & (k.alpha < 0.95)
    assert ((soft.alpha > 0.05) & (soft.alpha < 0.95)).sum() < ramp.sum()   # a shorter ramp
    tight = keying.chroma_key(c.image, tolerance=0.3)
    assert tight.tolerance == pytest.approx(0.3) and tight.alpha.sum() < k.alpha.sum()
    raw = keying.chroma_key(c.image, clean_up=0)
    cleaned = keying.remove_small(raw.alpha, keying.CLEAN_UP)
    assert np.array_equal(cleaned, k.alpha)
    kept = keying.chroma_key(c.image, despill_method="none")
    assert keying.excess(kept.foreground, 1)[k.alpha > 0.99].max() > 0.02    # spill left in
    assert np.array_equal(kept.alpha, k.alpha)
    mild = keying.chroma_key(c.image, despill_method="max")
    assert np.all(keying.excess(mild.foreground, 1)[k.alpha > 0] <= 1e-6)
    half = keying.chroma_key(c.image, despill_amount=0.5)
    e_half = keying.excess(half.foreground, 1)[k.alpha > 0.99]
    assert e_half.max() > 0.0 and e_half.mean() < keying.excess(kept.foreground, 1)[k.alpha > 0.99].mean()
    with pytest.raises(ValueError, match=r"^despill: unknown method 'x'"):
        keying.chroma_key(c.image, despill_method="x")


def test_key_colour_helpers():
    assert keying.key_channel(np.float32([0.1, 0.2, 0.9])) == 2
    with pytest.raises(ValueError, match=exactly(
            "key_color [128, 128, 140] is nearly grey: a chroma key needs a saturated screen "
            "colour (green or blue)")):
        keying.key_channel(np.float32([128, 128, 140]) / 255)
    assert keying.key_channel(np.float32([128, 128, 142]) / 255) == 2
    frame = np.random.default_rng(0).uniform(0, 1, (6, 7, 3)).astype(np.float32)
    want = frame[..., 1] - np.maximum(frame[..., 0], frame[..., 2])
    assert np.allclose(keying.excess(frame, 1), want)
    assert np.allclose(keying.excess(frame.astype(np.float64), 1), want)
    assert np.allclose(keying.excess(frame[0], 0), frame[0, :, 0] - frame[0, :, 1:].max(1))
    inner = np.zeros((200, 200, 3), np.float32) + np.float32([0.1, 0.8, 0.1])
    inner[2:-2, 2:-2] = [0.1, 0.1, 0.9]        # green only 2 px deep: the 8 px ring is blue
    assert np.argmax(keying.border_key_color(inner)) == 2
    big = np.zeros((50, 50, 3), np.float32) + np.float32([0.1, 0.8, 0.1])
    big[5:-5, 5:-5] = [0.1, 0.1, 0.9]          # a large blue subject inside a green ring
    assert np.argmax(keying.border_key_color(big)) == 1
    ring = _screen_frame((20, 60, 200), size=(50, 50))
    ring[20:30, 20:30] = [0.9, 0.1, 0.1]
    assert np.allclose(keying.border_key_color(ring) * 255, [20, 60, 200], atol=0.5)
    grey = np.full((30, 30, 3), 0.5, np.float32)
    with pytest.raises(ValueError, match=exactly(
            "key_color 'auto': the image border shows no saturated screen colour; "
            "give key_color as a hex colour (e.g. '#00b140')")):
        keying.border_key_color(grey)


def test_remove_small_islands_and_holes():
    alpha = np.zeros((60, 60), np.float32)
    alpha[10:50, 10:50] = 1.0
    alpha[25:28, 25:28] = 0.0          # a 9 px hole
    alpha[2:4, 55:57] = 1.0            # a 4 px speck
    alpha[30:45, 0:3] = 0.0            # a gap at the border: not a hole
    alpha[30:45, 3:10] = 1.0
    for area, step_note in ((64, "half resolution"), (10, "full resolution")):
        out = keying.remove_small(alpha, area)
        assert out[26, 26] == 1.0 and out[3, 56] == 0.0 and out[35, 1] == 0.0, step_note
        assert out is not alpha and alpha[26, 26] == 0.0
    assert keying.remove_small(alpha, 9)[26, 26] == 0.0       # exactly the limit: kept as is
    assert keying.remove_small(alpha, 10)[26, 26] == 1.0
    assert keying.remove_small(alpha, 4)[3, 56] == 1.0 and keying.remove_small(alpha, 5)[3, 56] == 0.0
    same = alpha.copy()
    assert keying.remove_small(same, 64, out=same) is same and same[26, 26] == 1.0
    target = np.full_like(alpha, 7.0)
    assert keying.remove_small(alpha, 0, out=target) is target and np.array_equal(target, alpha)
    # every corner's speck is removed whole; a soft halo around a speck goes with it
    corners = np.zeros((40, 50), np.float32)
    corners[15:25, 15:35] = 1.0
    for ys, xs in ((slice(0, 2), slice(0, 2)), (slice(0, 2), slice(48, 50)),
                   (slice(38, 40), slice(0, 2)), (slice(38, 40), slice(48, 50))):
        corners[ys, xs] = 1.0
    corners[6:8, 6:8] = 1.0
    corners[5, 6:8] = corners[6:8, 5] = corners[8, 6:8] = corners[6:8, 8] = 0.6
    corners[6, 9] = 0.5
    out = keying.remove_small(corners, 64)
    assert out.sum() == 200 + 0.5 and out[6, 9] == 0.5
    assert out[0, 20] == 0.0 and out[39, 20] == 0.0
    # holes of exactly 0.5 are filled; soft subject pixels next to a hole are left
    holed = np.zeros((40, 50), np.float32)
    holed[10:30, 10:40] = 1.0
    holed[18:20, 20:22] = 0.5
    holed[18:20, 22] = 0.8
    out = keying.remove_small(holed, 64)
    assert np.all(out[18:20, 20:22] == 1.0) and np.all(out[18:20, 22] == 0.8)
    # areas are counted in full-resolution pixels at half resolution too
    island = np.zeros((40, 50), np.float32)
    island[10:16, 10:15] = 1.0                     # 30 px
    assert keying.remove_small(island, 25)[12, 12] == 1.0
    assert keying.remove_small(island, 40)[12, 12] == 0.0
    soft = alpha * 0.6                 # soft values are kept where nothing is removed
    assert np.array_equal(keying.remove_small(soft, 64)[40], soft[40])
