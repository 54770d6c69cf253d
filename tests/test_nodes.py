"""Every node class through the headless runner, with outcomes asserted (issue 15, item 6).

The example workflows (tests/test_workflows.py) cover detection, landmarks, alignment, preview,
embedding, gallery-from-folder search, gated blend, mesh-warp and one-node swaps; these graphs
cover the rest: compare, face models (build, save, load), galleries from images, edit, save,
load, reference selection, paste back, Poisson composite, face quality, region masks, unload,
download and portrait matte.  (Swap, enhance, upscale, watermark, tracking, denoise, the
surveillance report, chroma key, refine matte, composite and Save WebM run in example workflows
and in their own test files.)  A test-only ``Sink`` output node makes the runner execute nodes whose outputs
are not images.
"""
import shutil

import numpy as np
import pytest
import torch
from conftest import TESTDATA
from tiny_models import tiny_inswapper

from face_pipeline import NODE_CLASS_MAPPINGS
from face_pipeline.models import cache
from face_pipeline.runner import CORE_NODE_CLASS_MAPPINGS, ExecutionError, run_prompt

PHOTOS = {"obama1.jpg": "faces/obama/1.jpg", "obama2.jpg": "faces/obama/2.jpg",
          "biden.jpg": "faces/biden/1.jpg", "group.jpg": "group/two_people.jpg",
          "hopper.jpg": "faces/grace_hopper/1.jpg", "astronaut.png": "faces/nasa_astronaut/1.png"}


