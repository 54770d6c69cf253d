"""Nodes that find, landmark, align, paste back and preview faces."""
from __future__ import annotations

from ..models.onnx import DEVICES
from ..models.registry import model_ids
from ..pipeline import faces as ops
from ..pipeline import restore as retry
from ..vision.detection import ORDERS, ROTATIONS, SCANS
from ..vision.geometry import DEFAULT_SIZES, TEMPLATES, Template
from ._comfy import CATEGORY, frames

DEVICE = (DEVICES, {"default": "auto", "tooltip": "Where the model runs: auto picks CUDA, "
                    "CoreML or DirectML when this onnxruntime build has it, else the CPU."})


RETRY_MODELS = ["off"] + retry.UPSCALERS


class DetectFaces:
    DESCRIPTION = ("Find faces in every image of a batch (video frames welcome). The embedded "
                   "MediaPipe detectors work offline; SCRFD loads from models/face_pipeline. "
                   "A frame without faces gets an empty list, never an error.")
    CATEGORY = CATEGORY
    FUNCTION = "detect"
    RETURN_TYPES = ("FACES", "INT")
    RETURN_NAMES = ("faces", "face_count")
    OUTPUT_TOOLTIPS = ("Faces per frame: box, score, 5 keypoints.", "Faces found in the whole batch.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Images to search; grey and RGBA are accepted "
                                    "(alpha is ignored)."}),
                "model": (model_ids("detect"), {"default": model_ids("detect")[0], "tooltip":
                          "mediapipe_face_short: faces within "
                          "~2 m (portraits, selfies); mediapipe_face_full: smaller faces; "
                          "scrfd_10g: insightface's detector (download, non-commercial)."}),
                "threshold": ("FLOAT", {"default": 0.5, "min": 0.05, "max": 0.99, "step": 0.01,
                              "tooltip": "Minimum detector confidence."}),
                "adaptive_threshold": ("BOOLEAN", {"default": True, "tooltip": "Lower the "
                                       "threshold for small images (0.5 becomes 0.3 at 48x48)."}),
                "max_faces": ("INT", {"default": 0, "min": 0, "max": 1000, "tooltip":
                              "Keep at most this many faces per frame, after ordering (0: all)."}),
                "order": (ORDERS, {"default": "largest", "tooltip": "Order of faces in each frame;"
                          " 'face index' inputs downstream count in this order."}),
                "min_size": ("INT", {"default": 0, "min": 0, "max": 4096, "tooltip":
                             "Ignore faces narrower than this many pixels."}),
                "scan": (SCANS, {"default": "auto", "tooltip": "whole_frame: one pass over the "
                         "whole frame (fastest; finds faces wider than ~1/8 of the frame's longer "
                         "side). auto: that pass, then faces cut by the frame edge, then a scan "
                         "of tiles at the scales the frame's size hides from one pass (faces "
                         "down to ~16 px), skipping tiles inside found faces and blank tiles. "
                         "whole_frame+tiles: the same, skipping no tile."}),
                "verify": ("BOOLEAN", {"default": True, "tooltip": "Re-check each face with the "
                           "face mesh's face-presence score; drops hands and patterns."}),
                "device": DEVICE,
            },
            "optional": {
                "rotations": (ROTATIONS, {"default": "0", "tooltip": "Also search the image "
                              "turned by these angles (degrees clockwise), for sideways or "
                              "upside-down pictures; each angle costs one more search."}),
                "allow_download": ("BOOLEAN", {"default": False, "tooltip": "Allow downloading "
                                   "a missing model file (verified by sha256)."}),
                "enhance_retry": (RETRY_MODELS, {"default": "off", "tooltip": "When a small "
                                  "image (up to 512 px) yields no face or only weak ones, "
                                  "enlarge it x4 with this upscaler and detect again (there "
                                  f"faces under {retry.RETRY_SMALL_FACE:.0f} px need a "
                                  "face-presence score of only "
                                  f"{retry.RETRY_PRESENCE_THRESHOLD}); "
                                  "boxes are mapped back to the original pixels. "
                                  "realesr_animevideov3_x4 recovers the most faces."}),
            },
        }

    def detect(self, image, model, threshold, adaptive_threshold, max_faces, order, min_size,
               scan, verify, device, rotations="0", allow_download=False, enhance_retry="off"):
        def detect(batch, **retry):   # the progress bar follows the first (whole-batch) pass
            return ops.detect_faces(batch, model, threshold=threshold,
                                    adaptive_threshold=adaptive_threshold, max_faces=max_faces,
                                    order=order, min_size=min_size, scan=scan,
                                    rotations=rotations, verify=verify, device=device,
                                    allow_download=allow_download,
                                    loop=frames if batch is image else range, **retry)
        if enhance_retry == "off":
            faces = detect(image)
        else:
            faces = retry.detect_with_retry(image, detect, retry.get_enhancer(
                enhance_retry, device=device, allow_download=allow_download))[0]
        return faces, faces.count


