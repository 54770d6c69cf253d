"""The ONNX swapper slot with a tiny model of inswapper_128's signature.

The tiny model outputs ``0.5 * target + latent[:3] (per channel) + ramp(y, x)``: the latent it
received shows in the colour offset, and the position ramp shows how sub-images were woven.
"""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from face_pipeline.models import registry, swappers

SIZE = 128


def _tiny_inswapper(path, emap):
    ramp = (np.add.outer(np.arange(SIZE), 3 * np.arange(SIZE)) / (16 * SIZE)).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["target", "half"], ["scaled"]),
        helper.make_node("Slice", ["source", "start", "stop", "axis"], ["rgb"]),
        helper.make_node("Reshape", ["rgb", "shape"], ["offset"]),
        helper.make_node("Add", ["scaled", "offset"], ["shifted"]),
        helper.make_node("Add", ["shifted", "ramp"], ["output"]),
    ]
    inits = [numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array([0], np.int64), "start"),
             numpy_helper.from_array(np.array([3], np.int64), "stop"),
             numpy_helper.from_array(np.array([1], np.int64), "axis"),
             numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape"),
             numpy_helper.from_array(ramp[None, None], "ramp"),
             numpy_helper.from_array(emap, "emap")]  # the last initializer, as in inswapper
    graph = helper.make_graph(
        nodes, "tiny_inswapper",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, SIZE, SIZE]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, SIZE, SIZE])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return ramp


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    emap = rng.normal(size=(512, 512)).astype(np.float32)
    ramp = _tiny_inswapper(tmp_path / "inswapper_128.onnx", emap)
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    swappers.latent_map.cache_clear()
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
