"""`vision/denoise.py` on synthetic frames: the noise estimate's channels, pass-through rules,
the strength, the documented OpenCV call, learned-denoiser mixing, and the optional bm3d glue
through a stand-in module (bm3d itself is never installed: non-commercial licence).  Issue 15
item 4: outcomes that kill behaviour-changing mutants.
"""
import sys
import types

import cv2
import numpy as np
import pytest

from face_pipeline.vision import denoise as dn


def noisy(sigma=12.0, seed=0, size=96):
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.uniform(60, 190, (6, 6, 3)), (size, size),
                      interpolation=cv2.INTER_CUBIC)
    return np.clip(np.round(base + rng.normal(0, sigma, base.shape)), 0, 255).astype(np.uint8)


@pytest.fixture
def fake_bm3d(monkeypatch):
    calls = []

    def bm3d_rgb(x, sigma_psd):
        calls.append((x.copy(), sigma_psd))
        out = np.full_like(x, 0.7)
        out[0, 0], out[0, 1], out[0, 2] = -0.1, 1.2, 0.0      # out of range and black
        return out

    monkeypatch.setitem(sys.modules, "bm3d", types.SimpleNamespace(bm3d_rgb=bm3d_rgb))
    return calls


def test_methods_list_bm3d_only_when_it_imports(monkeypatch, fake_bm3d):
    assert dn.bm3d_available() and dn.methods() == ["nlmeans", "bm3d"]
    monkeypatch.setitem(sys.modules, "bm3d", None)             # import bm3d -> ImportError
    assert not dn.bm3d_available() and dn.methods() == ["nlmeans"]
    with pytest.raises(ValueError, match=r"^method 'bm3d' needs the bm3d package \(pip install "
                       r"bm3d; its licence allows non-commercial use only\); or use 'nlmeans'$"):
        dn.denoise(noisy(), "bm3d")
    with pytest.raises(ValueError, match=r"^unknown denoise method 'median'; choose one of "
                       r"\['nlmeans'\]$"):
        dn.denoise(noisy(), "median")


def test_bm3d_gets_the_frame_in_0_1_and_sigma_in_0_1_units(fake_bm3d):
    frame = noisy()
    result = dn.denoise(frame, "bm3d", strength=1.5, sigma=10.0)
    (x, sigma_psd), = fake_bm3d
    assert x.dtype == np.float32 and np.allclose(x, frame / 255.0)
    assert sigma_psd == pytest.approx(15.0 / 255.0)
    assert result.method == "bm3d" and result.frame.dtype == np.uint8
    assert result.frame[0, 0].tolist() == [0, 0, 0] and result.frame[0, 1].tolist() == [255] * 3
    assert result.frame[0, 2].tolist() == [0] * 3 and result.frame[5, 5].tolist() == [178] * 3


def test_estimate_noise_reads_grey_and_rgb_but_not_alpha():
    frame = noisy(10.0)
    grey = frame[..., 1]
    assert dn.estimate_noise(grey) == pytest.approx(dn.estimate_noise(np.dstack([grey] * 3)))
    rgba = np.dstack([frame, np.random.default_rng(1).integers(0, 255, frame.shape[:2])])
    assert dn.estimate_noise(rgba.astype(np.uint8)) == pytest.approx(dn.estimate_noise(frame))
    assert 7 < dn.estimate_noise(frame) < 13


def test_pass_through_rules_and_the_given_sigma():
    frame = noisy(12.0)
    told = dn.denoise(frame, sigma=0.5)                       # told it is clean
    assert told.method == "none" and told.sigma == 0.5 and told.after == 0.5
    assert np.array_equal(told.frame, frame)
    off = dn.denoise(frame, strength=0.0)
    assert off.method == "none" and off.after == off.sigma and np.array_equal(off.frame, frame)
    edge = dn.denoise(frame, sigma=dn.MIN_SIGMA)              # at the limit: denoised
    assert edge.method == "nlmeans" and dn.MIN_SIGMA == 2.0
    assert dn.denoise(frame, sigma=12.0).sigma == 12.0


