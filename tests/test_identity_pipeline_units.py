"""`pipeline/identity.py` with synthetic embeddings and a stand-in embedder (no models): names,
embedded-face checks, references, compare, face models, layer limits, search, reports, the
reference selection with tracks, stored files, and the small-face embedding path (issue 15
item 4: outcomes that kill behaviour-changing mutants).
"""
import json

import numpy as np
import pytest
import torch

from face_pipeline.models.embedders import default_threshold, layer_threshold
from face_pipeline.pipeline import identity as ops
from face_pipeline.vision import identity
from face_pipeline.vision.face import Face, FaceSet
from face_pipeline.vision.gallery import FaceModel, Gallery
from face_pipeline.vision.quality import face_quality

MODEL, D = "dlib_resnet_v1", 128


def unit(i, j=None, mix=0.0):
    v = np.zeros(D, np.float32)
    v[i] = 1.0
    if j is not None:
        v[j] = mix
    return v / np.linalg.norm(v)


def face(embedding=None, box=(10, 10, 60, 60), model=MODEL, quality=0.8, width=None,
         track=None, gate=None):
    return Face(np.array(box, np.float32), 0.9, np.array([[20, 25], [50, 25], [35, 40],
                                                          [24, 50], [46, 50]], np.float32),
                embedding=None if embedding is None else np.asarray(embedding, np.float32),
                embedding_model=model, quality=quality, source_width=width, track_id=track,
                fusion_gate=gate)


def test_parse_names_splits_on_commas_and_lines():
    assert ops.parse_names(" ann, bob\ncy ,,\n\n dee ") == ["ann", "bob", "cy", "dee"]
    assert ops.parse_names("") == []


def test_embedded_faces_pick_face_and_references():
    faces = FaceSet([[face(unit(0)), face(unit(1))], [], [face(unit(2))]])
    assert [(i, j) for i, j, _ in ops.embedded_faces(faces)] == [(0, 0), (0, 1), (2, 0)]
    assert ops.pick_face(faces, 2).embedding[2] == 1.0
    for bad in (-1, 3):
        with pytest.raises(ValueError, match=rf"^face index {bad} is out of range: 3 face\(s\) "
                           r"found$"):
            ops.pick_face(faces, bad)
    with pytest.raises(ValueError, match="^these FACES have no embeddings: pass them through "
                       "Face Embedding first$"):
        ops.embedded_faces(FaceSet([[face(unit(0)), face(None)]]))
    with pytest.raises(ValueError, match=r"^these FACES mix embeddings of several models "
                       r"\['a', 'b'\]$"):
        ops.embedded_faces(FaceSet([[face(unit(0), model="b"), face(unit(1), model="a")]]))
    emb, model = ops.reference_embedding(faces, 1)
    assert model == MODEL and emb[1] == 1.0
    assert ops.reference_embedding(faces)[0][0] == 1.0           # default: the first face
    fm = FaceModel.build("ann", MODEL, np.stack([unit(3)]), np.ones(1), ("x",))
    emb, model = ops.reference_embedding(fm, 5)
    assert model == MODEL and emb[3] == pytest.approx(1.0)


def test_thresholds_and_compare():
    assert ops.resolve_threshold(0.3, MODEL, "cosine") == 0.3
    assert ops.resolve_threshold(0.0, MODEL, "euclidean") == default_threshold(MODEL, "euclidean")
    faces = FaceSet([[face(unit(0)), face(unit(0, 1, 0.2))]])
    v = ops.compare(faces, faces, index_b=1)                     # euclidean, default limit
    assert v.metric == "euclidean" and v.threshold == pytest.approx(default_threshold(MODEL,
                                                                                      "euclidean"))
    assert v.distance == pytest.approx(np.linalg.norm(unit(0) - unit(0, 1, 0.2)), abs=1e-5)
    assert v.same
    c = ops.compare(faces, faces, index_a=1, index_b=0, metric="cosine", threshold=0.001)
    assert c.metric == "cosine" and c.threshold == 0.001 and not c.same
    other = FaceSet([[face(unit(0), model="arcface")]])
    with pytest.raises(ValueError, match="^the second face was embedded with 'arcface' but "):
        ops.compare(faces, other)


