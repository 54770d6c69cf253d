"""`pipeline/surveillance.py` on synthetic sightings (unit embeddings, no models): grouping by
score order and per-width limits, the weighted gallery probe, the JSON / CSV / text reports
word for word, the contact sheet's layout, tiles and colours (issue 15 item 4: outcomes that
kill behaviour-changing mutants).
"""
import json

import numpy as np
import pytest
import torch

from face_pipeline.pipeline import surveillance as sv
from face_pipeline.vision import identity
from face_pipeline.vision.face import Face, FaceSet
from face_pipeline.vision.gallery import Gallery
from face_pipeline.vision.image import to_image
from face_pipeline.vision.quality import Quality, face_quality, frame_score, pose_frontality

MODEL = "dlib_resnet_v1"


def unit(*v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def near(base, distance):
    """A unit vector at cosine distance ``distance`` from the unit vector ``base`` (4-D)."""
    other = np.zeros(4, np.float32)
    other[np.argmin(np.abs(base))] = 1.0
    other -= other @ base * base
    other /= np.linalg.norm(other)
    c = 1.0 - distance
    return (c * base + np.sqrt(1 - c * c) * other).astype(np.float32)


def face(embedding, box=(10, 10, 50, 50), width=None, gate=None, quality=0.5):
    return Face(np.array(box, np.float32), 0.9, np.array([[20, 25], [40, 25], [30, 32],
                                                          [22, 40], [38, 40]], np.float32),
                embedding=np.asarray(embedding, np.float32), embedding_model=MODEL,
                quality=quality, source_width=width, fusion_gate=gate)


def sighting(frame, index, f, score, sharp=0.81234):
    return sv.Sighting(frame, index, f, Quality(0.6, 0.5, sharp, 0.10567, 0.05432, 2.0, 1.1),
                       0.91234, score)


A, B = unit(1, 0, 0, 0), unit(0, 1, 0, 0)


def test_people_are_grouped_best_score_first_within_the_limit():
    assert sv.group_people([], None) == []
    found = [sighting(0, 0, face(near(A, 0.03)), 0.2), sighting(1, 0, face(B), 0.5),
             sighting(2, 0, face(A), 0.9), sighting(2, 1, face(near(B, 0.2)), 0.3)]
    people = sv.group_people(found, None, group_threshold=0.1)
    assert [p.number for p in people] == [0, 1, 2]
    assert [[s.score for s in p.sightings] for p in people] == [[0.9, 0.2], [0.5], [0.3]]
    assert all(p.result is None for p in people) and people[0].label == "person 0: no gallery"
    assert len(sv.group_people(found, None, group_threshold=0.25)) == 2


def test_the_best_sighting_leads_its_group():
    y = near(A, 0.06)
    z = near(y, 0.06)                                           # ~0.12 from A
    found = [sighting(0, 0, face(A), 0.3), sighting(1, 0, face(y), 0.9),
             sighting(2, 0, face(z), 0.5)]
    assert float(1 - A @ z) > 0.1
    (one,) = sv.group_people(found, None, group_threshold=0.08)   # y leads: both join it
    assert [s.frame for s in one.sightings] == [1, 2, 0]


def test_default_group_limits_depend_on_the_captured_width():
    pair = lambda width: [sighting(0, 0, face(A, width=width), 0.9),
                          sighting(1, 0, face(near(A, 0.07), width=width), 0.8)]
    assert len(sv.group_people(pair(16), None)) == 2            # tiny faces: limit 0.048
    assert len(sv.group_people(pair(200), None)) == 1           # full resolution: 0.093
    tight = lambda width: [sighting(0, 0, face(A, width=width), 0.9),
                           sighting(1, 0, face(near(A, 0.053), width=width), 0.8)]
    assert len(sv.group_people(tight(16), None)) == 2           # grouping table, not layers


def test_each_person_is_searched_by_the_score_weighted_mean():
    g = Gallery(MODEL, ("ann", "bob", "cy"), np.stack([A, B, unit(0, 0, 1, 0)]), [1, 1, 1],
                ("a.jpg", "b.jpg", "c.jpg"))
    e1, e2 = near(A, 0.02), near(A, 0.04)
    found = [sighting(0, 0, face(e1), 0.9), sighting(1, 0, face(e2), 0.0)]
    (person,) = sv.group_people(found, g, k=2, metric="cosine", threshold=0.3,
                                group_threshold=0.1)
    probe = identity.aggregate(np.stack([e1, e2]), "mean", np.array([0.9, 1e-3]))
    assert person.result.identity == "ann" and len(person.result.matches) == 2
    assert person.result.matches[0].distance == pytest.approx(1 - float(probe @ A), abs=1e-5)
    assert person.result.threshold == pytest.approx(0.3)
    (strict,) = sv.group_people(found, g, k=3, metric="cosine", threshold=0.001,
                                group_threshold=0.1)
    assert strict.result.identity == identity.UNKNOWN and len(strict.result.matches) == 3
    (default,) = sv.group_people(found, g, group_threshold=0.1)   # euclidean, k 3
    assert default.result.threshold == pytest.approx(0.43127715587615967, abs=1e-4)
    assert len(default.result.matches) == 3
    assert default.result.matches[0].distance == pytest.approx(
        np.sqrt(2 * (1 - float(probe @ A))), abs=1e-4)


def test_people_are_searched_in_the_layer_of_their_best_sightings_width():
    small = np.stack([near(A, 0.3), B, unit(0, 0, 1, 0), unit(0, 0, 0, 1), unit(0, 1, 1, 0)])
    g = Gallery(MODEL, tuple("abcde"), np.stack([A, B, unit(0, 0, 1, 0), unit(0, 0, 0, 1),
                                                 unit(0, 1, 1, 0)]),
                [1] * 5, tuple("ABCDE"), widths=(16,), scaled=small[None])
    found = [sighting(0, 0, face(A, width=16), 0.9), sighting(1, 0, face(A, width=400), 0.2)]
    (p,) = sv.group_people(found, g, metric="cosine", group_threshold=0.1)
    assert len(p.result.matches) == 3                           # default k = 3
    assert p.result.matches[0].distance == pytest.approx(0.3, abs=1e-4)   # the 16 px layer
    limit = identity.convert_distance(
        sv.layer_thresholds(g, 0.0, "cosine")[0], "cosine", "cosine")
    assert p.result.threshold == pytest.approx(limit) and limit < 0.09   # the layer's limit
    found = [sighting(0, 0, face(A, width=400), 0.9), sighting(1, 0, face(A, width=16), 0.2)]
    (p,) = sv.group_people(found, g, metric="cosine", group_threshold=0.1)
    assert p.result.matches[0].distance == pytest.approx(0.0, abs=1e-4)   # full resolution


def person(number=0, enhanced=False, result=None, scores=(0.91234, 0.5)):
    sightings = tuple(sighting(f, 0, face(A, box=(10.26, 20, 50, 60), width=40.26,
                                          gate=0.5 if enhanced and f == 3 else None,
                                          quality=0.4567), s)
                      for f, s in zip((3, 7), scores))
    return sv.Person(number, sightings, result)


def result(name="ann"):
    g = Gallery(MODEL, ("ann", "bob"), np.stack([A, B]), [1, 1], ("a", "b"))
    return g.search(near(A, 0.031)[None] if name == "ann" else unit(0, 0, 1, 0)[None],
                    0.123456, k=2, metric="cosine")[0]


def test_json_report_lists_the_best_sightings_and_matches():
    (entry, bare) = sv.report_json([person(0, True, result()), person(1)], 1)
    assert entry["person"] == 0 and entry["identity"] == "ann" and entry["enhanced"] is True
    assert entry["sightings"] == 2 and len(entry["best_frames"]) == 1
    assert json.dumps(entry["best_frames"][0]) == json.dumps({
        "frame": 3, "face": 0, "score": 0.912, "quality": 0.457, "sharpness": 0.812,
        "noise": 0.106, "blockiness": 0.054, "frontality": 0.91, "captured_width": 40.3,
        "box": [10.3, 20.0, 50.0, 60.0]})
    r = result()
    assert entry["matches"] == [{"name": m.name, "distance": round(m.distance, 4),
                                 "score": round(m.score, 1)} for m in r.matches]
    assert entry["matches"][0]["distance"] != r.matches[0].distance     # rounded
    assert entry["matches"][0]["score"] != round(r.matches[0].score, 2)
    assert entry["threshold"] == round(r.threshold, 4) == 0.1235
    assert bare == {"person": 1, "identity": None, "enhanced": False, "sightings": 2,
                    "best_frames": bare["best_frames"], "matches": [], "threshold": None}
    assert len(sv.report_json([person()], 5)[0]["best_frames"]) == 2


def test_csv_report_has_one_row_per_sighting():
    text = sv.report_csv([person(0, True, result()), person(2)])
    rows = text.split("\n")
    assert rows[0] == ("person,rank,frame,face,captured_width,quality,frontality,score,"
                       "identity,best_match,distance,enhanced")
    assert rows[1] == "0,0,3,0,40.3,0.457,0.91,0.912,ann,ann,0.0310,True"
    assert rows[2] == "0,1,7,0,40.3,0.457,0.91,0.500,ann,ann,0.0310,False"   # per sighting
    assert rows[3] == "2,0,3,0,40.3,0.457,0.91,0.912,,,,False" and rows[5] == ""
    assert len(rows) == 6


def test_text_report_names_people_candidates_best_frames_and_provenance():
    assert sv.report_text([], 3) == "no faces"
    text = sv.report_text([person(0, False, result()), person(1, False, result("x"))], 1)
    assert text == ("person 0: ann in 2 sighting(s), candidates ann 0.031, bob 0.753; best: "
                    "frame 3 (0.91)\n"
                    "person 1: unknown in 2 sighting(s), candidates ann 1.000, bob 1.000; best: "
                    "frame 3 (0.91)")
    flagged = sv.report_text([person(0, True), person(1)], 2).split("\n")
    assert flagged[0] == "person 0: no gallery in 2 sighting(s); best: frame 3 (0.91), frame 7 (0.50)"
    assert flagged[-1] == sv.PROVENANCE and len(flagged) == 3


def frames():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (120, 160, 3)).astype(np.uint8) for _ in range(8)]


