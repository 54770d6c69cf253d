"""Careless and hostile inputs (issue 15): each gets a clear error naming the input and what to
do, or a documented pass-through -- never a crash, a hang or a silently wrong image.

NaN/inf pixels, out-of-range quality, odd image shapes, low-confidence faces, unreadable and
symlinked gallery photos, the runner's LoadImage outside its folder, 16-bit grey PNGs and
threads, galleries of a million entries and damaged gallery files, Paste Faces Back with crops
or masks of the wrong size, stale model caches, unbounded downloads.
"""
import hashlib
import os
import shutil
import struct
import threading

import numpy as np
import pytest
import torch
from conftest import TESTDATA, as_image, load_rgb
from PIL import Image
from safetensors.numpy import save_file
from tiny_models import tiny_inswapper

from face_pipeline.models import cache, download as dl, onnx as ort_cache, swappers
from face_pipeline.nodes.blend import GatedBlend
from face_pipeline.nodes.identity import LoadGallery, SaveGallery, gallery_folder
from face_pipeline.nodes.model_management import UnloadFaceModels
from face_pipeline.pipeline import blend as blend_ops
from face_pipeline.pipeline import identity as id_ops
from face_pipeline.pipeline.faces import add_landmarks, align_faces, detect_faces, paste_faces_back
from face_pipeline.pipeline.swap import face_swap
from face_pipeline.pipeline.swap_geometry import MIN_FACE_CONFIDENCE, mesh_warp_swap
from face_pipeline.runner import CORE_NODE_CLASS_MAPPINGS, ValidationError, run_prompt
from face_pipeline.runner.core_nodes import FOLDERS
from face_pipeline.vision import gallery as store
from face_pipeline.vision.geometry import Template
from face_pipeline.vision.quality import block_ratio

HOPPER = "faces/grace_hopper/1.jpg"
ASTRONAUT = "faces/nasa_astronaut/1.png"


def with_nan(image, frame=0, value=float("nan")):
    bad = image.clone()
    bad[frame, 10:20, 10:20] = value
    return bad


@pytest.fixture(scope="module")
def small():
    """A 2-frame 48x48 target, a source and a centred square mask."""
    rng = np.random.default_rng(0)
    target = torch.from_numpy(rng.random((2, 48, 48, 3), dtype=np.float32))
    source = torch.from_numpy(rng.random((1, 48, 48, 3), dtype=np.float32))
    mask = torch.zeros(1, 48, 48)
    mask[0, 12:36, 12:36] = 1.0
    return target, source, mask


# --------------------------------------------------------------------------- NaN / inf pixels

def test_nan_source_is_refused_naming_input_and_frame(small):
    target, source, mask = small
    with pytest.raises(ValueError, match=r"source: frame 0 has 100 NaN/inf pixel\(s\).*float32"):
        blend_ops.gated_blend(target, with_nan(source), mask)
    with pytest.raises(ValueError, match=r"target: frame 1 has 100 NaN/inf"):
        blend_ops.poisson_composite(with_nan(target, 1, float("inf")), source, mask)
    bad_mask = mask.clone()
    bad_mask[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"mask: frame 0 has 1 NaN/inf"):
        blend_ops.gated_blend(target, source, bad_mask)
    with pytest.raises(ValueError, match=r"image: frame 0 has 100 NaN"):
        blend_ops.face_qualities(with_nan(source))
    with pytest.raises(ValueError, match=r"target: frame 0 has 100 NaN/inf"):  # -inf too
        blend_ops.poisson_composite(with_nan(target, 0, float("-inf")), source, mask)


def test_nan_in_face_swap_source_is_refused_before_any_work():
    hopper = as_image(load_rgb(HOPPER))
    with pytest.raises(ValueError, match="source_image: frame 0 has 100 NaN"):
        face_swap(with_nan(hopper), hopper)
    with pytest.raises(ValueError, match="target_image: frame 0 has 100 NaN"):
        face_swap(hopper, with_nan(hopper))