def test_layer_limits_scale_with_the_threshold():
    g = Gallery(MODEL, ("a",), unit(0)[None], [1], ("x",), (16, 24),
                np.stack([unit(0)[None], unit(0)[None]]))
    assert ops.layer_thresholds(g, 0.0, "cosine") == pytest.approx(
        (layer_threshold(MODEL, 16), layer_threshold(MODEL, 24)))
    full = default_threshold(MODEL, "cosine")
    assert ops.layer_thresholds(g, full / 2, "cosine") == pytest.approx(
        (layer_threshold(MODEL, 16) / 2, layer_threshold(MODEL, 24) / 2), rel=1e-5)
    eu = ops.layer_thresholds(g, 0.0, "euclidean")
    assert eu[0] == pytest.approx(np.sqrt(2 * layer_threshold(MODEL, 16)))
    half_eu = identity.convert_distance(full / 2, "cosine", "euclidean")
    assert ops.layer_thresholds(g, half_eu, "euclidean")[1] == pytest.approx(
        np.sqrt(2 * layer_threshold(MODEL, 24) / 2), rel=1e-5)
    assert ops.layer_thresholds(Gallery(MODEL, ("a",), unit(0)[None], [1], ("x",)), 0,
                                "cosine") == ()


def gallery():
    return Gallery(MODEL, ("ann", "bob", "cy", "dee"),
                   np.stack([unit(0), unit(1), unit(2), unit(3)]), [1] * 4,
                   ("ann.jpg", "bob.jpg", "cy.jpg", "dee.jpg"), (16,),
                   np.stack([unit(1), unit(0), unit(2), unit(3)])[None])  # layer: ann <-> bob


def test_search_uses_the_captured_width_and_defaults():
    assert ops.search(FaceSet([[]]), gallery()) == []
    faces = FaceSet([[face(unit(0, 4, 0.1), width=16)], [face(unit(0, 4, 0.1), width=400)]])
    small, large = ops.search(faces, gallery())
    assert (small.frame, small.index, large.frame) == (0, 0, 1)
    assert small.result.identity == "bob" and large.result.identity == "ann"
    assert len(small.result.matches) == 3                       # default k
    assert large.result.threshold == pytest.approx(default_threshold(MODEL, "euclidean"))
    flat = ops.search(faces, gallery(), multiscale=False, k=1, metric="cosine", threshold=0.5)
    assert [h.result.identity for h in flat] == ["ann", "ann"] and len(flat[0].result.matches) == 1
    assert flat[0].result.threshold == pytest.approx(0.5)
    with pytest.raises(ValueError, match="^these faces was embedded with 'arcface' but "):
        ops.search(FaceSet([[face(unit(0), model="arcface")]]), gallery())


def hits():
    faces = FaceSet([[face(unit(0, 4, 0.1), box=(10.26, 20, 60, 70), quality=0.45678,
                           width=40.26)],
                     [face(unit(7), gate=0.4)]])
    return ops.search(faces, gallery(), k=2, metric="cosine", threshold=0.123456)


def test_hits_json_and_text():
    found = hits()
    first, second = ops.hits_json(found)
    m = found[0].result.matches
    assert json.dumps(first) == json.dumps({
        "frame": 0, "face": 0, "box": [10.3, 20.0, 60.0, 70.0], "quality": 0.457,
        "identity": "ann", "captured_width": 40.3, "enhanced": False,
        "threshold": round(found[0].result.threshold, 4),
        "matches": [{"name": x.name, "distance": round(x.distance, 4), "score": round(x.score, 1),
                     "source": x.source} for x in m]})
    assert first["threshold"] == 0.1235 and first["matches"][0]["source"] == "ann.jpg"
    assert second["identity"] == "unknown" and second["enhanced"] is True
    text = ops.hits_text(found).split("\n")
    assert text[0] == (f"frame 0 face 0: ann (ann, distance {m[0].distance:.3f}, "
                       f"score {m[0].score:.0f})")
    assert text[1].startswith("frame 1 face 0: unknown (") and \
        text[1].endswith(") [enhanced pixels used]")
    assert text[2] == "Enhanced images are not evidence on their own; check the captured frames."
    assert ops.hits_text([]) == "no faces" and len(ops.hits_text(found[:1]).split("\n")) == 1