def test_nlmeans_is_the_documented_call_and_strength_scales_it():
    frame = noisy(12.0)
    result = dn.denoise(frame)
    h = dn.H_PER_SIGMA * result.sigma
    assert dn.H_PER_SIGMA == 0.7
    assert np.array_equal(result.frame, cv2.fastNlMeansDenoisingColored(frame, None, h, h, 7, 21))
    assert result.after == pytest.approx(dn.estimate_noise(result.frame))
    assert np.array_equal(dn.denoise(frame, strength=1.0).frame, result.frame)   # the default
    assert np.array_equal(dn.denoise(frame.astype(np.float64)).frame, result.frame)
    strong, weak = dn.denoise(frame, strength=2.0), dn.denoise(frame, strength=0.5)
    assert strong.after < result.after < weak.after


def test_a_learned_denoiser_is_mixed_in_by_strength_up_to_1():
    frame = noisy(12.0)
    grey = lambda tile: np.full_like(tile, 0.5)               # "denoises" to mid grey
    full = dn.denoise(frame, "my-net", 1.0, network=grey)
    assert full.method == "my-net" and (full.frame == 128).all()
    more = dn.denoise(frame, "my-net", 1.5, network=grey)     # capped at 1
    assert (more.frame == 128).all()
    half = dn.denoise(frame, "my-net", 0.5, network=grey)
    want = np.round((frame.astype(np.float32) / 255 + 0.5) / 2 * 255)
    assert np.abs(half.frame.astype(np.float32) - want).max() <= 1
    black = dn.denoise(frame, "my-net", 1.0, network=lambda tile: np.zeros_like(tile))
    assert (black.frame == 0).all()


# --------------------------------------------------------------------------- pipeline/denoise

def test_choices_are_the_methods_then_the_manifest_denoisers():
    from face_pipeline.models.denoisers import MODELS
    from face_pipeline.pipeline import denoise as ops
    assert MODELS and ops.choices() == dn.methods() + MODELS


def test_denoise_images_passes_device_and_download_choice_and_reports(monkeypatch):
    import torch
    from face_pipeline.pipeline import denoise as ops
    from face_pipeline.vision.image import to_image
    seen = []

    class Net:
        id, face_only, scale = "stand-in", False, 1

        def __call__(self, tile):
            return np.full_like(tile, 0.5)

    monkeypatch.setattr(ops, "load_denoiser",
                        lambda *args, **kw: seen.append(("load", args, kw)) or Net())
    monkeypatch.setattr(ops, "from_upscale_model",
                        lambda model, device: seen.append(("upscale", model, device)) or Net())
    flat, frame = np.full((32, 32, 3), 128, np.uint8), noisy(12.0, size=32)
    image = to_image([flat, frame])
    out, report = ops.denoise_images(image, ops.choices()[-1], 1.0, device="cpu",
                                     allow_download=False)
    assert seen == [("load", (ops.choices()[-1], "cpu", False), {})]
    lines = report.split("\n")
    assert lines[0] == "frame 0: noise sigma 0.0 -> clean, passed through"
    assert lines[1].startswith("frame 1: noise sigma ") and \
        lines[1].endswith(" -> stand-in, noise after 0.0")
    assert torch.equal(out[0], image[0]) and torch.allclose(out[1], torch.tensor(128 / 255))
    seen.clear()
    ops.denoise_images(image, "nlmeans", denoise_model="connected")
    assert seen == [("upscale", "connected", "auto")]
    seen.clear()
    default, _ = ops.denoise_images(image)
    plain, _ = ops.denoise_images(image, "nlmeans", 1.0)
    assert seen == [] and torch.equal(default, plain) and not torch.equal(plain[1], image[1])