def test_tiles_are_1_5_face_crops_with_captured_pixels():
    frame = frames()[0]
    big = face(A, box=(40, 30, 120, 110))                       # 80 px: crop 120 -> 128
    tile = sv._tile(frame, big)
    assert tile.shape == (128, 128, 3) and sv.TILE == 128
    crop = frame[10:130, 20:140]                                # centre (80, 70), half 60
    padded = np.zeros((120, 120, 3), np.uint8)
    padded[:110] = crop[:110]                                   # the frame ends at row 120
    import cv2
    assert np.array_equal(tile, cv2.resize(padded, (128, 128), interpolation=cv2.INTER_NEAREST))
    small = sv._tile(frame, face(A, box=(60, 50, 80, 70)))      # 20 px: nearest neighbour
    values = {tuple(v) for v in frame[45:75, 55:85].reshape(-1, 3)}
    assert {tuple(v) for v in small.reshape(-1, 3)} <= values
    huge = sv._tile(np.full((400, 400, 3), 7, np.uint8), face(A, box=(50, 50, 250, 250)))
    assert (huge == 7).all()                                    # shrunk by area: no padding
    corner = sv._tile(frame, face(A, box=(-10, -10, 10, 10)))
    assert (corner[:40, :40] == 0).all() and corner[100:, 100:].any()   # outside: black