def test_draw_hits_boxes_known_green_and_unknown_red():
    image = torch.full((2, 100, 120, 3), 128 / 255)
    out = ops.draw_hits(image, hits())
    assert out.shape == image.shape
    u8 = np.round(out.numpy() * 255).astype(int)
    near = lambda px, c: np.abs(px - c).max(-1) <= 40
    assert near(u8[0, 45, 10], ops.KNOWN) and not near(u8[0, 45, 10], ops.UNKNOWN)
    assert near(u8[1, 35, 10], ops.UNKNOWN)
    assert (u8[0, 90:, 80:] == 128).all()                       # away from the box: untouched
    assert torch.equal(ops.draw_hits(image, []), image)


def test_select_by_reference_keeps_near_faces_and_whole_tracks():
    ref = FaceSet([[face(unit(0))]])
    faces = FaceSet([[face(unit(0, 1, 0.1)), face(unit(1))],
                     [face(unit(0, 1, 0.1), track=5)], [face(unit(1), track=5)],
                     [face(unit(2), track=6)], [face(unit(0), track=6)], [face(unit(1), track=6)]])
    selected, dist = ops.select_by_reference(faces, ref, threshold=0.05)
    assert len(dist) == 7 and dist[1] == pytest.approx(1.0) and dist[0] < 0.01
    kept = [[f.embedding.argmax() for f in fs] for fs in selected.frames]
    # untracked: by distance; track 5 (median 0.5) and track 6 (median 1, though frame 4 is
    # the reference itself) are kept or dropped whole
    assert kept == [[0], [], [], [], [], []]
    loose, _ = ops.select_by_reference(faces, ref, threshold=0.6)   # track 5 median 0.5
    assert [[f.embedding.argmax() for f in fs] for fs in loose.frames] == [[0], [0], [1], [], [],
                                                                          []]
    same, d = ops.select_by_reference(FaceSet([[]]), ref)
    assert d == [] and same.count == 0
    default, d = ops.select_by_reference(faces, ref)              # cosine, model default
    assert default.frames[0] and not default.frames[3]
    fm = FaceModel.build("x", MODEL, np.stack([unit(1)]), np.ones(1), ("x",))
    by_model, _ = ops.select_by_reference(faces, fm, threshold=0.05)
    assert [len(fs) for fs in by_model.frames] == [1, 0, 0, 0, 0, 0]
    two = FaceSet([[face(unit(0)), face(unit(1))]])
    second, _ = ops.select_by_reference(faces, two, reference_index=1, threshold=0.05)
    assert second.frames[0][0].embedding[1] == 1.0
    with pytest.raises(ValueError, match="^these faces was embedded with 'arcface' but "):
        ops.select_by_reference(FaceSet([[face(unit(0), model="arcface")]]), ref)


def test_build_face_model_leaves_out_poor_faces_and_extends():
    faces = FaceSet([[face(unit(0), quality=0.9), face(unit(5))], [face(unit(1), quality=0.1)],
                     [face(unit(0, 1, 0.5), quality=0.2)]])
    model, report = ops.build_face_model(faces, "ann")
    assert model.sources == ("image 0", "image 2") and model.method == "mean"
    assert report.split("\n") == [
        f"face model 'ann' ({MODEL}): 2 photo(s), mean, quality {model.quality:.2f}",
        "image 1: quality 0.10 < 0.20, left out"]
    median, _ = ops.build_face_model(faces, "ann", method="median", min_quality=0.05)
    assert median.method == "median" and len(median.sources) == 3
    with pytest.raises(ValueError, match=r"^no face of quality >= 0.95 to build 'ann' from \(3 "
                       r"face\(s\) found\); use sharper, larger photos or lower min_quality$"):
        ops.build_face_model(faces, "ann", min_quality=0.95)
    base = FaceModel.build("ann", MODEL, np.stack([unit(9)]), np.ones(1), ("old.jpg",))
    grown, _ = ops.build_face_model(faces, "ann", base=base)
    assert grown.sources == ("old.jpg", "image 0", "image 2")


class Stand:
    """A stand-in embedder: the embedding says where the face's box centre is (x, y) and how
    wide it is, so tests can see which pixels and geometry reached it."""

    id = MODEL

    def __init__(self):
        self.calls = []

    def __call__(self, frame, faces):
        self.calls.append((frame.shape, tuple(f.box.copy() for f in faces)))
        out = []
        for f in faces:
            v = np.zeros(D, np.float32)
            v[0], v[1], v[2] = f.center[0], f.center[1], f.width
            out.append(v / np.linalg.norm(v))
        return np.stack(out), None