def test_nan_in_detection_and_landmarks_is_named_without_a_whole_frame_pass():
    """Detect Faces finds NaN/inf anywhere (its letterbox reaches every pixel); Face Landmarks
    refuses them inside a face's crops and ignores them elsewhere (documented pass-through)."""
    hopper = as_image(load_rgb(HOPPER))
    two = torch.cat([hopper, hopper])
    with pytest.raises(ValueError, match=r"image: frame 1 has 100 NaN/inf"):
        detect_faces(with_nan(two, 1))
    corner = two.clone()
    corner[1, -3:, -3:] = float("-inf")  # one corner, far from the face
    with pytest.raises(ValueError, match=r"image: frame 1 has 9 NaN/inf"):
        detect_faces(corner, scan="whole_frame")
    faces = detect_faces(two)
    clean = add_landmarks(two, faces)
    passed = add_landmarks(corner, faces)
    assert np.array_equal(passed.frames[1][0].landmarks, clean.frames[1][0].landmarks)
    on_face = two.clone()
    x, y = (int(v) for v in faces.frames[1][0].keypoints[2])  # the nose
    on_face[1, y, x] = float("nan")
    with pytest.raises(ValueError, match=r"image: frame 1 has 1 NaN/inf"):
        add_landmarks(on_face, faces)


def test_huge_finite_values_are_not_mistaken_for_nan(small):
    target, source, mask = small
    loud = source * 3e38            # the sum overflows, every value is finite
    blend_ops.gated_blend(target, loud, mask, quality=1.0)


@pytest.mark.parametrize("quality", [float("nan"), 5.0, -0.1])
def test_gated_blend_quality_outside_0_1_is_an_error(small, quality):
    target, source, mask = small
    with pytest.raises(ValueError, match="quality must be in 0..1"):
        GatedBlend().blend(target, source, mask, 1.0, 15.0, "reinhard", 0.6, 0.0,
                            quality=quality)


def test_face_quality_refuses_images_that_are_not_face_crops():
    with pytest.raises(ValueError, match="5000x1, not an aligned face crop: without faces every "
                       "image must be a crop from Align Faces; connect the faces found on these "
                       "images to measure faces on whole frames"):
        blend_ops.face_qualities(torch.rand(1, 1, 5000, 3))
    assert block_ratio(np.zeros((1, 300), np.float32)) == 1.0   # was NaN (mean of nothing)


# --------------------------------------------------------------------------- low confidence

@pytest.fixture(scope="module")
def hopper_faces():
    image = as_image(load_rgb(HOPPER))
    return image, add_landmarks(image, detect_faces(image))


def test_low_confidence_faces_are_skipped_and_reported(hopper_faces):
    image, faces = hopper_faces
    source = as_image(load_rgb(ASTRONAUT))
    source_faces = add_landmarks(source, detect_faces(source))
    shaky = faces.map_frames(lambda i, fs: [f.with_(landmark_score=0.509) for f in fs])
    out, mask, report = mesh_warp_swap(source, source_faces, image, shaky)
    assert report == ("frame 0: no face swapped (unchanged); skipped for low confidence: "
                      f"face 0 (confidence 0.51 < {MIN_FACE_CONFIDENCE:.2f})")
    assert torch.equal(out, image) and mask.max() == 0
    out, mask, report = mesh_warp_swap(source, source_faces, image, shaky, min_confidence=0.5)
    assert report == "frame 0: swapped face 0" and mask.max() > 0.9


# --------------------------------------------------------------------------- gallery folder

def test_gallery_folder_skips_unreadable_photos_and_links_outside(tmp_path):
    root, outside = tmp_path / "gallery", tmp_path / "private"
    (root / "hopper").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(TESTDATA / HOPPER, root / "hopper" / "1.jpg")
    (root / "hopper" / "empty.jpg").write_bytes(b"")
    (root / "hopper" / "text.png").write_text("not a picture")
    shutil.copy(TESTDATA / ASTRONAUT, outside / "secret.png")
    (root / "hopper" / "link.png").symlink_to(outside / "secret.png")
    (root / "collins").symlink_to(outside, target_is_directory=True)
    gallery, report = id_ops.gallery_from_folder(root)
    assert gallery.names == ("hopper",) and gallery.sources == ("hopper/1.jpg",)
    for line in ("hopper/empty.jpg: could not be read", "hopper/text.png: could not be read",
                 "hopper/link.png: links outside the gallery folder, skipped",
                 "collins/: links outside the gallery folder, skipped"):
        assert line in report, report
    (root / "hopper" / "1.jpg").unlink()
    with pytest.raises(ValueError, match="(?s)gallery would be empty\n.*empty.jpg: could not be read"):
        id_ops.gallery_from_folder(root)


# --------------------------------------------------------------------------- runner's LoadImage

