"""`vision/gallery.py` on small synthetic embeddings (no photos, no models): face models built,
extended and saved; galleries sorted, grouped, merged, edited and searched (with resolution
layers); damaged files refused naming the field.  Each test asserts outcomes (which entry,
which distance, which error), written to kill behaviour-changing mutants (issue 15 item 4).
"""
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from face_pipeline.vision import gallery as store
from face_pipeline.vision import identity
from face_pipeline.vision.gallery import FaceModel, Gallery


def unit(*v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


E = np.eye(4, dtype=np.float32)


def face_model(name="ann", model="m", rows=(0, 1), quality=(1.0, 0.5), widths=(), layers=None,
               method="mean"):
    return FaceModel.build(name, model, E[list(rows)] * 3.0, np.array(quality),
                           tuple(f"{name}/{r}.jpg" for r in rows), method, widths, layers)


# --------------------------------------------------------------------------- face models

def test_check_same_model_names_both_models():
    store.check_same_model("a", "a", "x")
    with pytest.raises(ValueError, match=r"^face model 'bo' was embedded with 'b' but this needs "
                       r"'a': embeddings of different models cannot be compared or mixed; "
                       r"re-embed with 'a'$"):
        store.check_same_model("a", "b", "face model 'bo'")


def test_build_normalises_and_weights_by_quality():
    fm = face_model(quality=(1.0, 0.0))
    assert np.allclose(fm.members, E[:2]) and fm.members.dtype == np.float32
    assert np.allclose(fm.embedding, E[0])            # weight 0 for the second photo
    assert fm.quality == pytest.approx(0.5)
    assert (fm.name, fm.model, fm.method, fm.sources) == ("ann", "m", "mean",
                                                          ("ann/0.jpg", "ann/1.jpg"))
    assert fm.widths == () and fm.member_layers is None and fm.scaled is None
    even = face_model(quality=(0.5, 0.5))
    assert np.allclose(even.embedding, unit(1, 1, 0, 0))
    med = face_model(rows=(0, 0, 1), quality=(0.1, 0.1, 1.0), method="median")
    assert np.allclose(med.embedding, E[0]) and med.method == "median"
    assert FaceModel("a", "m", E[0], E[:0], np.zeros(0), "mean", ()).quality == 0.0


def test_build_refuses_mismatched_parts():
    with pytest.raises(ValueError, match=r"^2 embeddings, 1 qualities and 2 sources do not match$"):
        FaceModel.build("a", "m", E[:2], np.ones(1), ("x", "y"))
    with pytest.raises(ValueError, match=r"^2 embeddings, 2 qualities and 1 sources do not match$"):
        FaceModel.build("a", "m", E[:2], np.ones(2), ("x",))
    with pytest.raises(ValueError, match=r"^face model layers \(\) do not match widths \(16,\) "
                       r"and members \(2, 4\)$"):
        FaceModel.build("a", "m", E[:2], np.ones(2), ("x", "y"), widths=(16,))
    with pytest.raises(ValueError, match=r"face model layers \(1, 2, 4\) do not match widths \(\)"):
        FaceModel.build("a", "m", E[:2], np.ones(2), ("x", "y"), member_layers=np.ones((1, 2, 4)))
    with pytest.raises(ValueError, match="do not match widths"):
        FaceModel.build("a", "m", E[:2], np.ones(2), ("x", "y"), widths=(16, 32),
                        member_layers=np.ones((1, 2, 4)))


def test_layers_are_normalised_and_combined_like_the_embedding():
    layers = np.stack([E[[2, 3]] * 5.0])
    fm = face_model(quality=(1.0, 0.0), widths=(np.int64(16),), layers=layers)
    assert fm.widths == (16,) and type(fm.widths[0]) is int
    assert np.allclose(fm.member_layers, E[[2, 3]][None])
    assert fm.scaled.shape == (1, 4) and np.allclose(fm.scaled[0], E[2])


def test_extend_adds_photos_and_keeps_layers_only_when_widths_agree():
    a = face_model("ann", rows=(0,), quality=(1.0,), widths=(16,), layers=E[[2]][None])
    b = face_model("bob", rows=(1,), quality=(0.5,), widths=(16,), layers=E[[3]][None])
    both = a.extend(b)
    assert (both.name, both.model, both.method) == ("ann", "m", "mean")
    assert both.sources == ("ann/0.jpg", "bob/1.jpg")
    assert np.allclose(both.members, E[:2]) and np.allclose(both.member_quality, [1.0, 0.5])
    assert np.allclose(both.embedding, unit(1.0, 0.5, 0, 0))
    assert both.widths == (16,) and np.allclose(both.member_layers, E[[2, 3]][None])
    other_widths = face_model("cy", rows=(1,), quality=(1.0,), widths=(24,), layers=E[[3]][None])
    mixed = a.extend(other_widths)
    assert mixed.widths == () and mixed.member_layers is None and len(mixed.members) == 2
    plain = face_model("dee", rows=(1,), quality=(1.0,))
    assert plain.extend(plain).member_layers is None
    med = face_model("ed", rows=(0,), quality=(1.0,), method="median")
    assert med.extend(plain).method == "median"
    with pytest.raises(ValueError, match=r"^face model 'zed' was embedded with 'other' but this "
                       r"needs 'm'"):
        a.extend(face_model("zed", model="other"))


# --------------------------------------------------------------------------- galleries

def test_entries_are_sorted_with_their_fields_and_grouped_by_name():
    g = Gallery("m", ("cy", "ann", "bob", "ann"), E * 2, [0.1, 0.2, 0.3, 0.4],
                ("c", "a1", "b", "a2"), (np.int64(8),), np.stack([E[::-1]]))
    assert g.names == ("ann", "ann", "bob", "cy")
    assert g.sources == ("a1", "a2", "b", "c")
    assert np.allclose(g.embeddings, 2 * E[[1, 3, 2, 0]])
    assert np.allclose(g.quality, [0.2, 0.4, 0.3, 0.1]) and g.quality.dtype == np.float32
    assert np.allclose(g.scaled[0], E[::-1][[1, 3, 2, 0]])
    assert g.widths == (8,) and type(g.widths[0]) is int
    assert g.groups.tolist() == [0, 2, 3]
    assert g.identities == ("ann", "bob", "cy") and len(g) == 4
    assert g.summary() == ("gallery of 3 identities (4 entries), model m, also at face widths "
                           "[8] px: ann, bob, cy")
    unique = Gallery("m", ("a", "b"), E[:2], [1, 1], ("x", "y"))
    assert unique.groups is None and unique.sources == ("x", "y")
    assert unique.summary() == "gallery of 2 identities (2 entries), model m: a, b"
    assert Gallery("m", ("a", "a"), E[:2], [1, 1], ("x", "y")).groups.tolist() == [0]
    one_out = Gallery("m", ("a", "c", "b"), E[:3], [1, 2, 3], ("x", "z", "y"))
    assert one_out.sources == ("x", "y", "z") and one_out.quality.tolist() == [1, 3, 2]
    empty = Gallery("m", ("a",), E[:1], [1], ("x",)).remove("a")   # the last one removed
    assert len(empty) == 0 and empty.embeddings.shape == (0, 4) and empty.groups is None
    assert empty.search(E[0], 0.5)[0].identity == identity.UNKNOWN


def test_gallery_refuses_mismatched_fields():
    with pytest.raises(ValueError, match=r"^gallery has 2 names, 1 qualities and 2 sources$"):
        Gallery("m", ("a", "b"), E[:2], [1], ("x", "y"))
    with pytest.raises(ValueError, match=r"^gallery has 2 names, 2 qualities and 1 sources$"):
        Gallery("m", ("a", "b"), E[:2], [1, 1], ("x",))
    with pytest.raises(ValueError, match=r"^gallery layers None do not match widths \(8,\) and "
                       r"embeddings \(2, 4\)$"):
        Gallery("m", ("a", "b"), E[:2], [1, 1], ("x", "y"), (8,))
    with pytest.raises(ValueError, match=r"^gallery layers \(1, 1, 4\) do not match widths"):
        Gallery("m", ("a", "b"), E[:2], [1, 1], ("x", "y"), (8,), np.ones((1, 1, 4)))
    with pytest.raises(ValueError, match=r"gallery layers \(1, 2, 4\) do not match widths \(\)"):
        Gallery("m", ("a", "b"), E[:2], [1, 1], ("x", "y"), (), np.ones((1, 2, 4)))


def test_merge_and_add_face_model_carry_layers():
    plain = Gallery("m", ("bob",), E[[1]], [0.5], ("b",))
    layered = Gallery("m", ("ann",), E[[0]], [1.0], ("a",), (16,), E[[2]][None])
    merged = plain.merge(layered)
    assert merged.names == ("ann", "bob") and merged.sources == ("a", "b") and merged.model == "m"
    assert merged.widths == (16,) and np.allclose(merged.scaled[0], E[[2, 1]])
    assert np.allclose(merged.quality, [1.0, 0.5])
    assert np.allclose(layered.merge(plain).scaled[0], E[[2, 1]])
    assert plain.merge(plain).widths == () and plain.merge(plain).scaled is None
    with pytest.raises(ValueError, match=r"^cannot merge galleries embedded at face widths "
                       r"\(24,\) and \(16,\)$"):
        layered.merge(Gallery("m", ("cy",), E[[3]], [1], ("c",), (24,), E[[3]][None]))
    with pytest.raises(ValueError, match=r"^the added entries was embedded with 'x'"):
        plain.merge(Gallery("x", ("cy",), E[[3]], [1], ("c",)))

    fm = face_model("cy", rows=(2, 3), quality=(1.0, 0.0), widths=(16,),
                    layers=np.stack([E[[0, 1]]]))
    added = layered.add_face_model(fm)
    assert added.names == ("ann", "cy")
    assert added.sources == ("a", "face model of 2 photo(s)")
    assert np.allclose(added.embeddings[1], E[2]) and added.quality[1] == pytest.approx(0.5)
    assert np.allclose(added.scaled[0, 1], E[0])       # its own layer, not its embedding
    into_plain = plain.add_face_model(fm)
    assert into_plain.widths == (16,) and np.allclose(into_plain.scaled[0], E[[1, 0]])
    no_layers = face_model("cy", rows=(2,), quality=(1.0,))
    stand_in = layered.add_face_model(no_layers)
    assert np.allclose(stand_in.scaled[0, 1], E[2])    # full embedding stands in
    other = face_model("cy", rows=(2,), quality=(1.0,), widths=(24,), layers=E[[0]][None])
    assert np.allclose(layered.add_face_model(other).scaled[0, 1], E[2])


def test_remove_drops_every_entry_of_the_name():
    g = Gallery("m", ("ann", "bob", "ann"), E[:3], [0.1, 0.2, 0.3], ("a1", "b", "a2"), (8,),
                np.stack([E[[3, 2, 1]]]))
    left = g.remove("ann")
    assert left.names == ("bob",) and left.sources == ("b",) and left.widths == (8,)
    assert left.model == "m"
    assert np.allclose(left.embeddings, E[[1]]) and np.allclose(left.quality, [0.2])
    assert np.allclose(left.scaled[0], E[[2]])
    assert Gallery("m", ("a", "b"), E[:2], [1, 1], ("x", "y")).remove("a").scaled is None
    with pytest.raises(KeyError, match=r"'zed' is not in the gallery \(ann, bob\)"):
        g.remove("zed")


def test_search_ranks_counts_people_once_and_applies_the_threshold():
    g = Gallery("m", ("ann", "bob", "ann", "cy"), [unit(1, 0, 0, 0), unit(0, 1, 0, 0),
                                                   unit(1, 0.2, 0, 0), unit(0, 0, 1, 0)],
                [1, 1, 1, 1], ("a1", "b", "a2", "c"))
    probe = unit(1, 0.25, 0, 0)
    (res,) = g.search(probe * 7, 0.1, k=2)
    assert [m.name for m in res.matches] == ["ann", "bob"]
    assert res.matches[1].source == "b"
    assert res.matches[0].source == "a2"              # the entry that matched best, not "a1"
    (first,) = g.search(unit(1, -0.1, 0, 0), 0.1, k=1)
    assert first.matches[0].source == "a1"
    many = Gallery("m", tuple("abcdefg"), np.eye(7, dtype=np.float32), [1] * 7, tuple("ABCDEFG"))
    (five,) = many.search(np.eye(7, dtype=np.float32)[2], 0.1)
    assert len(five.matches) == 5 and five.matches[0].source == "C"      # default k = 5
    d = 1 - float(probe @ unit(1, 0.2, 0, 0))
    assert res.matches[0].distance == pytest.approx(d, abs=1e-6)
    assert res.matches[0].score == pytest.approx(identity.match_score(d, 0.1))
    assert res.identity == "ann" and res.threshold == pytest.approx(0.1)
    (far,) = g.search(unit(0, 0, 0, 1), 0.5, k=10)
    assert far.identity == identity.UNKNOWN and len(far.matches) == 3
    (eu,) = g.search(unit(0, 1, 0, 0), 0.3, metric="euclidean", k=1)
    assert eu.identity == "bob" and eu.threshold == pytest.approx(0.3)
    assert eu.matches[0].distance == pytest.approx(0.0, abs=1e-3)
    (none,) = g.search(probe, 0.1, k=0)
    assert none.matches == () and none.identity == identity.UNKNOWN
    two = g.search(np.stack([unit(0, 0, 1, 0), unit(0, 1, 0, 0)]), 0.1)
    assert [r.identity for r in two] == ["cy", "bob"]
    with pytest.raises(ValueError, match=r"^probe embeddings have 3 dimensions, the gallery 4$"):
        g.search(np.ones(3), 0.1)
    with pytest.raises(ValueError, match=r"^1 layer thresholds for 0 layers$"):
        g.search(probe, 0.1, layer_thresholds=(0.2,))


def test_search_compares_small_probes_with_their_layers():
    # full resolution: ann = e0, bob = e1; at 16 px the layers swap (ann = e1, bob = e0)
    g = Gallery("m", ("ann", "bob"), E[:2], [1, 1], ("a", "b"), (16,), np.stack([E[[1, 0]]]))
    probe = np.stack([unit(1, 0, 0, 0)] * 3)
    full, small, between = g.search(probe, 0.2, probe_widths=np.array([64.0, 10.0, 24.0]),
                                    layer_thresholds=(0.6,))
    assert full.identity == "ann" and full.threshold == pytest.approx(0.2)
    assert small.identity == "bob" and small.threshold == pytest.approx(0.6)
    (layer, w_small), (_, w_full) = identity.layer_weights((16,), 24.0)
    assert layer == 0
    by_name = {m.name: m.distance for m in between.matches}
    assert by_name["ann"] == pytest.approx(w_small * 1.0, abs=1e-5)
    assert by_name["bob"] == pytest.approx(w_full * 1.0, abs=1e-5)
    assert between.threshold == pytest.approx(w_small * 0.6 + w_full * 0.2, abs=1e-5)
    (no_widths,) = g.search(probe[:1], 0.2)              # no probe widths: full resolution
    assert no_widths.identity == "ann"
    assert no_widths.matches[0].distance == pytest.approx(0, abs=1e-6)
    (default,) = g.search(probe[:1], 0.2, probe_widths=np.array([10.0]))
    assert default.threshold == pytest.approx(0.2, abs=1e-6) and default.identity == "bob"
    (eu,) = g.search(probe[:1], 0.5, probe_widths=np.array([10.0]), metric="euclidean",
                     layer_thresholds=(1.5,))
    assert eu.identity == "bob" and eu.threshold == pytest.approx(1.5, abs=1e-5)
    assert eu.matches[0].distance == pytest.approx(0.0, abs=1e-3)
    assert eu.matches[1].distance == pytest.approx(np.sqrt(2), abs=1e-4)


# --------------------------------------------------------------------------- files

def test_face_model_file_round_trip_with_layers(tmp_path):
    fm = face_model("José", widths=(16, 32), layers=np.stack([E[[2, 3]], E[[1, 0]]]))
    path = store.save_face_model(fm, tmp_path / "new" / "dir" / "f.safetensors")
    back = store.load_face_model(path)
    assert (back.name, back.model, back.method, back.sources, back.widths) == \
        (fm.name, fm.model, fm.method, fm.sources, (16, 32))
    for name in ("embedding", "members", "member_quality", "member_layers"):
        assert np.array_equal(getattr(back, name), getattr(fm, name))
    with pytest.raises(FileExistsError, match="f.safetensors already exists"):
        store.save_face_model(fm, path, overwrite=False)
    store.save_face_model(face_model("x"), path)          # overwrite by default
    plain = store.load_face_model(path)
    assert plain.name == "x" and plain.member_layers is None and plain.widths == ()
    layered = Gallery("m", ("a", "b"), E[:2], [1, 0.5], ("x", "y"), (8, 16),
                      np.stack([E[[2, 3]], E[[3, 2]]]))
    store.save_gallery(layered, path)                      # overwrite by default
    back = store.load_gallery(path)
    assert back.widths == (8, 16) and np.array_equal(back.scaled, layered.scaled)
    assert (back.model, back.names, back.sources) == ("m", ("a", "b"), ("x", "y"))
    with pytest.raises(FileExistsError):
        store.save_gallery(layered, path, overwrite=False)


def raw_face_model(path, drop=(), **changes):
    tensors = {"embedding": E[0], "members": E[:2], "member_quality": np.ones(2, np.float32),
               **store._string_tensors("sources", ("a", "b"))}
    meta = {"format": store.FACE_MODEL, "version": "2", "embedding_model": '"m"',
            "name": '"ann"', "method": '"mean"', "widths": "[]"}
    for key, value in changes.items():
        (meta if isinstance(value, str) else tensors)[key] = value
    for key in drop:
        (meta if key in meta else tensors).pop(key)
    save_file(tensors, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("change, message", [
    ({"members": E[:3]}, r"embedding \(4,\), members \(3, 4\), member_quality \(2,\) and 2 "
                         r"sources do not fit together"),
    ({"embedding": E[:2]}, "embedding .* do not fit together"),
    ({"embedding": np.ones(3, np.float32)}, "embedding .* do not fit together"),
    ({"members": E[0]}, "embedding .* do not fit together"),
    ({"member_quality": np.ones(3, np.float32)}, "embedding .* do not fit together"),
    ({"sources_utf8": np.frombuffer(b"abc", np.uint8),
      "sources_offsets": np.array([0, 1, 2, 3])}, "embedding .* do not fit together"),
    ({"widths": "[16]"}, r"'member_layers' has shape None for widths \[16\] and members \(2, 4\)"),
    ({"member_layers": np.ones((1, 2, 4), np.float32)}, r"'member_layers' has shape \(1, 2, 4\)"),
    ({"widths": "[16]", "member_layers": np.ones((1, 3, 4), np.float32)}, "'member_layers' has"),
    ({"widths": "[16, true]"}, "'widths' should be a list of positive integers"),
    ({"widths": "[0]"}, "'widths' should be a list of positive integers"),
    ({"widths": "[1.5]"}, "'widths' should be a list of positive integers"),
    ({"widths": "16"}, "'widths' should be a list, got int"),
    ({"name": "3"}, "'name' should be a str, got int"),
    ({"name": "not json"}, "'name' is missing or unreadable"),
    ({"method": "[]"}, "'method' should be a str, got list"),
    ({"embedding_model": "1"}, "'embedding_model' should be a str"),
    ({"drop": ("member_quality",)}, "'member_quality' is missing or unreadable"),
])
def test_damaged_face_model_files_name_the_field(tmp_path, change, message):
    change = dict(change)
    path = raw_face_model(tmp_path / "f.safetensors", drop=change.pop("drop", ()), **change)
    with pytest.raises(ValueError, match=r"f\.safetensors is damaged: " + message):
        store.load_face_model(path)


def test_face_model_files_without_widths_and_with_layers_load(tmp_path):
    old = store.load_face_model(raw_face_model(tmp_path / "old.safetensors", drop=("widths",)))
    assert old.widths == () and old.member_layers is None and old.sources == ("a", "b")
    good = store.load_face_model(raw_face_model(
        tmp_path / "l.safetensors", widths="[16]", member_layers=np.ones((1, 2, 4), np.float32)))
    assert good.widths == (16,) and good.member_layers.shape == (1, 2, 4)
    v1 = raw_face_model(tmp_path / "v1.safetensors", drop=("sources_utf8", "sources_offsets"),
                        sources='["p", "q"]')
    assert store.load_face_model(v1).sources == ("p", "q")


def test_files_of_the_other_kind_are_refused(tmp_path):
    fm = store.save_face_model(face_model(), tmp_path / "f.safetensors")
    with pytest.raises(ValueError, match=r"is a 'face_pipeline.face_model' file; expected a "
                       r"'face_pipeline.gallery' file"):
        store.load_gallery(fm)
    save_file({"w": E}, str(tmp_path / "lora.safetensors"))
    with pytest.raises(ValueError, match=r"lora\.safetensors is not a Face Pipeline file \(no "
                       r"format metadata\); expected a 'face_pipeline.face_model' file"):
        store.load_face_model(tmp_path / "lora.safetensors")
    with pytest.raises(ValueError, match=r"missing\.safetensors is not a readable safetensors "
                       r"file \(corrupt or truncated\?\)"):
        store.load_face_model(tmp_path / "missing.safetensors")


def write_gallery(path, tensors=None, **meta):
    base = {"embeddings": E[:2], "quality": np.ones(2, np.float32),
            **store._string_tensors("names", ("a", "b")),
            **store._string_tensors("sources", ("x", "y"))}
    base.update(tensors or {})
    base = {k: v for k, v in base.items() if v is not None}
    meta = {"format": store.GALLERY, "version": "2", "embedding_model": '"m"', "widths": "[]",
            **meta}
    save_file(base, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("tensors, message", [
    ({"names_offsets": np.array([0, 1, 1], np.int64)}, "'names' has inconsistent string offsets"),
    ({"names_offsets": np.array([1, 2], np.int64)}, "'names' has inconsistent string offsets"),
    ({"names_offsets": np.zeros(0, np.int64)}, "'names' has inconsistent string offsets"),
    ({"names_offsets": np.array([0, 2, 1, 2], np.int64)}, "'names' has inconsistent string"),
    ({"names_offsets": np.array([0., 1., 2.], np.float32)}, "'names' has inconsistent string"),
    ({"names_offsets": np.array([[0, 1, 2]], np.int64)}, "'names' has inconsistent string offsets"),
    ({"names_utf8": np.array([97, 98], np.int16)}, "'names' has inconsistent string offsets"),
    ({"names_utf8": np.array([[97, 98]], np.uint8)}, "'names' has inconsistent string offsets"),
    ({"names_utf8": np.array([0xff, 0xfe], np.uint8)}, "'names' is not UTF-8"),
    ({"names_utf8": np.frombuffer("é".encode(), np.uint8)},
     "'names' has offsets that split a UTF-8 character"),
    ({"names_offsets": None}, "'names' is missing or unreadable"),
    ({"names_utf8": None}, "'names_utf8' is missing or unreadable"),
    ({"embeddings": E[:3]}, r"'embeddings' has shape \(3, 4\) for 2 names"),
    ({"embeddings": E[0]}, r"'embeddings' has shape \(4,\) for 2 names"),
    ({"quality": np.ones(3, np.float32)}, "gallery has 2 names, 3 qualities and 2 sources"),
    ({"scaled": np.ones((1, 2, 4), np.float32)}, r"gallery layers \(1, 2, 4\) do not match"),
])
def test_damaged_gallery_files_name_the_field(tmp_path, tensors, message):
    path = write_gallery(tmp_path / "g.safetensors", tensors)
    with pytest.raises(ValueError, match=r"g\.safetensors is damaged: " + message):
        store.load_gallery(path)


def test_gallery_metadata_fields_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"a\.safetensors is damaged: 'embedding_model' should "
                       "be a str, got int"):
        store.load_gallery(write_gallery(tmp_path / "a.safetensors", embedding_model="4"))
    with pytest.raises(ValueError, match=r"b\.safetensors is damaged: 'widths' should be a list "
                       "of positive integers"):
        store.load_gallery(write_gallery(tmp_path / "b.safetensors", widths="[-4]"))
    v1 = {"names_utf8": None, "names_offsets": None}
    with pytest.raises(ValueError, match=r"v\.safetensors is damaged: 'names' should be a list of "
                       "strings"):
        store.load_gallery(write_gallery(tmp_path / "v.safetensors", v1, names='["a", 3]'))
    with pytest.raises(ValueError, match=r"w\.safetensors is damaged: 'names' should be a list, "
                       "got str"):
        store.load_gallery(write_gallery(tmp_path / "w.safetensors", v1, names='"ab"'))
    with pytest.raises(ValueError, match=r"s\.safetensors is damaged: 'sources' has inconsistent"):
        store.load_gallery(write_gallery(tmp_path / "s.safetensors",
                                         {"sources_offsets": np.array([0, 1], np.int64)}))
    one_px = write_gallery(tmp_path / "p.safetensors", {"scaled": np.ones((1, 2, 4), np.float32)},
                           widths="[1]")
    assert store.load_gallery(one_px).widths == (1,)
    multi = write_gallery(tmp_path / "c.safetensors", {
        **store._string_tensors("names", ("é", "ab"))}, widths="[8]")
    with pytest.raises(ValueError, match="gallery layers None do not match widths"):
        store.load_gallery(multi)
    ok = store.load_gallery(write_gallery(tmp_path / "d.safetensors", {
        **store._string_tensors("names", ("ab", "é")),
        "scaled": np.ones((1, 2, 4), np.float32)}, widths="[8]"))
    assert ok.names == ("ab", "é") and ok.widths == (8,) and ok.scaled.shape == (1, 2, 4)
    assert ok.model == "m" and ok.sources == ("x", "y")


def test_saved_tensors_are_float32_and_strings_are_offsets(tmp_path):
    g = Gallery("m", ("é", "b"), E[:2].astype(np.float64), [1, 0.5], ("xy", ""))
    path = store.save_gallery(g, tmp_path / "g.safetensors")
    from safetensors import safe_open
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
        assert f.get_tensor("embeddings").dtype == np.float32
        assert f.get_tensor("sources_offsets").tolist() == [0, 0, 2]   # sorted: b, é
        assert f.get_tensor("names_offsets").tolist() == [0, 1, 3]
    assert meta == {"format": store.GALLERY, "version": "2", "embedding_model": '"m"',
                    "widths": "[]"}
    assert store.load_gallery(path).sources == ("", "xy")
    fm_path = store.save_face_model(face_model(), tmp_path / "f.safetensors")
    with safe_open(str(fm_path), framework="np") as f:
        meta = f.metadata()
    assert json.loads(meta["sources"]) == ["ann/0.jpg", "ann/1.jpg"]
    assert (meta["format"], meta["version"], json.loads(meta["name"])) == \
        (store.FACE_MODEL, "2", "ann")