def test_small_faces_reach_the_embedder_upscaled_to_100_px():
    emb = Stand()
    frame = np.zeros((200, 300, 3), np.uint8)
    big, small = face(box=(10, 10, 130, 130)), face(box=(200, 100, 220, 120))
    vectors = ops.embed_vectors(emb, frame, (small, big))
    assert vectors.shape == (2, D) and ops.EMBED_MIN_WIDTH == 100.0
    (shape1, boxes1), (shape2, boxes2) = emb.calls
    assert shape1 == (200, 300, 3) and len(boxes1) == 1 and boxes1[0][0] == 10   # large: as is
    # small: the region 1.5 widths around it (170..250 x 70..150), scaled 5x
    assert shape2[:2] == (round(81 * 5), round(81 * 5))
    assert np.allclose(boxes2[0], [150, 150, 250, 250])
    assert vectors[0][2] > 0 and ops.embed_vectors(emb, frame, ()).shape == (0, 0)
    edge = face(box=(0, 0, 20, 20))                               # clipped at the frame corner
    ops.embed_vectors(emb, frame, (edge,))
    assert emb.calls[-1][0][:2] == (round(51 * 5), round(51 * 5))
    assert np.allclose(emb.calls[-1][1][0], [0, 0, 100, 100])


def test_embedded_faces_carry_model_quality_width_and_notes():
    emb, frame = Stand(), np.random.default_rng(0).integers(0, 255, (200, 300, 3)).astype(np.uint8)
    faces = (face(box=(10, 10, 130, 130), model=None),
             face(box=(200, 100, 230, 130), width=12.0, model=None))
    out, notes = ops._embed(emb, frame, faces)
    for f, o in zip(faces, out):                               # measured at the captured width
        assert o.quality == face_quality(frame, f.keypoints, f.box, f.captured_width).quality
    assert [f.embedding_model for f in out] == [MODEL, MODEL]
    assert out[0].source_width == 120.0 and out[1].source_width == 12.0
    assert all(f.fusion_gate is None for f in out)
    assert len(notes) >= 1 and notes[-1].startswith("12 px face, quality ") and \
        notes[-1].endswith(": flagged small + blurry; its identity results are unreliable") or \
        notes[-1].endswith(": flagged small; its identity results are unreliable")
    big = np.kron(frame, np.ones((2, 2, 1), np.uint8))            # an "enhanced" 2x copy
    emb.calls.clear()
    raw, _ = ops._embed(emb, frame, faces[:1], big, "raw")
    assert [c[0][:2] for c in emb.calls] == [(200, 300)]           # raw: the enhanced copy unused
    assert raw[0].fusion_gate == 1.0 and np.allclose(raw[0].embedding, out[0].embedding)
    emb.calls.clear()
    only, _ = ops._embed(emb, frame, faces[:1], big, "enhanced")
    assert [c[0][:2] for c in emb.calls] == [(400, 600)]           # enhanced: the copy only
    assert only[0].fusion_gate == 0.0 and only[0].enhanced
    assert np.allclose(only[0].embedding, ops.embed_vectors(emb, big, (faces[0].scaled(2, 2),))[0])
    gated, _ = ops._embed(emb, frame, faces[:1], big)
    moved = faces[0].scaled(2, 2)
    gate = identity.fusion_gate(out[0].quality, face_quality(
        big, moved.keypoints, moved.box, faces[0].captured_width).quality)
    assert gated[0].fusion_gate == pytest.approx(gate) and 0 < gate < 1
    assert np.allclose(gated[0].embedding, identity.fuse(out[0].embedding, only[0].embedding,
                                                         gate), atol=1e-6)