def inked(pixels, colour):
    """Whether text in ``colour`` was drawn among ``pixels`` (anti-aliased: within 30)."""
    return bool((np.abs(pixels.reshape(-1, 3).astype(int) - colour).max(-1) <= 30).any())


def test_contact_sheet_layout_tiles_and_colours():
    image = to_image(frames())
    known, unknown = person(0, False, result()), person(1, True, result("x"), (0.9, 0.8))
    sheet = sv.contact_sheet(image, [known, unknown], 4)[0].numpy()
    assert sheet.shape == (2 * (22 + 128 + 18) + 24, 640, 3)
    u8 = np.round(sheet * 255).astype(np.uint8)
    tile = sv._tile(frames()[7], known.sightings[1].face)
    assert np.array_equal(u8[22:150, 128:256], tile)            # row 0, column 1: frame 7
    assert np.array_equal(u8[168 + 22:168 + 150, 0:128], sv._tile(frames()[3],
                                                                  unknown.sightings[0].face))
    assert (u8[22:150, 256:384] == 32).all()                    # no third sighting
    header0, header1 = u8[2:20, :300], u8[170:188, :300]
    assert inked(header0, (0, 220, 90)) and not inked(header0, (255, 120, 90))
    assert inked(header1, (255, 120, 90)) and not inked(header1, (0, 220, 90))
    assert inked(u8[-20:], (255, 80, 60))                       # enhanced: red note
    caption = u8[150:168, :128]
    assert inked(caption, (255, 255, 255)) and inked(caption, (0, 0, 0))
    plain = sv.contact_sheet(image, [known], 1)[0].numpy()
    assert plain.shape == (168 + 24, 640, 3)
    grey = np.round(plain[-20:] * 255).astype(np.uint8)
    assert inked(grey, (200, 200, 200)) and not inked(grey, (255, 80, 60))
    six = sv.Person(0, tuple(sighting(f, 0, face(A), 0.5) for f in range(6)), None)
    assert sv.contact_sheet(image, [six], 8)[0].shape[1] == 6 * 128      # 6 columns
    assert sv.contact_sheet(image, [six], 5)[0].shape[1] == 5 * 128      # at most best
    empty = sv.contact_sheet(image, [], 4)[0]
    assert empty.shape == (1, 22 + 128 + 18 + 24, 640, 3)[1:] and (empty[:-24] == 32 / 255).all()