class FaceLandmarks:
    DESCRIPTION = ("Place 478 landmarks (468-point face mesh + 2 x 5 iris points) on every "
                   "face, in image pixels, with a confidence, mesh-derived keypoints and head "
                   "pose (yaw, pitch, roll). NaN/inf pixels inside a face's crops are refused "
                   "(the error names the frame); elsewhere they do not affect the landmarks.")
    CATEGORY = CATEGORY
    FUNCTION = "landmarks"
    RETURN_TYPES = ("FACES",)
    RETURN_NAMES = ("faces",)
    OUTPUT_TOOLTIPS = ("The same faces with landmarks, keypoints and pose filled in.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The images the faces were detected on."}),
            "faces": ("FACES", {"tooltip": "Faces from Detect Faces (faces that already have "
                                 "landmarks pass through unchanged unless refine)."}),
            "model": (model_ids("landmarks"), {"default": model_ids("landmarks")[0],
                                               "tooltip": "Landmark model."}),
            "refine": ("BOOLEAN", {"default": False, "tooltip": "Run the mesh a second time on a "
                       "crop re-centred on the first result (more accurate, ~2x the time)."}),
            "device": DEVICE,
        }}

    def landmarks(self, image, faces, model, refine, device):
        return (ops.add_landmarks(image, faces, model, refine=refine, device=device, loop=frames),)


class AlignFaces:
    DESCRIPTION = ("Cut an aligned, upright crop of every face: a similarity transform maps "
                   "its 5 keypoints onto a template (ArcFace 112/128 for recognition and "
                   "swapping, FFHQ 512 for restoration). Crops come out in frame order.")
    CATEGORY = CATEGORY
    FUNCTION = "align"
    RETURN_TYPES = ("IMAGE", "FACES")
    RETURN_NAMES = ("crops", "faces")
    OUTPUT_TOOLTIPS = ("One crop per face, all frames in order (one black crop if no face).",
                       "The faces with their crop matrices, for Paste Faces Back.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The images the faces were detected on."}),
            "faces": ("FACES", {"tooltip": "Faces from Detect Faces or Face Landmarks (mesh "
                      "keypoints align more precisely)."}),
            "template": (list(TEMPLATES), {"default": "ffhq_512", "tooltip": "Where the eyes, "
                         "nose and mouth land in the crop."}),
            "size": ("INT", {"default": 0, "min": 0, "max": 2048, "step": 8, "tooltip":
                     "Crop side in pixels; 0 uses the template's own size."}),
            "scale": ("FLOAT", {"default": 1.0, "min": 0.25, "max": 4.0, "step": 0.05, "tooltip":
                      "Below 1 zooms out (more hair and neck), above 1 zooms in."}),
        }}

    def align(self, image, faces, template, size, scale):
        tpl = Template(template, size or DEFAULT_SIZES[template], scale)
        return ops.align_faces(image, faces, tpl, loop=frames)


class PasteFacesBack:
    DESCRIPTION = ("Warp processed face crops back into the original images through a "
                   "feathered mask. Pixels outside the mask are left bit-identical; frames "
                   "without faces pass through.")
    CATEGORY = CATEGORY
    FUNCTION = "paste"
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask")
    OUTPUT_TOOLTIPS = ("The images with the crops pasted back.", "Where each image changed.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The original images."}),
                "crops": ("IMAGE", {"tooltip": "Crops from Align Faces, processed or not, same "
                          "count and order; crops enlarged by an upscaler (same aspect ratio) "
                          "are pasted at their scale."}),
                "faces": ("FACES", {"tooltip": "The FACES output of the same Align Faces node."}),
                "feather": ("FLOAT", {"default": 16.0, "min": 0.0, "max": 256.0, "step": 1.0,
                            "tooltip": "Width of the soft edge, in crop pixels."}),
            },
            "optional": {
                "crop_mask": ("MASK", {"tooltip": "Optional mask in crop space, the crops' size "
                              "(one per crop, or one for all), e.g. a face oval."}),
            },
        }

    def paste(self, image, crops, faces, feather, crop_mask=None):
        return ops.paste_faces_back(image, crops, faces, feather=feather, crop_masks=crop_mask,
                                    loop=frames)


class PreviewFaces:
    DESCRIPTION = "Draw boxes, the 478 landmarks, the 5 keypoints and labels on the images."
    CATEGORY = CATEGORY
    FUNCTION = "draw"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("Annotated images; connect to Preview Image or Save Image.",)

    @classmethod
    def INPUT_TYPES(cls):
        flag = lambda tip: ("BOOLEAN", {"default": True, "tooltip": tip})
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The images the faces were detected on."}),
            "faces": ("FACES", {"tooltip": "Faces to draw."}),
            "boxes": flag("Draw face boxes."),
            "landmarks": flag("Draw the 478 landmarks (iris points in blue)."),
            "keypoints": flag("Draw the 5 keypoints (eyes, nose, mouth corners)."),
            "labels": flag("Label each face with its index, score and head pose."),
        }}

    def draw(self, image, faces, boxes, landmarks, keypoints, labels):
        return (ops.draw_faces_batch(image, faces, loop=frames, boxes=boxes, landmarks=landmarks,
                                     keypoints=keypoints, labels=labels),)
