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