def test_surveillance_report_end_to_end_on_synthetic_frames():
    image = to_image(frames()[:3])
    faces = FaceSet([[face(A)], [], [face(near(A, 0.01), box=(60, 40, 100, 80)), face(B)]],
                    [(120, 160)] * 3)
    found = sv.sightings(image, faces)
    assert [(s.frame, s.index) for s in found] == [(0, 0), (2, 0), (2, 1)]
    for s in found:                                             # measured on its own frame
        want = face_quality(frames()[s.frame], s.face.keypoints, s.face.box,
                            s.face.captured_width)
        assert s.measured == want
        assert s.score == pytest.approx(frame_score(want, pose_frontality(s.face.keypoints)))
    small = sv.sightings(image, FaceSet([[face(A, width=12)], [], []], [(120, 160)] * 3))
    assert small[0].measured.resolution < found[0].measured.resolution   # at the captured width
    assert all(0 <= s.measured.quality <= 1 and s.score > 0 for s in found)
    text, js, csv_text, sheet = sv.surveillance_report(image, faces, best=2,
                                                       group_threshold=0.05)
    people = json.loads(js)
    assert len(people) == 2 and sorted(p["sightings"] for p in people) == [1, 2]
    assert text.count("no gallery") == 2 and len(csv_text.strip().split("\n")) == 4
    assert sheet.shape == (1, 2 * 168 + 24, 640, 3)
    with pytest.raises(ValueError):
        sv.surveillance_report(image, FaceSet([[face(A)]], [(120, 160)]))
    assert torch.is_tensor(sheet)


def written(shape, text, origin, colour, fill=32):
    """``text`` as the contact sheet writes it: a black outline 3 px wide under a 1 px stroke,
    OpenCV's simplex font at 0.45, anti-aliased."""
    import cv2
    canvas = np.full(shape, fill, np.uint8)
    for thickness, ink in ((3, (0, 0, 0)), (1, colour)):
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, ink, thickness,
                    cv2.LINE_AA)
    return canvas


