"""The one-node face swap on the public-domain portraits: identity carried, pixels outside the
mask untouched, batches with missing faces, and the ONNX engine on tiny stand-in models."""
import cv2
import numpy as np
import pytest
import torch
from conftest import as_image, load_rgb
from tiny_models import tiny_arcface, tiny_inswapper

from face_pipeline.models import onnx as ort_cache
from face_pipeline.pipeline import identity
from face_pipeline.pipeline.faces import add_landmarks, detect_faces
from face_pipeline.pipeline.swap import face_swap

ASTRONAUT = "faces/nasa_astronaut/1.png"
HOPPER = "faces/grace_hopper/1.jpg"


def embedding(image):
    faces, _ = identity.embed_faces(image, detect_faces(image))
    return faces.frames[0][0].embedding


@pytest.mark.parametrize("source, target", [(ASTRONAUT, HOPPER), (HOPPER, ASTRONAUT)])
def test_swapped_face_carries_the_source_identity(source, target):
    src, tgt = as_image(load_rgb(source)), as_image(load_rgb(target))
    out, mask, report = face_swap(src, tgt, watermark=False)  # else every pixel moves <= 1 level
    assert "frame 0: swapped face 0" in report
    swapped = embedding(out)
    to_source = np.linalg.norm(swapped - embedding(src))
    to_target = np.linalg.norm(swapped - embedding(tgt))
    assert to_source < to_target, (to_source, to_target)
    outside = mask[0] == 0
    assert outside.float().mean() > 0.5
    assert torch.equal(out[0][outside], tgt[0][outside])


def test_batch_with_missing_faces_and_another_size():
    src = as_image(load_rgb(ASTRONAUT))                                   # 512 x 512
    face = cv2.resize(load_rgb(HOPPER), (320, 375))
    blank = np.full((375, 320, 3), 170, np.uint8)
    frames = [face if i % 3 == 0 else blank for i in range(8)]           # 320 x 375, 3 faces
    tgt = as_image(*frames)
    out, mask, report = face_swap(src, tgt)
    lines = report.splitlines()
    assert out.shape == tgt.shape and mask.shape == tgt.shape[:3]
    for i in range(8):
        if i % 3 == 0:
            assert lines[i] == f"frame {i}: swapped face 0" and mask[i].max() > 0.9
        else:
            assert "unchanged" in lines[i] and torch.equal(out[i], tgt[i]) and mask[i].max() == 0
    assert torch.equal(out[0], out[3])  # the same target frame gives the same result


def test_source_without_face_is_a_clear_error():
    blank = as_image(np.full((256, 256, 3), 90, np.uint8))
    with pytest.raises(ValueError, match="no face found in the source"):
        face_swap(blank, as_image(load_rgb(HOPPER)))


@pytest.mark.parametrize("boost", [128, 256])
def test_onnx_engine_runs_tiny_inswapper_signature(tmp_path, monkeypatch, boost):
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    tiny_arcface(tmp_path / "w600k_r50.onnx")
    tiny_inswapper(tmp_path / "inswapper_128.onnx",
                   np.random.default_rng(0).normal(size=(512, 512)).astype(np.float32))
    ort_cache.unload_all()
    src, tgt = as_image(load_rgb(ASTRONAUT)), as_image(load_rgb(HOPPER))
    try:
        out, mask, report = face_swap(src, tgt, engine="inswapper_128", pixel_boost=boost,
                                      watermark=False)
    finally:
        ort_cache.unload_all()
    assert "frame 0: swapped face 0" in report
    changed = (out[0] != tgt[0]).any(-1)
    assert changed.any() and not changed[mask[0] == 0].any()
    box = detect_faces(tgt).frames[0][0].box
    ys, xs = torch.nonzero(changed, as_tuple=True)
    assert box[0] < xs.float().mean() < box[2] and box[1] < ys.float().mean() < box[3]


def test_reference_mode_swaps_only_the_matching_face():
    """Select Faces by Reference -> Face Swap: in the two-person photo only the face matching
    the reference photo (another photo of the same person) is replaced (numbers only; no
    picture of this swap is kept)."""
    group = as_image(load_rgb("group/two_people.jpg"))
    reference = as_image(load_rgb("faces/obama/2.jpg"))
    faces, _ = identity.embed_faces(group, add_landmarks(group, detect_faces(group)))
    ref_faces, _ = identity.embed_faces(reference, detect_faces(reference))
    chosen, distances = identity.select_by_reference(faces, ref_faces)
    assert faces.count == 2 and chosen.count == 1 and min(distances) < max(distances)
    out, mask, report = face_swap(as_image(load_rgb(ASTRONAUT)), group, target_faces=chosen,
                                  watermark=False)
    kept = next(f for _, _, f in faces.items() if not np.array_equal(f.box, chosen.frames[0][0].box))
    x1, y1, x2, y2 = np.round(kept.box).astype(int)
    assert "swapped face 0" in report and mask[0].max() > 0.9
    assert mask[0, y1:y2, x1:x2].max() == 0 and torch.equal(out[0, y1:y2, x1:x2], group[0, y1:y2, x1:x2])
