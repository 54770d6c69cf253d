"""The ONNX swapper slot with a tiny model of inswapper_128's signature.

The tiny model outputs ``0.5 * target + latent[:3] (per channel) + ramp(y, x)``: the latent it
received shows in the colour offset, and the position ramp shows how sub-images were woven.
"""
import numpy as np
import pytest
from tiny_models import SWAP_SIZE as SIZE
from tiny_models import tiny_inswapper

from face_pipeline.models import registry, swappers
from face_pipeline.models.onnx import unload_all


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    emap = rng.normal(size=(512, 512)).astype(np.float32)
    ramp = tiny_inswapper(tmp_path / "inswapper_128.onnx", emap)
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    unload_all()
    return swappers.load_swapper("inswapper_128", device="cpu"), emap, ramp


def _expected_latent(embedding, emap):
    emb = embedding / np.linalg.norm(embedding)
    latent = emb @ emap
    return latent / np.linalg.norm(latent)


def test_latent_is_the_embedding_through_the_last_initializer(tiny):
    swapper, emap, ramp = tiny
    embedding = np.random.default_rng(1).normal(size=512) * 7.0  # not normalised on purpose
    want = _expected_latent(embedding, emap)
    np.testing.assert_allclose(swapper.latent(embedding)[0], want, atol=1e-5)
    crop = 0.3 + 0.4 * np.random.default_rng(2).random((SIZE, SIZE, 3)).astype(np.float32)
    out = swapper(crop, embedding)
    # what the model received: output - 0.5 * target - ramp = latent[c] in channel c
    received = (out - 0.5 * crop - ramp[..., None]).mean((0, 1))
    np.testing.assert_allclose(received, want[:3], atol=1e-5)


@pytest.mark.parametrize("boost", [2, 4])
def test_pixel_boost_interleaves_sub_images(tiny, boost):
    swapper, emap, ramp = tiny
    embedding = np.ones(512)
    want = _expected_latent(embedding, emap)[:3]
    size = SIZE * boost
    crop = 0.3 + 0.4 * np.random.default_rng(3).random((size, size, 3)).astype(np.float32)
    out = swapper(crop, embedding)
    assert out.shape == (size, size, 3)
    # every sub-image crop[dy::k, dx::k] went through the model whole: the model's position
    # ramp repeats per k x k block of the big crop
    woven = np.repeat(np.repeat(ramp, boost, 0), boost, 1)[..., None]
    np.testing.assert_allclose(out, 0.5 * crop + want + woven, atol=1e-5)


def test_explode_implode_round_trip():
    crop = np.arange(8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
    tiles = swappers.explode(crop, 2)
    np.testing.assert_array_equal(tiles[1], crop[0::2, 1::2])
    np.testing.assert_array_equal(tiles[2], crop[1::2, 0::2])
    np.testing.assert_array_equal(swappers.implode(tiles, 2), crop)


def test_wrong_crop_size_and_missing_model(tiny, tmp_path, monkeypatch):
    swapper, _, _ = tiny
    with pytest.raises(ValueError, match="square crops"):
        swapper(np.zeros((100, 100, 3), np.float32), np.ones(512))
    with pytest.raises(ValueError, match="512-d"):
        swapper.latent(np.ones(128))
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path / "empty"))
    with pytest.raises(registry.ModelUnavailableError, match="inswapper_128.onnx"):
        swappers.load_swapper("inswapper_128", device="cpu", allow_download=False)