def test_contact_sheet_text_word_for_word():
    image = to_image(frames())
    known, unknown = person(0, False, result()), person(1, True, result("x"), (0.9, 0.8))
    u8 = np.round(sv.contact_sheet(image, [known, unknown], 4)[0].numpy() * 255).astype(np.uint8)
    assert np.array_equal(u8[:22], written((22, 640, 3), "person 0: ann  (best ann 0.031 / "
                                           "limit 0.123)", (4, 16), (0, 220, 90)))
    assert np.array_equal(u8[168:190], written((22, 640, 3), "person 1: unknown  (best ann "
                                               "1.000 / limit 0.123)", (4, 16), (255, 120, 90)))
    assert np.array_equal(u8[150:168, :128], written((18, 128, 3), "f3 0.91", (4, 14),
                                                     (255, 255, 255)))
    assert np.array_equal(u8[150:168, 128:256], written((18, 128, 3), "f7 0.50", (4, 14),
                                                        (255, 255, 255)))
    assert np.array_equal(u8[-24:], written((24, 640, 3), "ENHANCED pixels were used for "
                                            "identity: not evidence on their own", (4, 16),
                                            (255, 80, 60)))
    plain = sv.contact_sheet(image, [person(0)], 2)[0].numpy()
    plain = np.round(plain * 255).astype(np.uint8)
    assert np.array_equal(plain[:22], written((22, 640, 3), "person 0: no gallery", (4, 16),
                                              (255, 120, 90)))
    assert np.array_equal(plain[-24:], written((24, 640, 3), "captured pixels only", (4, 16),
                                               (200, 200, 200)))


def test_tiles_at_the_right_edge_and_large_faces_shrunk_by_area():
    import cv2
    frame = frames()[1]
    edge = sv._tile(frame, face(A, box=(150, 50, 170, 70)))     # 20 px, half off the frame
    assert (edge[:, 100:] == 0).all() and edge[:, :40].any()
    big = sv._tile(frame, face(A, box=(0, 0, 200, 200)))       # crop 300 -> 128 by area
    padded = cv2.copyMakeBorder(frame, 302, 302, 302, 302, cv2.BORDER_CONSTANT)
    crop = padded[302 - 50:302 + 250, 302 - 50:302 + 250]
    assert np.array_equal(big, cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA))


def test_surveillance_report_defaults_and_options_reach_every_part():
    image = to_image(frames())
    a_faces = [[face(near(A, 0.01 * (i % 3)), box=(20 + i, 20, 80 + i, 80))] for i in range(6)]
    faces = FaceSet(a_faces + [[face(B)], [face(near(B, 0.01))]], [(120, 160)] * 8)
    g = Gallery(MODEL, tuple("abcde"), np.stack([A, B, unit(0, 0, 1, 0), unit(0, 0, 0, 1),
                                                 unit(0, 1, 1, 0)]), [1] * 5, tuple("ABCDE"))
    found = sv.sightings(image, faces)
    people = sv.group_people(found, g)                          # k 3, euclidean, defaults
    text, js, csv_text, sheet = sv.surveillance_report(image, faces, g)
    assert text == sv.report_text(people, 4) and js == json.dumps(sv.report_json(people, 4),
                                                                   indent=1)
    assert csv_text == sv.report_csv(people) and len(people) == 2
    assert torch.equal(sheet, sv.contact_sheet(image, people, 4))
    assert len(json.loads(js)[0]["matches"]) == 3 and len(json.loads(js)[0]["best_frames"]) == 4
    assert json.loads(js)[0]["threshold"] == pytest.approx(0.4313, abs=1e-4)   # euclidean
    options = dict(k=2, metric="cosine", threshold=0.05, group_threshold=1.5)
    people = sv.group_people(found, g, **options)
    text, js, csv_text, sheet = sv.surveillance_report(image, faces, g, best=5, **options)
    assert text == sv.report_text(people, 5) and js == json.dumps(sv.report_json(people, 5),
                                                                   indent=1)
    assert csv_text == sv.report_csv(people) and len(people) == 1
    assert json.loads(js)[0]["threshold"] == pytest.approx(0.05) and \
        len(json.loads(js)[0]["matches"]) == 2
