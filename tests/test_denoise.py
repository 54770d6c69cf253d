"""Denoise: the measured noise level falls close to the clean photo's and edges stay.

Calibration (H_PER_SIGMA, the estimator's accuracy) used scikit-image's chelsea, coffee, camera
and rocket photos; these tests assert on Grace Hopper and the astronaut (testdata)."""
import cv2
import numpy as np
import pytest
from conftest import as_image, load_rgb

from face_pipeline.nodes.denoise import Denoise
from face_pipeline.vision import denoise as dn

LEFT_SHARE = 0.25
"""At most this share of the noise added (measured sigma above the clean photo's) may remain."""
EDGE_SHARE = 0.8
"""Gradient energy on the clean photo's edges (its 10 % strongest) kept at least this share."""


def grad_energy(frame):
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.Sobel(grey, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(grey, cv2.CV_32F, 0, 1) ** 2


@pytest.mark.parametrize("path", ["faces/grace_hopper/1.jpg", "faces/nasa_astronaut/1.png"])
def test_denoise_lowers_noise_and_keeps_edges(path):
    clean = load_rgb(path)[:384, :384]
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 10, clean.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    result = dn.denoise(noisy)
    base = dn.estimate_noise(clean)
    assert result.method == "nlmeans" and result.sigma > base + 6  # sigma 10 (clipped) measured
    assert result.after - base <= LEFT_SHARE * (result.sigma - base)
    edges = grad_energy(clean) >= np.percentile(grad_energy(clean), 90)
    kept = grad_energy(result.frame)[edges].sum() / grad_energy(clean)[edges].sum()
    assert kept >= EDGE_SHARE
    # the test has teeth: a blur that removes as much noise loses the edges
    blurred = cv2.GaussianBlur(noisy, (0, 0), 1.5)
    assert dn.estimate_noise(blurred) - base <= 2 * LEFT_SHARE * (result.sigma - base)
    assert grad_energy(blurred)[edges].sum() / grad_energy(clean)[edges].sum() < EDGE_SHARE


def test_clean_frame_passes_through_and_node_reports():
    clean = load_rgb("faces/grace_hopper/1.jpg")[:128, :128]
    noisy = np.clip(clean + np.random.default_rng(2).normal(0, 12, clean.shape), 0, 255)
    image, report = Denoise().denoise(as_image(clean, noisy.astype(np.uint8)), "nlmeans", 1.0)
    assert np.abs(image[0].numpy() * 255 - clean).max() < 0.51  # unchanged
    assert "frame 0" in report and "passed through" in report.splitlines()[0]
    assert "nlmeans" in report.splitlines()[1]
    assert (image[1].numpy() * 255 - noisy).std() > 5  # frame 1 changed


def test_bm3d_is_optional():
    if dn.bm3d_available():
        pytest.skip("bm3d is installed here")
    assert dn.methods() == ["nlmeans"]
    with pytest.raises(ValueError, match="bm3d package"):
        dn.denoise(np.zeros((32, 32, 3), np.uint8), "bm3d")


def tiny_dncnn_state(nc: int = 4, convs: int = 9) -> dict:
    """KAIR's DnCNN layout (act_mode "R": conv, ReLU, ..., conv; output = x - model(x)), which
    spandrel recognises, with weights that make it a 3 x 3 box blur: identity convolutions,
    then a tail computing x - box(x)."""
    import torch
    state, ident = {}, torch.zeros(nc, nc, 3, 3)
    ident[range(nc), range(nc), 1, 1] = 1.0
    for k in range(convs - 1):
        state[f"model.{2 * k}.weight"] = ident[:, :3].clone() if k == 0 else ident.clone()
        state[f"model.{2 * k}.bias"] = torch.zeros(nc)
    tail = torch.zeros(3, nc, 3, 3)
    tail[range(3), range(3)] = -1.0 / 9
    tail[range(3), range(3), 1, 1] += 1.0
    state[f"model.{2 * (convs - 1)}.weight"], state[f"model.{2 * (convs - 1)}.bias"] = \
        tail, torch.zeros(3)
    return state


def test_learned_denoiser_slot_runs_a_tiny_dncnn(tmp_path, monkeypatch):
    """The manifest slot (dncnn_color_blind, file placed by hand) and a connected UPSCALE_MODEL
    run the same network: here a box blur, so the output is checkable to the grey level."""
    import torch
    from face_pipeline.models import cache, enhancers
    from face_pipeline.models.registry import ModelUnavailableError
    from face_pipeline.runner.torchvision_standin import ensure_torchvision
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    monkeypatch.delenv("FACE_PIPELINE_ALLOW_DOWNLOADS", raising=False)
    clean = load_rgb("faces/grace_hopper/1.jpg")[:96, :128]
    noisy = np.clip(clean + np.random.default_rng(2).normal(0, 10, clean.shape), 0, 255)
    noisy = np.round(noisy).astype(np.uint8)
    image = as_image(noisy)
    with pytest.raises(ModelUnavailableError, match="dncnn_color_blind.pth.*\n.*\n.*KAIR"):
        Denoise().denoise(image, "dncnn_color_blind", 1.0)
    torch.save(tiny_dncnn_state(), tmp_path / "dncnn_color_blind.pth")
    out, report = Denoise().denoise(image, "dncnn_color_blind", 1.0)
    expected = cv2.blur(noisy.astype(np.float32), (3, 3))
    got = out[0].numpy() * 255
    assert np.abs(got[1:-1, 1:-1] - expected[1:-1, 1:-1]).max() <= 0.51   # rounding only
    assert "upscale_model:DnCNN" in report
    assert dn.estimate_noise(np.round(got).astype(np.uint8)) < 0.5 * dn.estimate_noise(noisy)
    half = Denoise().denoise(image, "dncnn_color_blind", 0.5)[0][0].numpy() * 255
    assert np.abs(half - (noisy.astype(np.float32) + got) / 2).max() <= 1.01                    # strength mixes
    flat = as_image(np.full((64, 64, 3), 128, np.uint8))
    assert "clean, passed through" in Denoise().denoise(flat, "dncnn_color_blind", 1.0)[1]
    ensure_torchvision()
    model = enhancers.load_upscale_model_file(tmp_path / "dncnn_color_blind.pth")
    connected = Denoise().denoise(image, "nlmeans", 1.0, denoise_model=model)[0]
    assert torch.equal(connected, out)
    cache.clear()
