"""Nodes that restore faces and upscale whole frames (embedded Real-ESRGAN engines, ONNX
restorer slots, or the user's own ComfyUI upscale model)."""
from __future__ import annotations

from ..pipeline import faces as face_ops
from ..pipeline import restore as ops
from ..vision.restore import SIZE_POLICIES
from ._comfy import CATEGORY, Progress, frames
from .faces import DEVICE

ENGINES_TOOLTIP = ("esrgan_slim_x4: embedded, fastest, faithful (a sharpened, cleaner bicubic). "
                   "realesr_animevideov3_x4: embedded, fast, bolder features (painterly on "
                   "small faces). realesrgan_x4plus: embedded, most detail, 10-40x slower. "
                   "gpen_bfr_512/256, gfpgan_1.4, codeformer: face restorers loaded from "
                   "models/face_pipeline or models/facerestore_models (see each licence).")
ENHANCE_MODEL = (ops.ENHANCE_MODELS, {"default": ops.DEFAULT_ENHANCER, "tooltip":
                 ENGINES_TOOLTIP})
SOURCE_ENHANCE_MODEL = (ops.ENHANCE_MODELS, {"default": ops.DEFAULT_SOURCE_ENHANCER,
                        "tooltip": "Engine for enhance_source. " + ENGINES_TOOLTIP})
UPSCALE_MODEL = ("UPSCALE_MODEL", {"tooltip": "Optional: a model from ComfyUI's 'Load Upscale "
                 "Model' (ESRGAN family, SwinIR, GFPGAN, RestoreFormer, ...); when connected "
                 "it replaces enhance_model and runs on ComfyUI's device."})
ENHANCE_SOURCE = (ops.SOURCE_POLICIES, {"default": "auto", "tooltip": "Restore the source "
                  "face once before swapping: auto when it is at most 64 px wide, always, or "
                  "off. A restored source brings the network's detail on top of its own "
                  "structure; with off a source under 48 px is still enlarged sharply "
                  "(its own pixels, no network). Either way its structure replaces the "
                  "target's."})
KEEP_STRUCTURE = ("BOOLEAN", {"default": True, "tooltip": "Upscalers only: the face keeps its "
                  "own structure (shape, features, shading: everything coarser than its "
                  "pixels) and the network adds only finer detail, which keeps the person "
                  "recognisable. Off: the network redraws the whole face (cleans heavy blur, "
                  "noise or JPEG blocks, but moves the face away from the person). Face "
                  "restorers (GPEN, GFPGAN, CodeFormer) always redraw it."})
ALLOW_DOWNLOAD = ("BOOLEAN", {"default": False, "tooltip": "Allow downloading a missing model "
                  "file (verified by sha256)."})


class EnhanceFaces:
    DESCRIPTION = ("Restore small or blurred faces: each face is aligned to the FFHQ-512 "
                   "template, enhanced, and pasted back through its face oval, mixed with the "
                   "original by 'blend'. The size policy decides which faces are worth it. The "
                   "report says which faces were enhanced and by which model.")
    CATEGORY = CATEGORY
    FUNCTION = "enhance"
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("image", "mask", "report")
    OUTPUT_TOOLTIPS = ("The images with the selected faces restored.",
                       "Where each image changed.",
                       "Per face: its width and whether and by which model it was enhanced.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Images or video frames."}),
                "enhance_model": ENHANCE_MODEL,
                "blend": ("FLOAT", {"default": ops.BLEND, "min": 0.0, "max": 1.0, "step": 0.05,
                          "tooltip": "Share of the restored face in the result (FaceFusion's "
                          "default 0.8; the rest is the original)."}),
                "size_policy": (SIZE_POLICIES, {"default": "auto", "tooltip": "auto: faces up "
                                "to small_face px wide; auto+medium: also faces up to "
                                "large_face px; all: every face."}),
                "small_face": ("INT", {"default": 64, "min": 8, "max": 4096, "tooltip":
                               "Faces at most this wide (px) are always enhanced."}),
                "large_face": ("INT", {"default": 128, "min": 8, "max": 4096, "tooltip":
                               "auto+medium: faces up to this wide are enhanced too."}),
                "codeformer_fidelity": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0,
                                        "step": 0.05, "tooltip": "codeformer only: 0 restores "
                                        "most, 1 stays closest to the input face."}),
                "device": DEVICE,
            },
            "optional": {
                "faces": ("FACES", {"tooltip": "Faces already found (landmarks give an oval "
                          "paste mask); detected here when not connected."}),
                "upscale_model": UPSCALE_MODEL,
                "allow_download": ALLOW_DOWNLOAD,
                "keep_structure": KEEP_STRUCTURE,
            },
        }

    def enhance(self, image, enhance_model, blend, size_policy, small_face, large_face,
                codeformer_fidelity, device, faces=None, upscale_model=None,
                allow_download=False, keep_structure=True):
        loop = Progress(1 if faces is not None else 3)   # (detect, landmarks,) enhance
        if faces is None:
            faces = face_ops.add_landmarks(image, face_ops.detect_faces(image, device=device,
                                                                        loop=loop),
                                           device=device, loop=loop)
        enhancer = ops.get_enhancer(enhance_model, upscale_model, device, allow_download,
                                    codeformer_fidelity)
        return ops.enhance_faces(image, faces, enhancer, blend=blend, size_policy=size_policy,
                                 small=small_face, large=large_face,
                                 keep_structure=keep_structure, loop=loop)


class UpscaleFrames:
    DESCRIPTION = ("Upscale whole images or video frames x4 with the embedded Real-ESRGAN "
                   "engines or your own ComfyUI upscale model, tile by tile with feathered "
                   "seams (any frame size fits in memory). With faces connected, only the "
                   "regions around the faces go through the model (the rest is bicubic): "
                   "much faster on large frames with small faces.")
    CATEGORY = CATEGORY
    FUNCTION = "upscale"
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "report")
    OUTPUT_TOOLTIPS = ("The upscaled images.", "Which model upscaled them, and by how much.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Images or video frames."}),
                "enhance_model": ENHANCE_MODEL,
                "tile": ("INT", {"default": 256, "min": 32, "max": 2048, "step": 16, "tooltip":
                         "Tile side in input pixels (smaller uses less memory)."}),
                "overlap": ("INT", {"default": 32, "min": 0, "max": 256, "step": 4, "tooltip":
                            "Overlap between tiles in input pixels, cross-faded."}),
                "device": DEVICE,
            },
            "optional": {
                "upscale_model": UPSCALE_MODEL,
                "allow_download": ALLOW_DOWNLOAD,
                "faces": ("FACES", {"tooltip": "Optional: faces of these frames (or of a resized "
                          "copy). Only the regions around them (0.75 face widths on every side) "
                          "are upscaled by the model, the rest bicubic; frames without faces "
                          "are all bicubic."}),
            },
        }

    def upscale(self, image, enhance_model, tile, overlap, device, upscale_model=None,
                allow_download=False, faces=None):
        enhancer = ops.get_enhancer(enhance_model, upscale_model, device, allow_download)
        out = ops.upscale_image(image, enhancer, tile=tile, overlap=overlap, faces=faces,
                                loop=frames)
        return out, (f"{image.shape[0]} frame(s) upscaled x{enhancer.scale} with "
                     f"{enhancer.id}: {image.shape[2]}x{image.shape[1]} -> "
                     f"{out.shape[2]}x{out.shape[1]}")
