"""`vision/image.py`: IMAGE/MASK checks (every message), channel handling, uint8/float frame
conversions (rounding, clipping, read-only views) and batch builders, on tiny tensors.
Outcomes (values, errors, which frame is named), written to kill behaviour-changing mutants
(issue 15 item 4).
"""
import cv2
import numpy as np
import pytest
import torch

from face_pipeline.vision import image as im


def test_ensure_finite_passes_finite_values_and_refuses_nan_and_inf():
    values = np.zeros((2, 3), np.float32)
    assert im.ensure_finite(values) is values
    for bad in (np.nan, np.inf, -np.inf):
        values[1, 2] = bad
        with pytest.raises(im.NonFinitePixels, match="^non-finite pixels in a model input$"):
            im.ensure_finite(values)
    assert issubclass(im.NonFinitePixels, ValueError)


def test_check_image_messages_name_the_input():
    with pytest.raises(ValueError, match=r"^image: expected an IMAGE tensor, got ndarray$"):
        im.check_image(np.zeros((1, 2, 2, 3)))
    with pytest.raises(ValueError, match=r"^src: expected IMAGE of shape \[B,H,W,C\] with C in "
                       r"1\.\.4, got \(2, 2, 3\)$"):
        im.check_image(torch.zeros(2, 2, 3), "src")
    for c in (0, 5):
        with pytest.raises(ValueError, match=rf"^image: expected IMAGE .* got \(1, 2, 2, {c}\)$"):
            im.check_image(torch.zeros(1, 2, 2, c))
    for shape in ((0, 2, 2, 3), (1, 0, 2, 3), (1, 2, 0, 3)):
        with pytest.raises(ValueError, match=rf"^image: the image batch is empty "
                           rf"\(\({shape[0]}, {shape[1]}, {shape[2]}, 3\)\)$"):
            im.check_image(torch.zeros(shape))
    for c in (1, 2, 3, 4):
        im.check_image(torch.zeros(1, 2, 2, c))
    nan = torch.zeros(1, 2, 2, 3)
    nan[0, 0, 0, 0] = float("nan")
    im.check_image(nan, finite=False)
    with pytest.raises(ValueError, match=r"^image: frame 0 has 1 NaN/inf"):
        im.check_image(nan)


