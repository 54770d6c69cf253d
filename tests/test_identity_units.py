"""`vision/identity.py` helpers no photo test reaches directly: the gated fusion of a raw and
an enhanced embedding and greedy leader clustering (used by surveillance), on synthetic unit
vectors.  Outcomes (weights, directions, group labels), for issue 15 item 4 (mutation score).
"""
import numpy as np
import pytest

from face_pipeline.vision import identity


def unit(*v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def test_fusion_gate_weights_the_better_face():
    eps = identity.GATE_EPS
    assert eps == pytest.approx(0.05)
    assert identity.fusion_gate(0.4, 0.4) == pytest.approx(0.5)
    assert identity.fusion_gate(0.0, 0.0) == pytest.approx(0.5)
    assert identity.fusion_gate(0.6, 0.2) == pytest.approx(0.65 / 0.9)
    assert identity.fusion_gate(0.2, 0.6) == pytest.approx(0.25 / 0.9)
    assert identity.fusion_gate(-1.0, 0.3) == pytest.approx(0.05 / 0.4)   # negative = 0
    assert identity.fusion_gate(0.3, -1.0) == pytest.approx(0.35 / 0.4)
    assert identity.fusion_gate(np.float32(0.5), 0.5) == pytest.approx(0.5)


def test_fuse_mixes_normalised_embeddings_by_the_gate():
    raw, enhanced = np.array([3.0, 0, 0], np.float32), np.array([0, 0.5, 0], np.float32)
    assert np.allclose(identity.fuse(raw, enhanced, 1.0), [1, 0, 0])
    assert np.allclose(identity.fuse(raw, enhanced, 0.0), [0, 1, 0])
    assert np.allclose(identity.fuse(raw, enhanced, 0.75), unit(0.75, 0.25, 0))
    assert np.linalg.norm(identity.fuse(raw, enhanced, 0.5)) == pytest.approx(1.0)


def test_cluster_groups_by_nearest_leader_within_the_stricter_limit():
    a, a2, b = unit(1, 0, 0), unit(1, 0.3, 0), unit(0, 1, 0)
    d = 1 - float(a @ a2)                          # ~0.042
    rows = np.stack([a, b, a2 * 5, b])
    assert identity.cluster(rows, 0.1).tolist() == [0, 1, 0, 1]
    assert identity.cluster(rows, d + 1e-4).tolist() == [0, 1, 0, 1]   # <= joins
    assert identity.cluster(rows, d - 1e-4).tolist() == [0, 1, 2, 1]
    assert identity.cluster(rows, 0.1, order=[1, 0, 3, 2]).tolist() == [1, 0, 1, 0]
    # per-row limits: the stricter of the row's and the leader's decides
    assert identity.cluster(rows, [0.1, 0.1, 0.01, 0.1]).tolist() == [0, 1, 2, 1]
    assert identity.cluster(rows, [0.01, 0.1, 0.1, 0.1]).tolist() == [0, 1, 2, 1]
    # nearest leader, not the first within the limit
    mid = unit(1, 1, 0)
    near_b = unit(0.1, 1, 0)
    assert identity.cluster(np.stack([a, b, near_b]), 0.5).tolist() == [0, 1, 1]
    assert identity.cluster(np.stack([a, b, mid]), 0.5).tolist() == [0, 1, 0]
    assert identity.cluster(a, 0.1).tolist() == [0]
    assert identity.cluster(np.stack([a, b]), 0.1).dtype == np.int64


def test_aggregate_means_medians_and_refusals():
    rows = np.array([[2.0, 0, 0], [0, 1.0, 0]], np.float32)
    assert np.allclose(identity.aggregate(rows), unit(1, 1, 0))          # unweighted mean
    assert np.allclose(identity.aggregate(rows, "mean", [3.0, 1.0]), unit(3, 1, 0))
    assert np.allclose(identity.aggregate(rows, "median"), unit(0.5, 0.5, 0))
    with pytest.raises(ValueError, match="^no embeddings to combine$"):
        identity.aggregate(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"^unknown method 'mode'; choose one of \['mean', "
                       r"'median'\]$"):
        identity.aggregate(rows, "mode")


def test_verify_and_top_k_report_in_the_given_metric_and_groups():
    v = identity.verify(unit(1, 0), unit(0, 1), 1.0, metric="euclidean")
    assert v.metric == "euclidean" and v.distance == pytest.approx(np.sqrt(2), abs=1e-5)
    assert not v.same and "euclidean distance 1.414 > threshold 1.000" in v.text
    gallery = np.stack([unit(1, 0), unit(1, 0.1), unit(0, 1)])
    idx, sims = identity.top_k(unit(1, 0.05)[None], gallery, 3, groups=np.array([0, 2]))
    assert idx.tolist() == [[0, 1]] and sims.shape == (1, 2)
    idx, _ = identity.top_k(unit(1, 0.05)[None].astype(np.float64), gallery, 3)
    assert sorted(idx[0].tolist()[:2]) == [0, 1] and idx[0, 2] == 2


def weights(widths, width):
    return [(layer, round(w, 4)) for layer, w in identity.layer_weights(widths, width)]


def test_layer_weights_interpolate_in_log_width():
    share = round(np.log(1.5) / np.log(2), 4)                  # 1.5x past a layer, 2x apart
    assert identity.FULL_LAYER_SPAN == 2.0
    assert weights((), 10) == [(-1, 1.0)]
    w = (16, 32)                                                # full layer at 64 px
    assert weights(w, 64) == [(-1, 1.0)] and weights(w, 500) == [(-1, 1.0)]
    assert weights(w, 16) == [(0, 1.0)] and weights(w, 5) == [(0, 1.0)]
    assert weights(w, 24) == [(0, round(1 - share, 4)), (1, share)]
    assert weights(w, 32) == [(1, 1.0), (-1, 0.0)]
    assert weights(w, 48) == [(1, round(1 - share, 4)), (-1, share)]
    assert weights((8, 16, 32), 12) == [(0, round(1 - share, 4)), (1, share)]
    assert weights((8, 16, 32), 20) == [(1, round(1 - np.log(1.25) / np.log(2), 4)),
                                        (2, round(np.log(1.25) / np.log(2), 4))]
    assert weights((1, 4), 0.5) == [(0, 1.0)] and weights((1, 4), 0) == [(0, 1.0)]
    assert weights((1, 4), 2) == [(0, 0.5), (1, 0.5)]