def test_stored_files_names_paths_and_refusals(tmp_path, monkeypatch):
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path / "a") + ":" + str(tmp_path / "b"))
    assert ops.stored_names("gallery") == []
    with pytest.raises(ValueError, match=r"^gallery file name ' ' is empty or hidden: give a "
                       r"name like 'alice' or 'team/alice'$"):
        ops.stored_path("gallery", " ", existing=False)
    for bad in (".hidden", "team/", "team/.x.safetensors"):
        with pytest.raises(ValueError, match="is empty or hidden"):
            ops.stored_path("face_model", bad, existing=False)
    assert ops.stored_path("gallery", "team/x", existing=False) == \
        tmp_path / "a" / "galleries" / "team" / "x.safetensors"
    with pytest.raises(FileNotFoundError, match=r"^no face model 'bob.safetensors' in .*a/faces, "
                       r".*b/faces: save one with Save Face Model first$"):
        ops.stored_path("face_model", "bob", existing=True)
    g = gallery()
    path = ops.save_stored("gallery", g, "team/x", False)
    assert path == tmp_path / "a" / "galleries" / "team" / "x.safetensors" and path.is_file()
    with pytest.raises(FileExistsError, match=r"^gallery file .*x.safetensors already exists: "
                       r"turn on overwrite to replace it, or choose another filename$"):
        ops.save_stored("gallery", g, "team/x", False)
    ops.save_stored("gallery", g, "team/x.safetensors", True)
    (tmp_path / "b" / "galleries").mkdir(parents=True)
    (tmp_path / "b" / "galleries" / ".tmp.safetensors").write_bytes(b"")
    ops.save_stored("gallery", g, "other", False)
    assert ops.stored_names("gallery") == ["other.safetensors", "team/x.safetensors"]
    back = ops.load_stored("gallery", "team/x")
    assert back.names == g.names and np.allclose(back.embeddings, g.embeddings)
    fm = FaceModel.build("ann", MODEL, np.stack([unit(2)]), np.ones(1), ("x",))
    ops.save_stored("face_model", fm, "ann", False)
    assert ops.load_stored("face_model", "ann").name == "ann"
    wrong = FaceModel.build("ann", MODEL, np.ones((1, 64), np.float32), np.ones(1), ("x",))
    ops.save_stored("face_model", wrong, "wrong", False)
    with pytest.raises(ValueError, match=r"wrong.safetensors holds 64-d embeddings but "
                       r"'dlib_resnet_v1' makes 128-d ones: the file is damaged or was written by "
                       r"another tool; rebuild it$"):
        ops.load_stored("face_model", "wrong")
    found = tmp_path / "b" / "faces" / "far.safetensors"
    found.parent.mkdir(parents=True)
    (tmp_path / "a" / "faces" / "ann.safetensors").rename(found)
    assert ops.stored_path("face_model", "far", existing=True) == found   # any models folder


@pytest.fixture
def stand(monkeypatch):
    emb, loads = Stand(), []
    monkeypatch.setattr(ops, "load_embedder",
                        lambda *args: loads.append(args) or emb)
    emb.loads = loads
    return emb


def frames(n=2, h=200, w=300):
    rng = np.random.default_rng(1)
    return torch.from_numpy(rng.random((n, h, w, 3), dtype=np.float32))


def test_embed_faces_fills_every_face_and_reports(stand):
    image = frames()
    faces = FaceSet([[face(box=(10, 10, 130, 130)), face(box=(200, 100, 212, 112))], []],
                    [(200, 300)] * 2)
    out, report = ops.embed_faces(image, faces, device="cpu", allow_download=False)
    assert stand.loads == [(ops.DEFAULT_EMBEDDER, "cpu", False)]
    assert out.count == 2 and all(f.embedding_model == MODEL for _, _, f in out.items())
    assert out.image_sizes == faces.image_sizes
    lines = report.split("\n")
    assert lines[0].startswith("frame 0: WARNING 12 px face, quality ")
    assert lines[-2] == f"frame 0 face 0: 120 px, quality {out.frames[0][0].quality:.2f}"
    assert lines[-1].startswith("frame 0 face 1: 12 px, quality ")
    half = FaceSet([[f.scaled(0.5, 0.5) for f in faces.frames[0]], []], [(100, 150)] * 2)
    moved, _ = ops.embed_faces(image, half)                   # found on a half-size copy
    assert np.allclose(moved.frames[0][0].box, [10, 10, 130, 130])
    assert stand.loads[-1] == (ops.DEFAULT_EMBEDDER, "auto", None)
    assert ops.embed_faces(image, FaceSet([[], []]))[1] == "no faces"
    with pytest.raises(ValueError, match=r"^unknown fusion 'mix'; choose one of \['gated', "
                       r"'raw', 'enhanced'\]$"):
        ops.embed_faces(image, faces, fusion="mix")