def load_save(name):
    return {"1": {"class_type": "LoadImage", "inputs": {"image": name}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}


def run(prompt, input_dir, output_dir):
    return run_prompt(prompt, CORE_NODE_CLASS_MAPPINGS, input_dir=input_dir, output_dir=output_dir)


def test_load_image_stays_inside_the_input_folder(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "secret"
    inside.mkdir()
    outside.mkdir()
    Image.new("RGB", (4, 4)).save(outside / "s.png")
    (inside / "link.png").symlink_to(outside / "s.png")
    for name, why in (("../secret/s.png", "'..' are not allowed"),
                      (str(outside / "s.png"), "absolute paths"),
                      ("link.png", "resolves outside the input folder")):
        with pytest.raises(ValidationError, match=why):
            run(load_save(name), inside, tmp_path / "out")
    with pytest.raises(ValueError, match="'..' are not allowed"):
        CORE_NODE_CLASS_MAPPINGS["LoadImage"]().load_image("../secret/s.png")


def test_16_bit_grey_png_loads_with_its_values(tmp_path):
    grey = np.array([[0, 16384], [32768, 65535]], np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    FOLDERS.configure(str(tmp_path), str(tmp_path / "out"))
    image, _ = CORE_NODE_CLASS_MAPPINGS["LoadImage"]().load_image("g16.png")
    assert image.shape == (1, 2, 2, 3)
    assert np.allclose(image[0, ..., 0].numpy(), grey / 65535.0, atol=1e-6)
    assert torch.equal(image[..., 0], image[..., 2])


def test_runs_in_threads_keep_their_own_folders(tmp_path):
    results, barrier = {}, threading.Barrier(2)

    def work(name, shade):
        folder = tmp_path / name
        folder.mkdir()
        Image.new("RGB", (8, 8), (shade, shade, shade)).save(folder / "photo.png")
        FOLDERS.configure(str(folder), str(folder / "out"))
        barrier.wait()        # both threads have configured before either loads
        image, _ = CORE_NODE_CLASS_MAPPINGS["LoadImage"]().load_image("photo.png")
        results[name] = (FOLDERS.input_dir, round(float(image.mean()) * 255))

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in (("a", 40), ("b", 200))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": (str(tmp_path / "a"), 40), "b": (str(tmp_path / "b"), 200)}


# --------------------------------------------------------------------------- Paste Faces Back

@pytest.fixture(scope="module")
def aligned(hopper_faces):
    image, faces = hopper_faces
    crops, aligned_faces = align_faces(image, faces, Template("arcface_128_v2", 128))
    return image, crops, aligned_faces


def test_paste_back_refuses_crops_and_masks_of_the_wrong_size(aligned):
    image, crops, faces = aligned
    wide = torch.nn.functional.interpolate(crops.permute(0, 3, 1, 2), size=(128, 160))
    with pytest.raises(ValueError, match="crops are 160x128 but Align Faces made 128x128"):
        paste_faces_back(image, wide.permute(0, 2, 3, 1), faces)
    with pytest.raises(ValueError, match="crop_mask is 64x64 but the crops are 128x128"):
        paste_faces_back(image, crops, faces, crop_masks=torch.ones(1, 64, 64))


def test_paste_back_puts_an_upscaled_crop_where_the_crop_came_from(aligned):
    image, crops, faces = aligned
    black = torch.zeros_like(crops)
    big = torch.zeros(1, 256, 256, 3)
    reference, ref_mask = paste_faces_back(image, black, faces)
    pasted, mask = paste_faces_back(image, big, faces)
    assert float((mask - ref_mask).abs().sum()) < 0.03 * float(ref_mask.sum()), float((mask - ref_mask).abs().sum()) / float(ref_mask.sum())
    changed = (reference - pasted).abs().amax(-1)
    assert float(changed.mean()) < 0.002, float(changed.mean())


# --------------------------------------------------------------------------- galleries

def big_gallery(n, dim=2):
    names = tuple(f"person_{i % (n // 4):07d}" for i in range(n))
    sources = tuple(f"p/{i}.jpg" for i in range(n))
    emb = np.random.default_rng(1).normal(size=(n, dim)).astype(np.float32)
    return store.Gallery("dlib_resnet_v1", names, emb, np.linspace(0, 1, n), sources)


def header_size(path):
    with open(path, "rb") as f:
        return struct.unpack("<Q", f.read(8))[0]


def test_a_million_entries_save_and_load(tmp_path):
    gallery = big_gallery(1_000_000)
    path = store.save_gallery(gallery, tmp_path / "big.safetensors")
    assert header_size(path) < 4096        # names and sources are tensors, not metadata
    back = store.load_gallery(path)
    assert back.names == gallery.names and back.sources == gallery.sources
    assert np.array_equal(back.embeddings, gallery.embeddings)
    assert np.array_equal(back.quality, gallery.quality)


def test_non_ascii_names_round_trip(tmp_path):
    gallery = store.Gallery("dlib_resnet_v1", ("José", "王小明", "zoë"), np.eye(3, 4),
                            [1, 1, 1], ("a/é.jpg", "b/照片.png", "c"))
    back = store.load_gallery(store.save_gallery(gallery, tmp_path / "u.safetensors"))
    assert (back.names, back.sources) == (gallery.names, gallery.sources)


def write_raw(path, tensors, **meta):
    meta = {"format": store.GALLERY, "version": "2", "embedding_model": '"dlib_resnet_v1"',
            "widths": "[]", **meta}
    save_file(tensors, str(path), metadata=meta)
    return path


def string_tensors(key, values):
    return store._string_tensors(key, tuple(values))


def test_version_1_files_still_load(tmp_path):
    path = write_raw(tmp_path / "v1.safetensors", {"embeddings": np.eye(2, 4, dtype=np.float32),
                                                    "quality": np.ones(2, np.float32)},
                     version="1", names='["a", "b"]', sources='["x", "y"]')
    assert store.load_gallery(path).names == ("a", "b")


@pytest.mark.parametrize("change, message", [
    ({"meta": {"names": "5"}, "drop": ("names_utf8", "names_offsets")},
     "'names' should be a list, got int"),
    ({"meta": {"names": '["a", 3]'}, "drop": ("names_utf8", "names_offsets")},
     "'names' should be a list of strings"),
    ({"tensors": {"names_offsets": np.array([0, 1, 9], np.int64)}}, "inconsistent string offsets"),
    ({"tensors": {"names_offsets": np.array([0, 2, 1, 2], np.int64)}},
     "inconsistent string offsets"),
    ({"tensors": {"names_utf8": np.frombuffer(b"\xff\xfe", np.uint8)}}, "is not UTF-8"),
    ({"tensors": {"embeddings": np.ones(4, np.float32)}}, "'embeddings' has shape"),
    ({"tensors": {"quality": np.ones(5, np.float32)}}, "2 names, 5 qualities"),
    ({"meta": {"widths": '["big"]'}}, "'widths' should be a list of positive integers"),
    ({"meta": {"embedding_model": "7"}}, "'embedding_model' should be a str"),
    ({"drop": ("embeddings",)}, "'embeddings' is missing"),
])
def test_damaged_gallery_files_give_clear_errors(tmp_path, change, message):
    tensors = {"embeddings": np.eye(2, 4, dtype=np.float32), "quality": np.ones(2, np.float32),
               **string_tensors("names", ["a", "b"]), **string_tensors("sources", ["x", "y"])}
    tensors.update(change.get("tensors", {}))
    for key in change.get("drop", ()):
        tensors.pop(key)
    path = write_raw(tmp_path / "bad.safetensors", tensors, **change.get("meta", {}))
    with pytest.raises(ValueError, match=f"bad.safetensors is damaged: .*{message}"):
        store.load_gallery(path)


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def test_gallery_of_the_wrong_dimension_is_refused_at_load(models_dir):
    wrong = store.Gallery("dlib_resnet_v1", ("a",), np.ones((1, 512)), [1.0], ("x",))
    id_ops.save_stored("gallery", wrong, "wrong", overwrite=False)
    with pytest.raises(ValueError, match="512-d embeddings but 'dlib_resnet_v1' makes 128-d"):
        LoadGallery().load("wrong.safetensors")


def test_saving_never_overwrites_unless_asked(models_dir):
    first = store.Gallery("dlib_resnet_v1", ("a",), np.ones((1, 128)), [1.0], ("x",))
    second = store.Gallery("dlib_resnet_v1", ("b",), np.ones((1, 128)), [1.0], ("y",))
    SaveGallery().save(first, "team")
    with pytest.raises(FileExistsError, match="already exists: turn on overwrite"):
        SaveGallery().save(second, "team")
    assert LoadGallery().load("team.safetensors")[0].names == ("a",)
    SaveGallery().save(second, "team", overwrite=True)
    assert LoadGallery().load("team.safetensors")[0].names == ("b",)


def test_saved_names_with_folders_are_listed_and_load(models_dir):
    gallery = store.Gallery("dlib_resnet_v1", ("a",), np.ones((1, 128)), [1.0], ("x",))
    SaveGallery().save(gallery, "club/members")
    choices = LoadGallery.INPUT_TYPES()["required"]["filename"][0]
    assert choices == ["club/members.safetensors"]
    assert LoadGallery().load(choices[0])[0].names == ("a",)
    for empty in ("", "  ", "club/", ".safetensors", "club/.hidden"):
        with pytest.raises(ValueError, match="empty or hidden"):
            SaveGallery().save(gallery, empty)
    assert not list((models_dir / "galleries").rglob(".*"))
    with pytest.raises(ValueError, match="gallery file name '../x.safetensors' must be a "
                                         "relative name inside the galleries folder"):
        SaveGallery().save(gallery, "../x")
    with pytest.raises(ValueError, match="no gallery is saved yet"):
        LoadGallery().load("(none saved yet)")


def test_gallery_folder_errors_speak_of_the_gallery_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(FOLDERS, "input_dir", str(tmp_path))
    with pytest.raises(ValueError, match="^gallery folder '../x' must be a relative name "
                                         "inside the input folder"):
        gallery_folder("../x")


# --------------------------------------------------------------------------- model caches

def test_unload_frees_dlib_models_and_latent_maps(tmp_path, monkeypatch):
    from face_pipeline.models.embedders import load_embedder

    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    cache.clear()
    load_embedder("dlib_resnet_v1")
    tiny_inswapper(tmp_path / "inswapper_128.onnx", np.eye(512, dtype=np.float32))
    swappers.load_swapper("inswapper_128", device="cpu")
    (report,) = UnloadFaceModels().unload()
    assert report == ("unloaded 3 model(s): 1 ONNX session(s), 1 dlib model(s), "
                      "1 latent map(s)")
    assert UnloadFaceModels().unload() == ("unloaded 0 model(s)",)


def test_a_replaced_model_file_is_loaded_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv("FACE_PIPELINE_MODELS", str(tmp_path))
    path = tmp_path / "inswapper_128.onnx"
    tiny_inswapper(path, np.eye(512, dtype=np.float32))
    cache.clear()
    first = swappers.load_swapper("inswapper_128", device="cpu")
    tiny_inswapper(path, 2 * np.eye(512, dtype=np.float32))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))   # a later write
    second = swappers.load_swapper("inswapper_128", device="cpu")
    assert np.array_equal(first.emap, np.eye(512)) and np.array_equal(second.emap, 2 * np.eye(512))
    assert second.session is not first.session
    assert sum(cache.clear().values()) == 2    # the stale entries were dropped
    ort_cache.unload_all()


# --------------------------------------------------------------------------- downloads

def test_downloads_are_bounded_cancellable_and_report_progress(tmp_path, http_server):
    root, url = http_server
    payload = os.urandom(3 * dl.CHUNK + 5)
    (root / "m.onnx").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "models" / "m.onnx"
    with pytest.raises(RuntimeError, match="more than the 1000 expected"):
        dl.download([f"{url}/m.onnx"], dest, good, max_bytes=1000)
    with pytest.raises(RuntimeError, match="not finished after 0 s"):
        dl.download([f"{url}/m.onnx"], dest, good, deadline=0.0)
    with pytest.raises(dl.DownloadCancelled):
        dl.download([f"{url}/m.onnx"], dest, good, cancelled=lambda: True)
    assert list(dest.parent.iterdir()) == []          # nothing half-written left behind
    seen = []
    dl.set_hooks(lambda name: (lambda done, total: seen.append((name, done, total))))
    try:
        assert dl.download([f"{url}/m.onnx"], dest, good) == dest
    finally:
        dl.set_hooks()
    assert seen[-1] == ("m.onnx", len(payload), len(payload)) and len(seen) == 4


def test_blend_inputs_that_do_not_fit_the_target_say_what_to_do(small):
    target, source, mask = small
    with pytest.raises(ValueError, match="source has a batch of 3 but the target has 2: give "
                                         "one source for all frames or one per frame"):
        blend_ops.gated_blend(target, source.repeat(3, 1, 1, 1), mask)
    with pytest.raises(ValueError, match="source is 40x48 but the target is 48x48: warp the "
                                         "source onto the target first"):
        blend_ops.poisson_composite(target, source[:, :, :40], mask)
    with pytest.raises(ValueError, match="mask is 48x40 but the target is 48x48: the mask "
                                         "must be made on the target's frames"):
        blend_ops.gated_blend(target, source, mask[:, :40])
    with pytest.raises(ValueError, match="connect Face Quality's quality output, or leave the "
                                         "input unconnected to estimate it"):
        blend_ops.gated_blend(target, source, mask, quality=1.01)


def test_face_quality_crop_shapes_up_to_2_to_1_are_crops():
    assert len(blend_ops.face_qualities(torch.rand(2, 64, 32, 3))) == 2
    with pytest.raises(ValueError, match="100x40, not an aligned face crop"):
        blend_ops.face_qualities(torch.rand(1, 40, 100, 3))
