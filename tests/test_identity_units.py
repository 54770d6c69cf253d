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


def test_normalize_gives_float32_unit_rows():
    out = identity.normalize(np.array([[3, 4], [0, 0]], np.int64))
    assert out.dtype == np.float32 and np.allclose(out, [[0.6, 0.8], [0, 0]])
    assert identity.normalize(np.array([0.0, 2.0])).dtype == np.float32


def test_distances_clip_rounding_and_default_to_cosine():
    with pytest.raises(ValueError, match=r"^unknown metric 'l1'; choose one of \['cosine', "
                       r"'euclidean'\]$"):
        identity.to_distance(0.5, "l1")
    # similarities a hair outside -1..1 (float rounding) are clipped, never NaN or > 2
    assert float(identity.to_distance(1.0001, "euclidean")) == 0.0
    assert float(identity.to_distance(1.0001, "cosine")) == 0.0
    assert float(identity.to_distance(-1.5, "cosine")) == 2.0
    assert float(identity.to_distance(-1.5, "euclidean")) == pytest.approx(2.0)
    a, b = unit(1, 0, 0), unit(1, 1, 0)
    assert identity.distances(a, b)[0, 0] == pytest.approx(1 - np.sqrt(0.5))
    v = identity.verify(a, b, 0.3)
    assert v.metric == "cosine" and v.distance == pytest.approx(1 - np.sqrt(0.5)) and v.same


def test_match_score_is_100_at_zero_50_at_the_threshold_0_at_twice_it():
    assert identity.match_score(0.0, 0.3) == pytest.approx(100.0)
    assert identity.match_score(0.15, 0.3) == pytest.approx(75.0)
    assert identity.match_score(0.3, 0.3) == pytest.approx(50.0)
    assert identity.match_score(0.45, 0.3) == pytest.approx(25.0)
    assert identity.match_score(0.6, 0.3) == pytest.approx(0.0, abs=1e-9)
    assert identity.match_score(1.0, 0.3) == 0.0              # clipped, not negative
    assert identity.Verdict(0.3, 0.3, "cosine").text.endswith("(match 50/100)")


def test_top_k_of_ranks_best_first_and_returns_empty_for_k_0():
    rng = np.random.default_rng(0)
    sims = rng.uniform(-1, 1, (40, 9)).astype(np.float32)
    for k in (1, 2, 5, 9):
        idx, top = identity.top_k_of(sims, k)
        assert idx.tolist() == np.argsort(-sims, axis=1)[:, :k].tolist()
        assert np.array_equal(top, np.take_along_axis(sims, idx, axis=1))
    wide = rng.uniform(-1, 1, (40, 300)).astype(np.float32)
    assert identity.top_k_of(wide, 1)[0][:, 0].tolist() == np.argmax(wide, axis=1).tolist()
    names = np.array(["a", "b", "c"])
    for s, k in ((sims[:4, :3], 0), (sims[:4, :3], -2), (np.zeros((4, 0), np.float32), 3)):
        idx, top = identity.top_k_of(s, k)
        assert idx.shape == (4, 0) and top.shape == (4, 0)
        assert names[idx].shape == (4, 0)                      # usable as indices
    idx, top = identity.top_k_of(sims[:2, :3], 5)               # k > N: all, ranked
    assert idx.shape == (2, 3) and np.all(np.diff(top, axis=1) <= 0)


def test_quality_flags_name_small_and_blurry_faces_below_the_limits():
    assert identity.quality_flags(39.9, 0.1) == ("small", "blurry")
    assert identity.quality_flags(10, 0.9) == ("small",)
    assert identity.quality_flags(100, 0.34) == ("blurry",)
    assert identity.quality_flags(identity.SMALL_FACE, identity.BLURRY) == ()


def test_cluster_joins_at_exactly_the_limit_and_labels_unvisited_rows():
    a, b = unit(1, 0, 0), unit(0, 1, 0)
    assert identity.cluster(np.stack([a, a, b]), 0.0).tolist() == [0, 0, 1]
    assert identity.cluster(np.stack([a, b, a]), 0.1, order=[2, 1]).tolist() == [-1, 1, 0]