class Sink:
    """Test-only output node: takes anything, so the runner executes what feeds it."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}, "optional": {f"v{i}": ("*",) for i in range(8)}}

    RETURN_TYPES = ()
    FUNCTION = "take"
    OUTPUT_NODE = True

    def take(self, **values):
        return ()


NODES = {**NODE_CLASS_MAPPINGS, **CORE_NODE_CLASS_MAPPINGS, "Sink": Sink}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("nodes")
    (root / "in").mkdir()
    for name, rel in PHOTOS.items():
        shutil.copy(TESTDATA / rel, root / "in" / name)
    return root


@pytest.fixture(autouse=True)
def models_dir(folders, monkeypatch):
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(folders / "models"))
    return folders / "models"


def run(folders, prompt):
    return run_prompt(prompt, NODES, input_dir=folders / "in", output_dir=folders / "out")["outputs"]


def node(class_type, **inputs):
    return {"class_type": class_type, "inputs": inputs}


def embedded(prefix, photo):
    """Nodes ``<prefix>img``, ``<prefix>det``, ``<prefix>emb``: a photo, its faces, embedded."""
    return {f"{prefix}img": node("LoadImage", image=photo),
            f"{prefix}det": node("FacePipelineDetectFaces", image=[f"{prefix}img", 0],
                                 model="mediapipe_face_short", threshold=0.5,
                                 adaptive_threshold=True, max_faces=0, order="largest",
                                 min_size=0, scan="auto", verify=True, device="auto"),
            f"{prefix}emb": node("FacePipelineFaceEmbedding", image=[f"{prefix}img", 0],
                                 faces=[f"{prefix}det", 0], model="dlib_resnet_v1",
                                 device="auto")}


def compare(a, b=None, model=None):
    inputs = dict(faces_a=[a, 0], index_a=0, metric="euclidean", threshold=0.0)
    inputs.update({"faces_b": [b, 0]} if b else {"face_model_b": [model, 0]})
    return node("FacePipelineCompareFaces", **inputs)


def test_identity_nodes_compare_build_save_load_and_search(folders):
    prompt = {**embedded("o1", "obama1.jpg"), **embedded("o2", "obama2.jpg"),
              **embedded("b", "biden.jpg"), **embedded("g", "group.jpg"),
              "same": compare("o1emb", "o2emb"), "other": compare("o1emb", "bemb"),
              "model": node("FacePipelineBuildFaceModel", faces=["o2emb", 0], name="obama",
                            method="mean", min_quality=0.2),
              "save_model": node("FacePipelineSaveFaceModel", face_model=["model", 0],
                                 filename="people/obama"),
              "vs_model": compare("bemb", model="model"),
              "gallery": node("FacePipelineGalleryFromImages", image=["bimg", 0],
                              faces=["bdet", 0], names="biden", model="dlib_resnet_v1",
                              multiscale=False, device="auto"),
              "edited": node("FacePipelineEditGallery", gallery=["gallery", 0], remove="",
                             add_face_model=["model", 0]),
              "save_gallery": node("FacePipelineSaveGallery", gallery=["edited", 0],
                                   filename="two"),
              "search": node("FacePipelineSearchGallery", image=["gimg", 0], faces=["gemb", 0],
                             gallery=["edited", 0], top_k=2, metric="euclidean", threshold=0.0,
                             multiscale=True),
              "select": node("FacePipelineSelectFacesByReference", faces=["gemb", 0],
                             metric="cosine", threshold=0.0, reference_model=["model", 0]),
              "sink": node("Sink", v0=["same", 0], v1=["other", 0], v2=["vs_model", 0],
                           v3=["search", 0], v4=["select", 0])}
    out = run(folders, prompt)
    assert out["same"][0] is True and out["other"][0] is False and out["vs_model"][0] is False
    assert out["same"][1] < 0.43 < out["other"][1]
    assert "1 photo(s)" in out["model"][1]
    assert out["save_model"][0].endswith("faces/people/obama.safetensors")
    assert out["edited"][0].names == ("biden", "obama")
    assert out["save_gallery"][0].endswith("galleries/two.safetensors")
    identities = sorted(line.split(": ")[1].split(" ")[0] for line in out["search"][0].splitlines())
    assert identities == ["biden", "obama"]                 # the group photo: both known
    assert out["select"][0].count == 1 and len(out["select"][1].split(", ")) == 2

    loaded = {**embedded("o1", "obama1.jpg"), **embedded("b", "biden.jpg"),
              "model": node("FacePipelineLoadFaceModel", filename="people/obama.safetensors"),
              "gallery": node("FacePipelineLoadGallery", filename="two.safetensors"),
              "same": compare("o1emb", model="model"),
              "search": node("FacePipelineSearchGallery", image=["bimg", 0], faces=["bemb", 0],
                             gallery=["gallery", 0], top_k=1, metric="euclidean",
                             threshold=0.0, multiscale=False),
              "sink": node("Sink", v0=["same", 0], v1=["search", 0])}
    out = run(folders, loaded)
    assert out["same"][0] is True and "face model 'obama'" in out["model"][1]
    assert out["search"][0].startswith("frame 0 face 0: biden")
    with pytest.raises(ExecutionError, match="already exists: turn on overwrite"):
        run(folders, {**prompt, "sink": node("Sink", v0=["save_gallery", 0])})


def test_face_nodes_paste_poisson_quality_and_masks(folders):
    faces = lambda p, img: {
        f"{p}det": node("FacePipelineDetectFaces", image=[img, 0], model="mediapipe_face_short",
                        threshold=0.5, adaptive_threshold=True, max_faces=0, order="largest",
                        min_size=0, scan="auto", verify=True, device="auto"),
        f"{p}lmk": node("FacePipelineFaceLandmarks", image=[img, 0], faces=[f"{p}det", 0],
                        model="mediapipe_face_mesh", refine=False, device="auto"),
        f"{p}align": node("FacePipelineAlignFaces", image=[img, 0], faces=[f"{p}lmk", 0],
                          template="ffhq_512", size=256, scale=1.0)}
    prompt = {"hop": node("LoadImage", image="hopper.jpg"),
              "ast": node("LoadImage", image="astronaut.png"),
              **faces("h", "hop"), **faces("a", "ast"),
              "crop_mask": node("FacePipelineFaceRegionMask", image=["hop", 0],
                                faces=["halign", 1], regions="face", subtract="", grow=0,
                                blur=0.0, forehead=0.5, space="aligned crop"),
              "paste": node("FacePipelinePasteFacesBack", image=["hop", 0], crops=["aalign", 0],
                            faces=["halign", 1], feather=8.0, crop_mask=["crop_mask", 0]),
              "skin": node("FacePipelineFaceRegionMask", image=["hop", 0], faces=["hlmk", 0],
                           regions="skin", subtract="", grow=0, blur=0.0, forehead=0.5,
                           space="image"),
              "poisson": node("FacePipelinePoissonComposite", target=["hop", 0],
                              source=["paste", 0], mask=["skin", 0], mode="normal"),
              "quality": node("FacePipelineFaceQuality", image=["hop", 0], faces=["hlmk", 0]),
              "save": node("SaveImage", images=["poisson", 0], filename_prefix="nodes"),
              "sink": node("Sink", v0=["quality", 0])}
    out = run(folders, prompt)
    hopper = out["hop"][0]
    pasted, paste_mask = out["paste"]
    changed = (pasted[0] != hopper[0]).any(-1)
    assert changed.sum() > 5000 and not changed[paste_mask[0] == 0].any()
    skin, face = out["skin"][0][0], out["hlmk"][0].frames[0][0]
    ys, xs = torch.nonzero(skin > 0.5, as_tuple=True)
    x1, y1, x2, y2 = face.box
    assert x1 < xs.float().mean() < x2 and y1 < ys.float().mean() < y2
    for x, y in face.keypoints[:2]:                          # the eyes are not skin
        assert skin[int(round(y)), int(round(x))] == 0
    blended, region = out["poisson"]
    assert torch.equal(blended[0][region[0] == 0], hopper[0][region[0] == 0])
    assert (blended[0] != hopper[0]).any(-1).sum() > 5000
    quality, report = out["quality"]
    assert quality > 0.8 and report.startswith("face 0: ")     # Grace Hopper, 199 px, sharp


def test_model_nodes_download_and_unload(folders, models_dir):
    tiny_inswapper(models_dir / "inswapper_128.onnx", np.eye(512, dtype=np.float32))
    cache.clear()
    prompt = {"dl": node("FacePipelineDownloadModel", model="inswapper_128"),
              "unload": node("FacePipelineUnloadModels", trigger=["dl", 0])}
    out = run(folders, prompt)
    assert out["dl"][0] == str(models_dir / "inswapper_128.onnx")   # present: nothing fetched
    assert out["unload"][0] == "unloaded 0 model(s)"
    run(folders, {**embedded("o", "obama1.jpg"), "sink": node("Sink", v0=["oemb", 0])})
    out = run(folders, prompt)
    assert out["unload"][0].startswith("unloaded ") and "dlib model(s)" in out["unload"][0]
    assert sum(cache.clear().values()) == 0


def test_portrait_matte_node_separates_the_person(folders):
    """Portrait Matte (the embedded MediaPipe selfie model) through the runner: the face is
    person, the photo's top corners are background."""
    prompt = {"hop": node("LoadImage", image="hopper.jpg"),
              "det": node("FacePipelineDetectFaces", image=["hop", 0],
                          model="mediapipe_face_short", threshold=0.5, adaptive_threshold=True,
                          max_faces=0, order="largest", min_size=0, scan="auto", verify=True,
                          device="auto"),
              "matte": node("FacePipelinePortraitMatte", image=["hop", 0],
                            model="mediapipe_selfie", resolution=448, device="auto"),
              "sink": node("Sink", v0=["matte", 0], v1=["det", 0])}
    out = run(folders, prompt)
    alpha = out["matte"][0]
    assert alpha.shape == out["hop"][0].shape[:3]
    x, y = (int(v) for v in out["det"][0].frames[0][0].center)
    assert alpha[0, y, x] > 0.9
    h, w = alpha.shape[1:]
    assert alpha[0, :h // 10, :w // 10].mean() < 0.1 and alpha[0, :h // 10, -w // 10:].mean() < 0.1
