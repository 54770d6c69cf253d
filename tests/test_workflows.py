"""Example workflows run headlessly; UI files match their API files; nodes follow ComfyUI's
conventions. The same workflows in a real ComfyUI: tests/test_real_comfyui.py."""
import json

import pytest
from conftest import ROOT, read_webm_alpha
from PIL import Image

import face_pipeline
from face_pipeline.runner import CORE_NODE_CLASS_MAPPINGS, run_prompt
from face_pipeline.runner.core_video import Video
from face_pipeline.runner.ui_format import api_to_ui

WORKFLOWS = sorted((ROOT / "workflows").glob("*_api.json"))
MAPPINGS = {**face_pipeline.NODE_CLASS_MAPPINGS, **CORE_NODE_CLASS_MAPPINGS}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_runs_and_saves_images(path, tmp_path):
    prompt = json.loads(path.read_text())
    result = run_prompt(prompt, MAPPINGS, input_dir=str(ROOT / "workflows" / "inputs"),
                        output_dir=str(tmp_path))
    saves = [k for k, v in prompt.items() if v["class_type"] in ("SaveImage", "SaveVideo")]
    assert saves and len(result["files"]) >= len(saves)
    videos = [v["inputs"]["file"] for v in prompt.values() if v["class_type"] == "LoadVideo"]
    for file in result["files"]:
        if file.endswith((".mp4", ".webm")):  # frames, frame rate and audio of the input video kept
            loaded = Video(str(ROOT / "workflows" / "inputs" / videos[0])).get_components()
            if file.endswith(".webm"):  # Save WebM (alpha): the subject opaque, the rest clear
                alpha = read_webm_alpha(file)[..., 3]
                assert alpha.shape == loaded.images.shape[:3]
                assert (alpha == 255).mean() > 0.05 and (alpha == 0).mean() > 0.3
                continue
            made = Video(file).get_components()
            assert made.images.shape == loaded.images.shape and made.frame_rate == loaded.frame_rate
            assert made.audio is not None and made.audio["sample_rate"] == loaded.audio["sample_rate"]
            continue
        with Image.open(file) as img:
            assert min(img.size) >= 64
            # provenance: the PNG records the graph that made it (as ComfyUI's SaveImage does),
            # so an output made with enhanced pixels says so in its text
            recorded = json.loads(img.info["prompt"])
            assert {v["class_type"] for v in recorded.values()} == \
                {v["class_type"] for v in prompt.values()}
            if any("enhanced_image" in v["inputs"] for v in prompt.values()):
                assert "enhanced_image" in img.info["prompt"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_ui_workflow_is_in_sync_with_api_workflow(path):
    ui_path = path.with_name(path.name.replace("_api.json", ".json"))
    expected = api_to_ui(json.loads(path.read_text()), MAPPINGS)
    assert json.loads(ui_path.read_text()) == json.loads(json.dumps(expected)), \
        "run: python tools/make_ui_workflows.py"


@pytest.mark.parametrize("key", sorted(face_pipeline.NODE_CLASS_MAPPINGS))
def test_node_follows_comfyui_conventions(key):
    cls = face_pipeline.NODE_CLASS_MAPPINGS[key]
    assert key in face_pipeline.NODE_DISPLAY_NAME_MAPPINGS
    assert cls.CATEGORY.startswith("Face Pipeline") and cls.DESCRIPTION
    assert callable(getattr(cls, cls.FUNCTION))
    names = getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)
    assert len(names) == len(cls.RETURN_TYPES) == len(cls.OUTPUT_TOOLTIPS)
    types = cls.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, spec in types.get(section, {}).items():
            assert len(spec) == 2 and spec[1].get("tooltip"), f"{key}.{name} has no tooltip"
            # A combo must be a list: ComfyUI's frontend and its "value not in list" check at
            # /prompt treat anything else (a tuple, say) as an unknown type.
            assert isinstance(spec[0], (str, list)), f"{key}.{name}: combo is not a list"
            if isinstance(spec[0], list):
                assert spec[0], f"{key}.{name} has an empty combo"
                assert spec[1].get("default", spec[0][0]) in spec[0], \
                    f"{key}.{name}: default not among the choices"


def test_ui_format_keeps_a_slot_for_an_omitted_optional_widget():
    """The frontend assigns widget values by position; an omitted optional widget before another
    shifted every later value (seen in the real frontend: allow_download got 'gated')."""
    class Node:
        RETURN_TYPES = ("FACES",)

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"model": (["a", "b"], {"default": "a"})},
                    "optional": {"allow_download": ("BOOLEAN", {"default": False}),
                                 "fusion": (["gated", "mean"], {"default": "gated"})}}

    prompt = {"1": {"class_type": "Node", "inputs": {"model": "b", "fusion": "mean"}}}
    (node,) = api_to_ui(prompt, {"Node": Node})["nodes"]
    assert node["widgets_values"] == ["b", False, "mean"]