def test_check_mask_batches_2d_masks_and_refuses_the_rest():
    mask = im.check_mask(torch.ones(3, 4))
    assert mask.shape == (1, 3, 4)
    three = torch.ones(2, 3, 4)
    assert im.check_mask(three) is three
    with pytest.raises(ValueError, match=r"^mask: expected a MASK of shape \[B,H,W\], got "
                       r"\(1, 2, 3, 4\)$"):
        im.check_mask(torch.ones(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"^m: expected a MASK of shape \[B,H,W\], got list$"):
        im.check_mask([[1.0]], "m")
    with pytest.raises(ValueError, match=r"^mask: expected a MASK .*, got \(2, 2\)$"):
        im.check_mask(np.ones((2, 2)))   # a shape, but not a tensor
    with pytest.raises(ValueError, match=r"^mask: the mask is empty \(\(1, 0, 4\)\)$"):
        im.check_mask(torch.ones(0, 4))
    with pytest.raises(ValueError, match=r"^mask: the mask is empty \(\(0, 3, 4\)\)$"):
        im.check_mask(torch.ones(0, 3, 4))
    bad = torch.ones(2, 3, 4)
    bad[1, 0, :2] = float("inf")
    with pytest.raises(ValueError, match=r"^alpha: frame 1 has 2 NaN/inf pixel\(s\)\. A VAE"):
        im.check_mask(bad, "alpha")


def test_check_finite_counts_bad_pixels_of_the_first_bad_frame():
    frames = torch.zeros(4, 3, 3, 3)
    frames[1, 0, 0, :] = float("nan")          # one pixel, three channels
    frames[1, 2, 2, 1] = float("-inf")
    frames[3, 1, 1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^x: frame 1 has 2 NaN/inf pixel\(s\) \(and 1 more "
                       r"frame\(s\)\)\. A VAE decode in half precision can produce them: decode "
                       r"in float32 \(ComfyUI's --fp32-vae\) or repair the frames before this "
                       r"node$"):
        im.check_finite(frames, "x")
    one = torch.zeros(2, 3, 3, 3, dtype=torch.float64)
    one[0, 1, 1, 2] = float("inf")
    with pytest.raises(ValueError, match=r"^y: frame 0 has 1 NaN/inf pixel\(s\)\. A VAE"):
        im.check_finite(one, "y")
    half = torch.zeros(1, 2, 2, 3, dtype=torch.float16)
    half[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^h: frame 0 has 1 NaN"):
        im.check_finite(half, "h")
    brain = torch.zeros(1, 2, 2, 3, dtype=torch.bfloat16)   # the torch path
    brain[0, 1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^b: frame 0 has 1 NaN"):
        im.check_finite(brain, "b")
    im.check_finite(torch.full((2, 64, 64, 3), 3e38, dtype=torch.bfloat16), "big")  # sum overflows
    im.check_finite(torch.full((1, 64, 64, 3), 6e4, dtype=torch.float16), "big")
    im.check_finite(torch.zeros(1, 2, 2, 3, dtype=torch.uint8), "ints")


def test_all_finite_on_the_cpu_reads_max_and_min_without_overflow():
    assert im._all_finite(torch.zeros(3)) and im._all_finite(torch.zeros(3, dtype=torch.int32))
    assert im._all_finite(torch.full((8,), 3e38))              # numpy max/min: no sum to overflow
    assert not im._all_finite(torch.tensor([0.0, float("nan")]))
    assert not im._all_finite(torch.tensor([0.0, float("-inf")], dtype=torch.float64))


def test_to_rgb_repeats_grey_and_drops_alpha():
    grey = np.arange(4, dtype=np.float32).reshape(2, 2, 1)
    assert np.array_equal(im.to_rgb(grey), np.repeat(grey, 3, axis=-1))
    grey_alpha = np.concatenate([grey, np.full_like(grey, 9)], axis=-1)
    assert np.array_equal(im.to_rgb(grey_alpha), np.repeat(grey, 3, axis=-1))
    rgba = np.arange(16, dtype=np.float32).reshape(2, 2, 4)
    assert np.array_equal(im.to_rgb(rgba), rgba[..., :3])


def test_frame_uint8_rounds_clips_and_drops_alpha():
    values = torch.tensor([0.0, 0.2, 0.4998, 0.5021, 1.0, 1.5, -0.3, 254.6 / 255])
    frames = torch.zeros(2, 1, 8, 4)
    frames[1, 0, :, 0] = values
    frames[1, 0, :, 3] = 0.7                                     # alpha: dropped
    out = im.frame_uint8(frames, 1)
    assert out.dtype == np.uint8 and out.shape == (1, 8, 3) and out.flags.c_contiguous
    assert out[0, :, 0].tolist() == [0, 51, 127, 128, 255, 255, 0, 255]
    assert not out[..., 1:].any() and not im.frame_uint8(frames, 0).any()
    grey = im.frame_uint8(frames[..., :1].to(torch.float16), 1)
    assert grey[0, 1].tolist() == [51, 51, 51]
    brain = im.frame_uint8(frames.to(torch.bfloat16), 1)          # numpy has no bfloat16
    assert brain[0, 1].tolist() == [51, 0, 0]


def test_as_uint8_keeps_uint8_and_shapes():
    frame = np.zeros((2, 3), np.uint8)
    assert im.as_uint8(frame) is frame
    out = im.as_uint8(np.array([[0.5, 0.25], [2.0, -1.0]], np.float64))
    assert out.dtype == np.uint8 and out.tolist() == [[128, 64], [255, 0]]
    four = im.as_uint8(np.full((2, 2, 4), 0.2, np.float32))
    assert four.shape == (2, 2, 4) and (four == 51).all()


def test_area_rows_are_opencvs_area_weights():
    for height, out in ((10, 3), (7, 2), (100, 7), (9, 4)):
        starts, weights = im._area_rows(height, out)
        assert weights.dtype == np.float32 and np.allclose(weights.sum(1), 1.0, atol=1e-6)
        column = np.random.default_rng(height).random((height, 1), dtype=np.float32)
        mine = np.array([weights[d] @ column[s:s + weights.shape[1], 0]
                         for d, s in enumerate(starts)])
        want = cv2.resize(column, (1, out), interpolation=cv2.INTER_AREA)[:, 0]
        assert np.allclose(mine, want, atol=1e-6)


def test_shrink_area_falls_back_to_opencv_and_handles_both_axes():
    rng = np.random.default_rng(3)
    for frame, size in ((rng.random((40, 30, 3), dtype=np.float32), (15, 20)),  # < 4x taller
                        (rng.random((40, 30, 3)), (10, 5)),                     # float64
                        (rng.random((40, 30), dtype=np.float32), (10, 5)),       # 2-D
                        (rng.random((40, 30, 3), dtype=np.float32), (30, 10)),   # width kept
                        (rng.random((41, 30, 3), dtype=np.float32), (7, 10)),
                        (rng.random((41, 30, 3), dtype=np.float32), (30, 10)),   # both paths
                        (rng.random((30, 20, 3), dtype=np.float32), (20, 17)),   # 1.76x
                        ((rng.random((40, 30, 3)) * 255).astype(np.uint8), (30, 5)),
                        (rng.random((40, 30, 3), dtype=np.float32), (60, 5))):   # wider out
        want = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        got = im.shrink_area(frame, size)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.allclose(got, want, atol=1e-6)


def test_frame_float_is_a_read_only_rgb_float32_frame():
    frames = torch.rand(2, 3, 4, 4)
    out = im.frame_float(frames, 1)
    assert out.dtype == np.float32 and np.array_equal(out, frames[1, ..., :3].numpy())
    assert not out.flags.writeable and out.flags.c_contiguous
    grey = im.frame_float(frames[..., :1].double(), 0)
    assert grey.dtype == np.float32 and np.allclose(grey[..., 2], frames[0, ..., 0].numpy())


def test_unit_scale_and_builders():
    assert im.unit_scale(np.zeros(1, np.uint8)) == pytest.approx(1 / 255)
    assert im.unit_scale(np.zeros(1, np.float32)) == 1.0
    with pytest.raises(ValueError, match="^cannot build an IMAGE from an empty list of frames$"):
        im.to_image([])
    with pytest.raises(ValueError, match="^cannot build a MASK from an empty list$"):
        im.to_mask([])
    batch = im.to_image([np.full((2, 2, 3), 51, np.uint8),
                         np.array([[[-1.0, 0.5, 2.0]] * 2] * 2, np.float64)])
    assert batch.dtype == torch.float32 and batch.shape == (2, 2, 2, 3)
    assert torch.allclose(batch[0], torch.tensor(0.2)) and batch[1, 0, 0].tolist() == [0, 0.5, 1]
    mask = im.to_mask([np.array([[-0.5, 0.25], [1.0, 3.0]], np.float64)])
    assert mask.dtype == torch.float32 and mask.tolist() == [[[0, 0.25], [1, 1]]]
    image = im.empty_image(2, 3, 4)
    assert image.dtype == torch.float32 and image.shape == (2, 3, 4, 3)
    assert im.empty_image(1, 2, 2, 4).shape == (1, 2, 2, 4)
    blank = im.empty_mask(2, 3, 4)
    assert blank.dtype == torch.float32 and blank.shape == (2, 3, 4)
