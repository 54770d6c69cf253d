"""Tests for the headless runner: core stand-ins, validation, overrides, execution, CLI."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from face_pipeline.runner import (
    CORE_NODE_CLASS_MAPPINGS,
    ExecutionError,
    ValidationError,
    apply_overrides,
    run_prompt,
)
from face_pipeline.runner import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
CALLS = []  # (node id, class name) in call order, filled by the dummy nodes below


class Invert:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}, "hidden": {"unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def run(self, image, unique_id):
        CALLS.append((unique_id, "Invert"))
        return (1.0 - image,)


class Knobs:
    """Passes its image through; widgets exercise the value checks."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE,MASK",),
                "threshold": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0}),
                "count": ("INT", {"default": 1, "min": 1, "max": 8}),
                "mode": (["fast", "exact"], {"default": "fast"}),
            },
            "optional": {"extra": ("*",), "note": ("STRING", {"default": ""})},
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    RETURN_TYPES = ("IMAGE", "FLOAT")
    FUNCTION = "run"

    def run(self, image, threshold, count, mode, unique_id, **optional):
        CALLS.append((unique_id, "Knobs", threshold, count, mode, sorted(optional)))
        return (image, threshold)


class Sink:
    """Output node that records what it received."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}, "hidden": {"unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, value, unique_id):
        CALLS.append((unique_id, "Sink", value))
        return {"ui": {"text": [repr(value)]}}


class Picky:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"level": ("INT", {"default": 0, "min": 0, "max": 3})}}

    @classmethod
    def VALIDATE_INPUTS(cls, level):
        return True if level % 2 == 0 else f"level must be even, got {level}"

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, level):
        return (level,)


class Boom:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def run(self):
        raise RuntimeError("kaboom")


class Splitter:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("IMAGE",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "run"


NODES = {**CORE_NODE_CLASS_MAPPINGS, "Invert": Invert, "Knobs": Knobs, "Sink": Sink, "Picky": Picky,
         "Boom": Boom, "Splitter": Splitter}


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


@pytest.fixture
def dirs(tmp_path):
    """An input dir holding a 5x4 RGB 'photo.png' with known pixels, and an output dir."""
    input_dir, output_dir = tmp_path / "in", tmp_path / "out"
    input_dir.mkdir()
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3) * 4
    Image.fromarray(pixels).save(input_dir / "photo.png")
    return input_dir, output_dir, pixels


def run(prompt, dirs, **kwargs):
    return run_prompt(prompt, NODES, input_dir=dirs[0], output_dir=dirs[1], **kwargs)


def invert_graph(prefix="inv"):
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
        "2": {"class_type": "Invert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }


def knobs_graph(**knobs):
    widgets = {"threshold": 0.5, "count": 2, "mode": "fast", **knobs}
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
        "2": {"class_type": "Knobs", "inputs": {"image": ["1", 0], **widgets}},
        "3": {"class_type": "Sink", "inputs": {"value": ["2", 1]}},
    }


def errors_of(prompt, dirs, **kwargs):
    with pytest.raises(ValidationError) as info:
        run(prompt, dirs, **kwargs)
    return info.value.errors


# --- end to end ---------------------------------------------------------------------------------

def test_load_invert_save_writes_inverted_png(dirs):
    _, output_dir, pixels = dirs
    result = run(invert_graph(), dirs)
    written = output_dir / "inv_00001_.png"
    assert result["files"] == [str(written)]
    assert result["ui"]["3"] == {"images": [{"filename": "inv_00001_.png", "subfolder": "", "type": "output"}]}
    saved = np.asarray(Image.open(written)).astype(int)
    assert np.abs(saved - (255 - pixels.astype(int))).max() <= 1  # SaveImage truncates like ComfyUI
    assert [c[1] for c in CALLS] == ["Invert"]
    image = result["outputs"]["1"][0]
    assert image.shape == (1, 4, 5, 3) and image.dtype == torch.float32
    assert torch.equal(result["outputs"]["3"][0], result["outputs"]["2"][0])


def test_save_counter_continues_and_prompt_is_embedded(dirs):
    run(invert_graph(), dirs)
    result = run(invert_graph("sub/inv"), dirs)
    second = run(invert_graph("sub/inv"), dirs)
    assert result["ui"]["3"]["images"][0] == {"filename": "inv_00001_.png", "subfolder": "sub", "type": "output"}
    assert second["files"] == [str(dirs[1] / "sub" / "inv_00002_.png")]
    embedded = json.loads(Image.open(second["files"][0]).text["prompt"])
    assert embedded["3"]["inputs"]["filename_prefix"] == "sub/inv"


def test_save_refuses_prefix_outside_output_dir(dirs):
    with pytest.raises(ExecutionError, match="outside the output folder"):
        run(invert_graph("../escape"), dirs)


def test_preview_writes_into_temp_dir(dirs, tmp_path):
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
              "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    result = run(prompt, dirs, temp_dir=tmp_path / "tmp")
    (item,) = result["ui"]["2"]["images"]
    assert item["type"] == "temp" and item["filename"].startswith("ComfyUI_temp_")
    assert result["files"] == [str(tmp_path / "tmp" / item["filename"])]
    np.testing.assert_array_equal(np.asarray(Image.open(result["files"][0])), dirs[2])
    assert not dirs[1].exists()


# --- LoadImage ----------------------------------------------------------------------------------

def load(dirs, name):
    return run({"1": {"class_type": "LoadImage", "inputs": {"image": name}},
                "2": {"class_type": "Sink", "inputs": {"value": ["1", 1]}}}, dirs)["outputs"]["1"]


def test_load_image_mask_is_one_minus_alpha(dirs):
    rgba = np.zeros((3, 2, 4), dtype=np.uint8)
    rgba[..., 3] = [[0, 255], [51, 255], [255, 0]]
    Image.fromarray(rgba, "RGBA").save(dirs[0] / "alpha.png")
    image, mask = load(dirs, "alpha.png")
    assert image.shape == (1, 3, 2, 3)
    torch.testing.assert_close(mask, torch.tensor([[[1.0, 0.0], [0.8, 0.0], [0.0, 1.0]]]))


def test_load_image_without_alpha_gives_zero_64_mask(dirs):
    _, mask = load(dirs, "photo.png")
    assert mask.shape == (1, 64, 64) and not mask.any()


def test_load_image_applies_exif_orientation(dirs):
    pixels = np.zeros((2, 4, 3), dtype=np.uint8)
    pixels[0, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(pixels).save(dirs[0] / "rotated.jpg", exif=exif, quality=100)
    image, _ = load(dirs, "rotated.jpg")
    assert image.shape == (1, 4, 2, 3)
    assert image[0, 0, 1].mean() > 0.8 and image[0, 0, 0].mean() < 0.2


def test_load_image_reads_every_frame(dirs):
    frames = [Image.new("RGB", (3, 2), color) for color in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(dirs[0] / "anim.gif", save_all=True, append_images=frames[1:])
    image, _ = load(dirs, "anim.gif")
    assert image.shape == (2, 2, 3, 3)
    assert image[0, 0, 0, 0] > 0.9 and image[1, 0, 0, 2] > 0.9


# --- validation ---------------------------------------------------------------------------------

def test_valid_knobs_graph_runs_with_converted_values(dirs):
    run(knobs_graph(threshold=1, count="3"), dirs)
    assert CALLS[0] == ("2", "Knobs", 1.0, 3, "fast", [])
    assert isinstance(CALLS[0][2], float) and CALLS[1] == ("3", "Sink", 1.0)


def test_optional_inputs_are_passed_only_when_given(dirs):
    prompt = knobs_graph()
    prompt["2"]["inputs"].update(extra=["1", 1], note="hi")
    run(prompt, dirs)
    assert CALLS[0][-1] == ["extra", "note"]


@pytest.mark.parametrize("node_id, change, expected", [
    ("2", {"threshold": 1.5}, "Node 2 (Knobs) input 'threshold': value 1.5 bigger than max of 1.0"),
    ("2", {"threshold": -0.1}, "Node 2 (Knobs) input 'threshold': value -0.1 smaller than min of 0.0"),
    ("2", {"count": 0}, "Node 2 (Knobs) input 'count': value 0 smaller than min of 1"),
    ("2", {"count": 9}, "Node 2 (Knobs) input 'count': value 9 bigger than max of 8"),
    ("2", {"mode": "slow"}, "Node 2 (Knobs) input 'mode': value 'slow' not in ['fast', 'exact']"),
    ("2", {"count": "many"}, "Node 2 (Knobs) input 'count': failed to convert 'many' to a INT value"),
    ("2", {"threshold": None}, "Node 2 (Knobs) input 'threshold': failed to convert None to a FLOAT value"),
    ("2", {"image": ["9", 0]}, "Node 2 (Knobs) input 'image': linked node '9' does not exist"),
    ("2", {"image": ["1", 2]}, "Node 2 (Knobs) input 'image': output index 2 out of range: "
                               "Node 1 (LoadImage) has 2 outputs"),
    ("2", {"image": ["1"]}, "Node 2 (Knobs) input 'image': bad linked input ['1'], must be a length-2 list"),
    ("3", {"value": ["2", 5]}, "Node 3 (Sink) input 'value': output index 5 out of range"),
])
def test_each_validation_error_names_node_and_input(dirs, node_id, change, expected):
    prompt = knobs_graph()
    prompt[node_id]["inputs"].update(change)
    errors = errors_of(prompt, dirs)
    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert CALLS == []


def test_missing_required_input(dirs):
    prompt = knobs_graph()
    del prompt["2"]["inputs"]["mode"]
    assert errors_of(prompt, dirs) == ["Node 2 (Knobs) input 'mode': required input is missing"]


def test_link_type_mismatch(dirs):
    prompt = invert_graph()
    prompt["2"]["inputs"]["image"] = ["1", 1]
    assert errors_of(prompt, dirs) == [
        "Node 2 (Invert) input 'image': return type mismatch between linked nodes: "
        "received_type(MASK) from Node 1 (LoadImage) mismatch input_type(IMAGE)"
    ]


def test_comma_separated_and_any_types_accept_links(dirs):
    prompt = knobs_graph()
    prompt["2"]["inputs"].update(image=["1", 1], extra=["1", 0])  # MASK into "IMAGE,MASK", IMAGE into "*"
    run(prompt, dirs)
    assert [c[1] for c in CALLS] == ["Knobs", "Sink"]


def test_unknown_class_type(dirs):
    prompt = invert_graph()
    prompt["2"]["class_type"] = "Invret"
    errors = errors_of(prompt, dirs)
    assert errors == ["Node 2 (Invret): class_type not found; the custom node may not be installed"]


def test_prompt_without_output_node(dirs):
    prompt = invert_graph()
    del prompt["3"]
    assert errors_of(prompt, dirs) == ["prompt has no outputs: none of its nodes is an OUTPUT_NODE"]


def test_all_errors_are_reported_together(dirs):
    prompt = knobs_graph(threshold=2.0, mode="slow")
    prompt["1"]["inputs"]["image"] = "missing.png"
    errors = errors_of(prompt, dirs)
    assert len(errors) == 3
    assert "Node 1 (LoadImage) input 'image': Invalid image file: missing.png" in errors
    assert any(e.startswith("Node 2 (Knobs) input 'threshold'") for e in errors)
    assert any(e.startswith("Node 2 (Knobs) input 'mode'") for e in errors)


def test_validate_inputs_is_honoured_and_replaces_range_checks(dirs):
    prompt = {"1": {"class_type": "Picky", "inputs": {"level": 5}},
              "2": {"class_type": "Sink", "inputs": {"value": ["1", 0]}}}
    assert errors_of(prompt, dirs) == ["Node 1 (Picky) input 'level': level must be even, got 5"]
    prompt["1"]["inputs"]["level"] = 4  # above max, but VALIDATE_INPUTS takes 'level', so ComfyUI skips max
    run(prompt, dirs)
    assert CALLS == [("2", "Sink", 4)]


def test_dependency_cycle_is_an_error(dirs):
    prompt = {"1": {"class_type": "Invert", "inputs": {"image": ["2", 0]}},
              "2": {"class_type": "Invert", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "Sink", "inputs": {"value": ["2", 0]}}}
    errors = errors_of(prompt, dirs)
    assert errors == ["Node 2 (Invert): dependency cycle detected: 2 (Invert) -> 1 (Invert) -> 2 (Invert)"]


def test_errors_in_nodes_no_output_needs_are_ignored_like_comfyui(dirs):
    prompt = invert_graph()
    prompt["9"] = {"class_type": "Knobs", "inputs": {"threshold": 7}}
    run(prompt, dirs)
    assert [c[1] for c in CALLS] == ["Invert"]


def test_list_nodes_are_rejected_at_validation(dirs):
    prompt = {"1": {"class_type": "Splitter", "inputs": {}},
              "2": {"class_type": "Sink", "inputs": {"value": ["1", 0]}}}
    with pytest.raises(NotImplementedError, match="Node 1 \\(Splitter\\).*OUTPUT_IS_LIST"):
        run(prompt, dirs)


# --- execution ----------------------------------------------------------------------------------

def test_only_nodes_needed_by_outputs_execute(dirs):
    prompt = invert_graph()
    prompt["7"] = {"class_type": "Invert", "inputs": {"image": ["1", 0]}}  # dangling, no output uses it
    result = run(prompt, dirs)
    assert CALLS == [("2", "Invert")]
    assert "7" not in result["outputs"]


def test_execution_order_follows_links_not_ids(dirs):
    prompt = {
        "1": {"class_type": "Sink", "inputs": {"value": ["5", 0]}},
        "5": {"class_type": "Invert", "inputs": {"image": ["9", 0]}},
        "9": {"class_type": "Invert", "inputs": {"image": ["20", 0]}},
        "20": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
    }
    result = run(prompt, dirs)
    assert [c[0] for c in CALLS] == ["9", "5", "1"]
    torch.testing.assert_close(CALLS[-1][2], result["outputs"]["20"][0])  # inverted twice


def test_node_exception_becomes_execution_error(dirs):
    prompt = {"1": {"class_type": "Boom", "inputs": {}},
              "2": {"class_type": "Sink", "inputs": {"value": ["1", 0]}}}
    with pytest.raises(ExecutionError, match=r"Node 1 \(Boom\): RuntimeError: kaboom") as info:
        run(prompt, dirs)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert CALLS == []


def test_caller_prompt_is_not_modified(dirs):
    prompt = knobs_graph(count="3")
    snapshot = json.dumps(prompt)
    run(prompt, dirs, overrides=["2.threshold=0.25"])
    assert json.dumps(prompt) == snapshot


# --- overrides ----------------------------------------------------------------------------------

def test_apply_overrides_parses_json_else_string():
    prompt = apply_overrides(knobs_graph(), ["2.threshold=0.4", "2.mode=exact", "2.note=\"7\"",
                                             "2.count=3", "1.image=my photo.png", "3.value=[\"1\", 0]"])
    inputs = prompt["2"]["inputs"]
    assert (inputs["threshold"], inputs["mode"], inputs["note"], inputs["count"]) == (0.4, "exact", "7", 3)
    assert prompt["1"]["inputs"]["image"] == "my photo.png"
    assert prompt["3"]["inputs"]["value"] == ["1", 0]


@pytest.mark.parametrize("override, message", [
    ("8.threshold=0.4", "no node with id '8'"),
    ("2threshold=0.4", "expected NODE_ID.INPUT=VALUE"),
    ("2.threshold", "expected NODE_ID.INPUT=VALUE"),
    ("2.treshold=0.4", "Node 2 (Knobs) input 'treshold': override '2.treshold=0.4' names no input"),
])
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(knobs_graph(), [override], NODES)


def test_overrides_change_the_run(dirs):
    run(knobs_graph(), dirs, overrides=["2.threshold=0.75", "2.mode=exact"])
    assert CALLS[0] == ("2", "Knobs", 0.75, 2, "exact", [])
    assert "value 3.0 bigger than max of 1.0" in errors_of(knobs_graph(), dirs, overrides=["2.threshold=3"])[0]


# --- command line -------------------------------------------------------------------------------

def write_workflow(tmp_path, prompt):
    path = tmp_path / "wf_api.json"
    path.write_text(json.dumps(prompt))
    return str(path)


def core_graph():
    return {"1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "cli"}}}


def test_cli_runs_and_prints_written_files(dirs, tmp_path, capsys):
    code = cli.main([write_workflow(tmp_path, core_graph()), "--input-dir", str(dirs[0]),
                     "--output-dir", str(dirs[1]), "--set", "2.filename_prefix=renamed", "--quiet"])
    assert code == 0
    assert capsys.readouterr().out.split() == [str(dirs[1] / "renamed_00001_.png")]
    np.testing.assert_array_equal(np.asarray(Image.open(dirs[1] / "renamed_00001_.png")), dirs[2])


def test_cli_batch_runs_once_per_image_of_a_folder(dirs, tmp_path, capsys):
    frames = dirs[0] / "frames"
    frames.mkdir()
    for i in range(2):
        Image.fromarray(dirs[2] + i).save(frames / f"{i}.png")
    (frames / "notes.txt").write_text("not an image")
    code = cli.main([write_workflow(tmp_path, core_graph()), "--input-dir", str(dirs[0]),
                     "--output-dir", str(dirs[1]), "--batch", "1.image=frames", "--quiet"])
    assert code == 0
    outputs = capsys.readouterr().out.split()
    assert outputs == [str(dirs[1] / f"cli_0000{i}_.png") for i in (1, 2)]
    for i, path in enumerate(outputs):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), dirs[2] + i)


def test_cli_batch_needs_a_folder_of_images(dirs, tmp_path, capsys):
    args = [write_workflow(tmp_path, core_graph()), "--input-dir", str(dirs[0])]
    assert cli.main([*args, "--batch", "1.image=nowhere"]) == 2
    assert "expected NODE.INPUT=FOLDER" in capsys.readouterr().err
    (dirs[0] / "empty").mkdir()
    assert cli.main([*args, "--batch", "1.image=empty"]) == 2
    assert "no image files" in capsys.readouterr().err


def test_server_mode_uploads_the_files_and_folders_a_workflow_names(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"x")
    (tmp_path / "gallery" / "ann").mkdir(parents=True)
    (tmp_path / "gallery" / "ann" / "1.jpg").write_bytes(b"x")
    (tmp_path.parent / "outside.png").write_bytes(b"x")
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
              "2": {"class_type": "Gallery", "inputs": {"folder": "gallery", "selection": "all",
                                                        "escape": "../outside.png", "image": ["1", 0]}}}
    assert cli._uploads(prompt, str(tmp_path)) == [(str(tmp_path / "photo.png"), ""),
                                                   (str(tmp_path / "gallery" / "ann" / "1.jpg"), "gallery/ann")]


def test_cli_exit_code_2_on_invalid_prompt(dirs, tmp_path, capsys):
    code = cli.main([write_workflow(tmp_path, core_graph()), "--input-dir", str(dirs[0]),
                     "--output-dir", str(dirs[1]), "--set", "1.image=nope.png"])
    assert code == 2
    assert "Node 1 (LoadImage) input 'image': Invalid image file: nope.png" in capsys.readouterr().err
    assert not dirs[1].exists()


def test_cli_rejects_ui_format_workflow(tmp_path, capsys):
    assert cli.main([write_workflow(tmp_path, {"nodes": [], "links": []})]) == 2
    assert "Export (API)" in capsys.readouterr().err


def test_run_workflow_script_end_to_end(dirs, tmp_path):
    workflow = write_workflow(tmp_path, core_graph())
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_workflow.py"), workflow, "--input-dir", str(dirs[0]),
         "--output-dir", str(dirs[1])],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(dirs[1] / "cli_00001_.png")]
    assert "[2/2] Node 2 (SaveImage) done" in proc.stderr