def test_embed_faces_with_an_enhanced_copy(stand):
    image = frames()
    faces = FaceSet([[face(box=(10, 10, 130, 130))], []], [(200, 300)] * 2)
    big = torch.nn.functional.interpolate(image.permute(0, 3, 1, 2), scale_factor=2).permute(
        0, 2, 3, 1).contiguous()
    out, report = ops.embed_faces(image, faces, enhanced_image=big, fusion="enhanced")
    assert out.frames[0][0].fusion_gate == 0.0
    assert report.endswith(", enhanced fusion raw weight 0.00 (ENHANCED pixels used: not "
                           "evidence on their own)")
    raw, report = ops.embed_faces(image, faces, enhanced_image=big, fusion="raw")
    assert report.endswith(", raw fusion raw weight 1.00")
    for bad, shape in ((big[:1], "1, 400, 600"), (big[:, :, :500], "2, 400, 500")):
        with pytest.raises(ValueError, match=rf"^enhanced_image \({shape}\) must be the same "
                           r"frames as image \(2, 200, 300\) \(same count and aspect; any "
                           r"size\)$"):
            ops.embed_faces(image, faces, enhanced_image=bad)
    nan = big.clone()
    nan[1, 5, 5, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^enhanced_image: frame 1 has 1 NaN"):
        ops.embed_faces(image, faces, enhanced_image=nan)
    ops.embed_faces(image, faces, enhanced_image=big[:, :, :597])   # aspect within 2 %
    with pytest.raises(ValueError, match="enhanced_image"):
        ops.embed_faces(image, faces, enhanced_image=torch.zeros(2, 0, 4, 3))


def test_layers_embed_the_face_shrunk_to_each_width(stand):
    frame = np.random.default_rng(2).integers(0, 255, (200, 300, 3)).astype(np.uint8)
    f = face(box=(100, 50, 180, 130))                           # 80 px wide
    full = np.full(D, 7.0, np.float32)
    layers = ops._embed_at_widths(stand, frame, f, (16, 40, 80, 120), full)
    assert layers.shape == (4, D) and (layers[2] == 7).all() and (layers[3] == 7).all()
    assert len(stand.calls) == 2                                # 80 and 120: no embedding
    # 16 px: the region one width around (20..260 x 0..200) shrunk 5x, then the small-face path
    shapes = [c[0] for c in stand.calls]
    assert shapes[0][:2] == (250, 300)     # region 240 x 200 / 5 = 48 x 40, then x 6.25
    g, notes = ops.gallery_from_images(torch.from_numpy(frame[None] / 255.0).float(),
                                       FaceSet([[f]], [(200, 300)]), ["ann"], widths=(16,))
    assert g.widths == (16,) and g.scaled.shape == (1, 1, D) and g.sources == ("image 0",)


def test_gallery_from_images_names_each_frame(stand):
    image = frames(3)
    faces = FaceSet([[face(box=(10, 10, 130, 130)), face(box=(150, 10, 270, 130))], [],
                     [face(box=(20, 20, 140, 140))]], [(200, 300)] * 3)
    g, report = ops.gallery_from_images(image, faces, ["ann", "bob", "cy"], device="cpu",
                                        allow_download=True)
    assert stand.loads == [(ops.DEFAULT_EMBEDDER, "cpu", True)]
    assert g.names == ("ann", "cy") and g.sources == ("image 0", "image 2") and g.widths == ()
    assert report.split("\n")[1:] == ["image 1 (bob): no face, skipped"]
    assert report.split("\n")[0] == g.summary()
    ops.gallery_from_images(image, faces, ["ann", "bob", "cy"])
    assert stand.loads[-1] == (ops.DEFAULT_EMBEDDER, "auto", None)
    with pytest.raises(ValueError, match=r"^got 2 names for 3 images: give one name per image, "
                       r"separated by commas or new lines$"):
        ops.gallery_from_images(image, faces, ["ann", "bob"])
    with pytest.raises(ValueError, match="^no face could be embedded: the gallery would be "
                       "empty$"):
        ops.gallery_from_images(image[:1], FaceSet([[]], [(200, 300)]), ["ann"])


def test_gallery_from_folder_reads_person_folders(stand, tmp_path, monkeypatch):
    from PIL import Image
    found = []

    def detect(image, detector, max_faces, device, allow_download):
        found.append((detector, max_faces, device, allow_download, tuple(image.shape)))
        if image.shape[2] == 64:                                  # the "faceless" photo
            return FaceSet([[]])
        return FaceSet([[face(box=(10, 10, 60, 60))]])

    monkeypatch.setattr(ops, "detect_faces", detect)
    root = tmp_path / "people"
    for person, files in {"ann": ["0.txt", "00.jpg", "1.jpg", "2.png"], "bob": ["x.webp"],
                          "cy": ["empty.jpg"]}.items():
        (root / person).mkdir(parents=True)
        for name in files:
            if name.endswith(".txt"):
                (root / person / name).write_text("hi")
            elif name in ("empty.jpg", "00.jpg"):
                (root / person / name).write_bytes(b"")
            else:
                size = (64, 48) if person == "bob" else (120, 100)
                Image.new("RGB", size, (90, 120, 150)).save(root / person / name)
    (root / "loose.jpg").write_bytes(b"")
    (root / "ann" / "0link.jpg").symlink_to(tmp_path / "outside.jpg")
    (tmp_path / "outside.jpg").write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (root / "aaa").symlink_to(tmp_path / "elsewhere")          # a person folder outside
    g, report = ops.gallery_from_folder(root, device="cpu", allow_download=False)
    assert g.names == ("ann", "ann") and g.sources == ("ann/1.jpg", "ann/2.png")
    assert found[0][:4] == (ops.DEFAULT_DETECTOR, 1, "cpu", False)
    assert stand.loads == [(ops.DEFAULT_EMBEDDER, "cpu", False)]
    lines = report.split("\n")
    assert lines[0] == g.summary()
    assert lines[1:3] == ["aaa/: links outside the gallery folder, skipped",
                          "ann/0link.jpg: links outside the gallery folder, skipped"]
    assert lines[3].startswith("ann/00.jpg: could not be read (UnidentifiedImageError: ")
    assert "bob/x.webp: no face found, skipped" in lines
    assert any(l.startswith("cy/empty.jpg: could not be read (") and l.endswith("), skipped")
               for l in lines)
    with pytest.raises(ValueError, match=r"does not exist$"):
        ops.gallery_from_folder(tmp_path / "nowhere")
    (tmp_path / "none" / "ann").mkdir(parents=True)
    (tmp_path / "none" / "bob").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match=r"holds no photos in per-person subfolders \(expected "
                       r"<folder>/<name>/<photo>.jpg\)\nbob/: links outside the gallery "
                       r"folder, skipped$"):
        ops.gallery_from_folder(tmp_path / "none")
    with pytest.raises(ValueError, match=r"^no face could be embedded from .*only: the gallery "
                       r"would be empty\nbob/x.webp: no face found, skipped$"):
        only_bob = tmp_path / "only"
        (only_bob / "bob").mkdir(parents=True)
        Image.new("RGB", (64, 48)).save(only_bob / "bob" / "x.webp")
        ops.gallery_from_folder(only_bob)
    layered, _ = ops.gallery_from_folder(root, widths=(16, 24))
    assert stand.loads[-1] == (ops.DEFAULT_EMBEDDER, "auto", None)
    assert layered.widths == (16, 24) and layered.scaled.shape == (2, 2, D)


def test_build_face_model_with_photos_adds_layers(stand):
    image = frames(2)
    faces = FaceSet([[face(unit(0), box=(10, 10, 130, 130))], [face(unit(1), box=(20, 20, 140,
                                                                                   140))]],
                    [(200, 300)] * 2)
    model, report = ops.build_face_model(faces, "ann", image=image, device="cpu")
    assert model.widths == ops.GALLERY_WIDTHS == (16, 24, 32, 48)
    assert stand.loads == [(MODEL, "cpu")]
    assert report.split("\n")[0].endswith(", also at face widths [16, 24, 32, 48] px")
    half = FaceSet([[f.scaled(0.5, 0.5) for f in fs] for fs in faces.frames], [(100, 150)] * 2)
    mapped, _ = ops.build_face_model(half, "ann", image=image)
    assert mapped.widths == model.widths and stand.loads[-1] == (MODEL, "auto")
