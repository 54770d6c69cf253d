"""`vision/composite.py` on small synthetic frames: colour parsing, background placement
(fill / fit / stretch / none, position, uncovered colour), the over operator, light wrap and
light matching.  Outcomes (which pixels, which values, which error), written to kill
behaviour-changing mutants (issue 15 item 4).
"""
import math

import cv2
import numpy as np
import pytest

from face_pipeline.vision import composite
from face_pipeline.vision.color import transfer_color

RNG = np.random.default_rng(7)


def noise(h, w):
    return RNG.uniform(0, 1, (h, w, 3)).astype(np.float32)


def test_parse_color_reads_hex_and_names_the_input_when_wrong():
    assert np.allclose(composite.parse_color("#2a6f97"), np.array([0x2A, 0x6F, 0x97]) / 255)
    assert np.allclose(composite.parse_color("  FF0080 "), [1.0, 0.0, 128 / 255])
    assert composite.parse_color("#000001").dtype == np.float32
    for bad in ("#12345", "#1234567", "#gg0000", "#XX0000", "", None, "red"):
        with pytest.raises(ValueError, match=r"^background_color: expected a hex colour like "
                           r"'#2a6f97', got " + repr(bad).replace("(", r"\(") + "$"):
            composite.parse_color(bad)


def test_place_refuses_an_unknown_fit():
    with pytest.raises(ValueError, match=r"^fit: unknown mode 'cover'; choose one of "
                       r"\['fill', 'fit', 'stretch', 'none'\]$"):
        composite.place(noise(4, 4), (4, 4), "cover")


def test_place_stretch_resizes_with_area_down_and_linear_up():
    bg = noise(12, 16)
    down = composite.place(bg, (6, 8), "stretch")
    assert np.allclose(down, cv2.resize(bg, (8, 6), interpolation=cv2.INTER_AREA))
    up = composite.place(bg, (30, 40), "stretch")
    assert np.allclose(up, cv2.resize(bg, (40, 30), interpolation=cv2.INTER_LINEAR))
    tall = composite.place(bg, (24, 8), "stretch")   # narrower but taller: width decides
    assert np.allclose(tall, cv2.resize(bg, (8, 24), interpolation=cv2.INTER_AREA))
    same_width = composite.place(bg, (30, 16), "stretch")
    assert np.allclose(same_width, cv2.resize(bg, (16, 30), interpolation=cv2.INTER_LINEAR))


def test_place_fill_covers_the_frame_and_crops_at_the_position():
    bg = noise(10, 20)                                   # wide image, square frame: same scale
    assert np.array_equal(composite.place(bg, (10, 10), "fill"), bg[:, 5:15])
    assert np.array_equal(composite.place(bg, (10, 10), "fill", x=0.0), bg[:, :10])
    assert np.array_equal(composite.place(bg, (10, 10), "fill", x=1.0), bg[:, 10:])
    tall = noise(20, 10)
    assert np.array_equal(composite.place(tall, (10, 10), "fill", y=0.0), tall[:10])
    assert np.array_equal(composite.place(tall, (10, 10), "fill", y=1.0), tall[10:])
    big = composite.place(bg, (20, 20), "fill", x=0.0)   # enlarged 2x (linear), cropped
    assert np.allclose(big, cv2.resize(bg, (40, 20), interpolation=cv2.INTER_LINEAR)[:, :20])
    small = composite.place(noise(40, 80), (10, 10), "fill")
    assert small.shape == (10, 10, 3) and small.dtype == np.float32
    assert np.array_equal(composite.place(bg, (10, 10)), bg[:, 5:15])    # default: fill
    third = noise(10, 8)                                 # 1.5x up (linear), cropped
    want = cv2.resize(third, (12, 15), interpolation=cv2.INTER_LINEAR)[:, 1:11]
    assert np.allclose(composite.place(third, (15, 10), "fill"), want)


def test_place_fit_letterboxes_with_the_colour():
    bg, red = noise(10, 20), np.array([1.0, 0, 0], np.float32)
    top = composite.place(bg, (10, 10), "fit", y=0.0, color=red)
    assert np.allclose(top[:5], cv2.resize(bg, (10, 5), interpolation=cv2.INTER_AREA))
    assert np.all(top[5:] == red)
    bottom = composite.place(bg, (10, 10), "fit", y=1.0, color=red)
    assert np.all(bottom[:5] == red) and not np.any(np.all(bottom[5:] == red, axis=-1))
    default = composite.place(bg, (10, 10), "fit", y=0.0)
    assert np.all(default[5:] == 0)                      # default colour black
    side = composite.place(noise(20, 10), (10, 10), "fit", x=1.0, color=red)
    assert np.all(side[:, :5] == red) and not np.any(np.all(side[:, 5:] == red, axis=-1))
    line = composite.place(noise(1, 100), (10, 10), "fit", y=0.0, color=red)
    assert not np.any(np.all(line[0] == red, axis=-1)) and np.all(line[1:] == red)
    post = composite.place(noise(100, 1), (10, 10), "fit", x=0.0, color=red)
    assert not np.any(np.all(post[:, 0] == red, axis=-1)) and np.all(post[:, 1:] == red)
    wide = noise(10, 30)                                 # a third: area, not linear
    fitted = composite.place(wide, (10, 10), "fit", y=0.0)
    assert np.allclose(fitted[:3], cv2.resize(wide, (10, 3), interpolation=cv2.INTER_AREA))
    assert fitted.dtype == np.float32


