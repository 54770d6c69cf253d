"""Face-region masks from the 478 landmarks (vision/regions.py, pipeline, node)."""
import cv2
import numpy as np
import pytest
import torch

from conftest import TESTDATA
from face_pipeline.nodes.masks import FaceRegionMask
from face_pipeline.pipeline import faces as ops
from face_pipeline.pipeline import swap_geometry as sg
from face_pipeline.vision import geometry, regions
from face_pipeline.vision import mesh_topology as topo


def load(path):
    rgb = cv2.cvtColor(cv2.imread(str(TESTDATA / path)), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


@pytest.fixture(scope="module")
def hopper():
    image = load("faces/grace_hopper/1.jpg")
    faces = ops.add_landmarks(image, ops.detect_faces(image))
    assert faces.count == 1
    return image, faces


def masks_of(face, shape, **options):
    return {r: regions.region_mask(face.landmarks, shape, [r], **options) > 0.5
            for r in regions.REGIONS}


def test_regions_lie_in_the_face_and_nest(hopper):
    image, faces = hopper
    face = faces.frames[0][0]
    shape = tuple(image.shape[1:3])
    m = masks_of(face, shape, forehead=0.0)
    x1, y1, x2, y2 = face.box
    pad = 0.1 * face.width
    ys, xs = np.nonzero(np.logical_or.reduce(list(m.values())))
    assert xs.min() >= x1 - pad and xs.max() <= x2 + pad
    assert ys.min() >= y1 - pad and ys.max() <= y2 + pad
    for region in regions.REGIONS:
        assert m[region].sum() > 20, region
        assert not (m[region] & ~m["face"]).any(), region
    assert not (m["skin"] & (m["eyes"] | m["brows"] | m["lips"] | m["mouth"])).any()
    assert not (m["lips"] & m["mouth"]).any()
    hull = cv2.convexHull(face.landmarks[list(topo.LIPS_OUTER), :2].astype(np.float32))
    inside = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(inside, np.round(hull[:, 0] - 0.5).astype(np.int32), 1)
    assert (inside[m["mouth"]] > 0).mean() > 0.98
    rows = lambda r: np.nonzero(m[r])[0].mean()
    assert rows("brows") < rows("eyes") < rows("nose") < rows("lips")
    assert m["skin"].sum() > 0.6 * m["face"].sum()


def test_forehead_extends_upward_only(hopper):
    image, faces = hopper
    face, shape = faces.frames[0][0], tuple(image.shape[1:3])
    low = regions.region_mask(face.landmarks, shape, ["face"], forehead=0.0) > 0.5
    high = regions.region_mask(face.landmarks, shape, ["face"], forehead=0.3) > 0.5
    assert not (low & ~high).any()
    extra_rows = np.nonzero((high & ~low).any(1))[0]
    eye_row = face.landmarks[[33, 263], 1].mean()
    assert extra_rows.max() < eye_row
    height = np.ptp(face.landmarks[list(topo.FACE_OVAL), 1])
    grown = np.nonzero(low.any(1))[0].min() - np.nonzero(high.any(1))[0].min()
    assert 0.25 * height < grown < 0.35 * height


def test_add_subtract_grow_blur(hopper):
    image, faces = hopper
    face, shape = faces.frames[0][0], tuple(image.shape[1:3])
    lm = face.landmarks
    face_m = regions.region_mask(lm, shape, ["face"]) > 0.5
    eyes = regions.region_mask(lm, shape, ["eyes"]) > 0.5
    cut = regions.region_mask(lm, shape, ["face"], ["eyes"]) > 0.5
    np.testing.assert_array_equal(cut, face_m & ~eyes)
    grown = regions.region_mask(lm, shape, ["face"], grow=6) > 0.5
    shrunk = regions.region_mask(lm, shape, ["face"], grow=-6) > 0.5
    assert not (face_m & ~grown).any() and not (shrunk & ~face_m).any()
    assert shrunk.sum() < face_m.sum() < grown.sum()
    soft = regions.region_mask(lm, shape, ["face"], blur=10)
    assert ((soft > 0.05) & (soft < 0.95)).sum() > 500
    assert abs(soft.sum() - face_m.sum()) < 0.03 * face_m.sum()
    with pytest.raises(ValueError, match="unknown"):
        sg.parse_regions("skin, ears")


def test_batch_masks_and_crop_space(hopper):
    image, faces = hopper
    blank = torch.zeros_like(image)
    batch = torch.cat([image, blank])
    found = ops.add_landmarks(batch, ops.detect_faces(batch))
    masks = sg.face_region_masks(batch, found, ["skin"], grow=2, blur=3)
    assert masks.shape == (2, *image.shape[1:3])
    assert masks[0].sum() > 1000 and masks[1].sum() == 0
    node_mask = FaceRegionMask().mask(batch, found, "skin", "", 2, 3.0, regions.DEFAULT_FOREHEAD,
                                      "image")[0]
    torch.testing.assert_close(node_mask, masks)
    # the crop-space mask is the frame mask seen through the alignment
    crops, aligned = ops.align_faces(image, faces, geometry.Template("ffhq_512", 256))
    crop_mask = sg.crop_region_masks(aligned, ["face"])
    assert crop_mask.shape == (1, 256, 256)
    frame_mask = regions.region_mask(faces.frames[0][0].landmarks, tuple(image.shape[1:3]),
                                     ["face"])
    seen = cv2.warpAffine(frame_mask, aligned.frames[0][0].matrix, (256, 256))
    a, b = crop_mask[0].numpy() > 0.5, seen > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.95
    with pytest.raises(ValueError, match="Align Faces"):
        sg.crop_region_masks(faces, ["face"])
