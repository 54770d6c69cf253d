"""`pipeline/provenance.py` on synthetic batches: which frames get the watermark, in place,
RGBA and kept occluder pixels; which frames count as swapped; detection per frame; the PNG
text entry (issue 15 item 4: outcomes that kill behaviour-changing mutants).
"""
import cv2
import numpy as np
import pytest
import torch

from face_pipeline.pipeline import provenance as pv
from face_pipeline.vision import watermark


def batch(n=3, size=256, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        smooth = cv2.resize(rng.random((8, 8, 3), dtype=np.float32), (size, size),
                            interpolation=cv2.INTER_CUBIC)
        frames.append(np.clip(0.2 + 0.6 * smooth, 0, 1))
    out = np.stack(frames)
    if channels == 4:
        out = np.concatenate([out, np.full(out.shape[:3] + (1,), 0.5, np.float32)], -1)
    return torch.from_numpy(np.ascontiguousarray(out, np.float32))


def test_mark_frames_marks_the_chosen_frames_in_place():
    image = batch()
    before = image.clone()
    out = pv.mark_frames(image, [0, 2])
    assert out is image                                          # a float32 CPU batch: in place
    assert torch.equal(out[1], before[1])
    for i in (0, 2):
        assert np.allclose(out[i].numpy(), watermark.embed(before[i].numpy()))
    double = pv.mark_frames(before.double(), [1])
    assert double.dtype == torch.float32
    assert np.allclose(double[1].numpy(), watermark.embed(before[1].numpy()))
    assert torch.equal(double[0], before[0]) and before.dtype == torch.float32


def test_mark_frames_keeps_alpha_and_the_unmarked_pixels():
    rgba = batch(2, channels=4)
    before = rgba.clone()
    box, mask = (10, 20, 50, 40), np.zeros((20, 40), bool)
    mask[5:15, 10:30] = True
    out = pv.mark_frames(rgba, [0, 1], {1: [(box, mask)]})
    assert torch.equal(out[..., 3], before[..., 3])              # alpha untouched
    marked = watermark.embed(np.ascontiguousarray(before[1, ..., :3].numpy()))
    window = out[1, 20:40, 10:50, :3].numpy()
    assert np.array_equal(window[mask], before[1, 20:40, 10:50, :3].numpy()[mask])
    assert np.allclose(window[~mask], marked[20:40, 10:50][~mask])
    assert np.allclose(out[0, ..., :3].numpy(), watermark.embed(before[0, ..., :3].numpy()))
    elsewhere = out[1, 100:, 100:, :3].numpy()
    assert np.allclose(elsewhere, marked[100:, 100:])


def test_marked_frames_are_those_with_a_swap_mask():
    mask = torch.zeros(4, 8, 8)
    mask[1, 3, 3] = 0.01
    mask[3] = 1.0
    assert pv.marked_frames(mask) == [1, 3]
    assert pv.marked_frames(torch.zeros(2, 4, 4, dtype=torch.float64)) == []
    assert pv.marked_frames(mask.to(torch.bfloat16)) == [1, 3]     # numpy has no bfloat16


def test_detect_marks_needs_a_score_above_the_threshold(monkeypatch):
    monkeypatch.setattr(watermark, "score", lambda frame: watermark.THRESHOLD)
    assert pv.detect_marks(batch(1, size=64))[0] == [False]


def test_detect_marks_scores_every_frame():
    image = batch(3)
    pv.mark_frames(image, [1])
    seen = []
    found, scores = pv.detect_marks(image, loop=lambda n: seen.append(n) or range(n))
    assert seen == [3] and found == [False, True, False]
    assert scores[1] > 10 and abs(scores[0]) < 4 and abs(scores[2]) < 4
    assert scores[1] == pytest.approx(watermark.score(image[1].numpy()))
    with pytest.raises(ValueError, match="^image: expected IMAGE"):
        pv.detect_marks(torch.zeros(4, 4, 3))


def test_record_swap_writes_the_png_entry():
    info = {"workflow": {}}
    pv.record_swap(info, "Face Swap", 1)
    assert pv.PNG_KEY == "face_swap" and info["face_swap"] == {
        "note": "This image contains a face swapped by the Face Pipeline nodes.",
        "node": "Face Swap", "invisible_watermark": True,
        "detect_with": "Face Pipeline: Detect Swap Watermark"}
    assert info["workflow"] == {}
    pv.record_swap(info, "Face Swap", 0)
    assert info["face_swap"]["invisible_watermark"] is False
    pv.record_swap(None, "Face Swap", True)                       # no-op, no error
    listed = []
    pv.record_swap(listed, "Face Swap", True)
    assert listed == []