def test_place_none_keeps_the_size_at_the_position():
    bg, blue = noise(4, 6), np.array([0, 0, 1.0], np.float32)
    corner = composite.place(bg, (8, 10), "none", x=0.0, y=0.0, color=blue)
    assert np.array_equal(corner[:4, :6], bg) and np.all(corner[4:] == blue)
    assert np.all(corner[:, 6:] == blue)
    far = composite.place(bg, (8, 10), "none", x=1.0, y=1.0, color=blue)
    assert np.array_equal(far[4:, 4:], bg) and np.all(far[:4] == blue)
    big = noise(8, 8)
    assert np.array_equal(composite.place(big, (4, 4), "none"), big[2:6, 2:6])
    assert np.array_equal(composite.place(big, (4, 4), "none", x=0.0, y=1.0), big[4:, :4])
    outside = composite.place(bg, (8, 10), "none", x=5.0, color=blue)   # pushed out of frame
    assert np.all(outside == blue)


def test_over_is_exact_at_alpha_0_and_1_and_linear_between():
    f, b = noise(3, 4), noise(3, 4)
    alpha = np.array([[0.0, 1.0, 0.25, 0.5]] * 3)
    out = composite.over(f, alpha, b)
    assert out.dtype == np.float32
    assert np.array_equal(out[:, 0], b[:, 0]) and np.array_equal(out[:, 1], f[:, 1])
    assert np.allclose(out[:, 2], 0.25 * f[:, 2] + 0.75 * b[:, 2])
    assert np.allclose(out[:, 3], 0.5 * (f[:, 3] + b[:, 3]))


def test_light_wrap_screens_the_background_light_by_amount_alpha_and_edge():
    image = np.full((32, 32, 3), 0.2, np.float32)
    assert composite.light_wrap(image, np.ones((32, 32), np.float32), image, 0.0) is image
    # half-transparent everywhere over a plain background: light = the background colour,
    # edge zone = 1 - alpha = 0.5 everywhere -> image + amount * 0.25 * (screen - image)
    half, grey = np.full((32, 32), 0.5, np.float32), np.full((32, 32, 3), 0.6, np.float32)
    screen = 1 - 0.8 * 0.4
    out = composite.light_wrap(image, half, grey, 0.8)
    assert out.dtype == np.float32 and np.allclose(out, 0.2 + 0.8 * 0.25 * (screen - 0.2),
                                                   atol=1e-5)
    assert np.allclose(composite.light_wrap(image, half, np.zeros_like(grey), 1.0), image)
    # a solid subject: its edge brightens, its middle and the background stay as they were
    alpha = np.zeros((64, 64), np.float32)
    alpha[16:48, 16:48] = 1.0
    image, white = np.full((64, 64, 3), 0.2, np.float32), np.ones((64, 64, 3), np.float32)
    soft, wide = (composite.light_wrap(image, alpha, white, 1.0, radius=r) for r in (4, 12))
    assert np.allclose(soft[alpha == 0], 0.2) and np.allclose(soft[32, 32], 0.2, atol=1e-3)
    assert soft[16, 32, 0] > 0.4 and soft[16, 32, 0] > soft[19, 32, 0] > soft[24, 32, 0]
    assert wide[22, 32, 0] > soft[22, 32, 0] + 0.05                  # a larger radius reaches deeper
    colour = np.zeros((64, 64, 3), np.float32)
    colour[..., 2] = 1.0                                            # a blue background
    blue = composite.light_wrap(image, alpha, colour, 1.0)
    assert blue[16, 32, 2] > 0.4 and np.allclose(blue[16, 32, :2], 0.2)
    assert np.array_equal(blue, composite.light_wrap(image, alpha, colour, 1.0, radius=12.0))


def test_light_wrap_falls_off_as_a_gaussian_of_the_radius():
    """Black subject right of a vertical edge, white background: the light reaching ``d`` px
    inside is ``1 - Phi(d / radius)`` (a Gaussian edge of sigma = radius)."""
    alpha = np.zeros((64, 256), np.float32)
    alpha[:, 128:] = 1
    image = np.zeros((64, 256, 3), np.float32)
    for radius in (8, 16):
        out = composite.light_wrap(image, alpha, np.ones_like(image), 1.0, radius=radius)
        for d in (0, 2, 8, 16, 32):
            want = 0.5 * math.erfc((d + 0.5) / radius / math.sqrt(2))
            assert abs(out[32, 128 + d, 0] - want) < 0.005, (radius, d)
        assert np.allclose(out[:, :128], 0)


def test_match_light_moves_the_subject_toward_the_background_by_amount():
    f = np.clip(noise(24, 24) * 0.3 + 0.1, 0, 1)
    b = np.clip(noise(24, 24) * 0.3 + 0.6, 0, 1)
    alpha = np.zeros((24, 24), np.float32)
    alpha[4:20, 4:20] = 1
    assert composite.match_light(f, alpha, b, 0.0) is f
    full = composite.match_light(f, alpha, b, 1.0)
    matched = transfer_color(f, b, alpha, "reinhard")
    assert np.allclose(full, matched, atol=1e-6) and not np.allclose(full, f, atol=0.1)
    half = composite.match_light(f, alpha, b, 0.5)
    assert half.dtype == np.float32 and np.allclose(half, (f + matched) / 2, atol=1e-6)
