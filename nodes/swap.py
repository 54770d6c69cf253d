"""The one-node Face Swap (as in ReActor), composed from the individual nodes' functions."""
from __future__ import annotations

from ..pipeline.restore import DEFAULT_SOURCE_ENHANCER
from ..pipeline.swap import ENGINES, face_swap, face_swap_passes
from ..pipeline.swap_geometry import MIN_FACE_CONFIDENCE
from ..models.swappers import BOOSTS
from ..pipeline.provenance import record_swap
from ..vision.color import METHODS
from ._comfy import CATEGORY, Progress
from ..models.maskers import AUTO
from .faces import DEVICE
from .masks import MASK_MODEL
from .restore import ALLOW_DOWNLOAD, ENHANCE_SOURCE, SOURCE_ENHANCE_MODEL, UPSCALE_MODEL


MIN_CONFIDENCE = ("FLOAT", {"default": MIN_FACE_CONFIDENCE, "min": 0.0, "max": 1.0, "step": 0.01,
                  "tooltip": "Leave target faces whose landmark confidence is below this "
                  "alone (listed in the report): a face mesh that does not fit, e.g. on an "
                  "upside-down face, would swap into a mangled face."})


class FaceSwap:
    DESCRIPTION = ("Swap a source face onto every selected face of the target images in one "
                   "node: detect + 478 landmarks, swap (mesh_warp: no model, CPU real time; "
                   "inswapper_128: ONNX model from the models folder), then a quality-gated "
                   "Laplacian blend with colour matching. Frames without a face pass through.")
    CATEGORY = CATEGORY + "/swap"
    FUNCTION = "swap"
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("image", "mask", "report")
    OUTPUT_TOOLTIPS = ("The target images with the face swapped.",
                       "Where each image changed (the final blend mask).",
                       "Which faces of which frames were swapped; source quality and strength.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "source_image": ("IMAGE", {"tooltip": "The image with the face to put in."}),
                "target_image": ("IMAGE", {"tooltip": "Images or video frames to change."}),
                "engine": (ENGINES, {"default": "mesh_warp", "tooltip": "mesh_warp: warps the "
                           "source's own pixels over the face mesh (embedded, any resolution). "
                           "inswapper_128: InsightFace's model (download, non-commercial)."}),
                "source_face_index": ("INT", {"default": 0, "min": 0, "max": 1000, "tooltip":
                                      "Which source face (largest first)."}),
                "target_selection": ("STRING", {"default": "all", "tooltip": "Faces to replace "
                                     "in each frame: all, largest, or indices like 0,2. With "
                                     "tracked faces (Track Faces) the indices are track ids "
                                     "and largest is the largest person over the whole clip."}),
                "shape_transfer": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05,
                                   "tooltip": "mesh_warp: move the target's face shape toward "
                                   "the source's (identity carries better)."}),
                "keep_target_eyes": ("BOOLEAN", {"default": False, "tooltip": "mesh_warp: keep "
                                     "the target's eyes (gaze)."}),
                "keep_target_mouth": ("BOOLEAN", {"default": True, "tooltip": "mesh_warp: keep "
                                      "the target's mouth interior (teeth, open mouth)."}),
                "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                             "tooltip": "Blend strength; a low-quality source only loses its fine "
                             "detail, never strength."}),
                "feather": ("FLOAT", {"default": 15.0, "min": 0.0, "max": 128.0, "step": 1.0,
                            "tooltip": "Soft edge width in pixels."}),
                "color": (METHODS, {"default": "skin", "tooltip": "Colour matching of "
                          "the source to the target's skin. skin (mesh_warp): tone and shading "
                          "from skin pixels only; the source's hair and glasses frames (light "
                          "ones when its nose bridge shows them) and the target's beard do not "
                          "show through."}),
                "keep_target_beard": ("BOOLEAN", {"default": False, "tooltip": "mesh_warp, "
                                      "color skin: keep the target's beard or stubble instead "
                                      "of the source's bare skin."}),
                "keep_occluders": ("BOOLEAN", {"default": False, "tooltip": "mesh_warp, color "
                                   "skin: keep what covers the target's face (a hand, a "
                                   "microphone, thick hair) in front, found by mask_model."}),
                "watermark": ("BOOLEAN", {"default": True, "tooltip": "Mark swapped frames "
                              "with an invisible watermark (survives JPEG and resizing; "
                              "Detect Swap Watermark finds it) and add a note to saved PNGs."}),
                "sharpen": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 2.0, "step": 0.05,
                            "tooltip": "Light unsharp mask on the swapped face."}),
                "pixel_boost": ([str(b * 128) for b in BOOSTS], {"default": "128", "tooltip":
                                "inswapper_128: swap at 256/512 px by interleaved sub-sampling "
                                "(sharper on large faces)."}),
                "device": DEVICE,
            },
            "optional": {
                "min_face_confidence": MIN_CONFIDENCE,
                "mask_model": MASK_MODEL,
                "source_faces": ("FACES", {"tooltip": "Faces already found on the source "
                                 "(with landmarks); found here when not connected."}),
                "target_faces": ("FACES", {"tooltip": "Faces already found on the targets "
                                 "(with landmarks); found here when not connected."}),
                "allow_download": ALLOW_DOWNLOAD,
                "enhance_source": ENHANCE_SOURCE,
                "enhance_model": SOURCE_ENHANCE_MODEL,
                "upscale_model": UPSCALE_MODEL,
                "matte": ("MASK", {"tooltip": "A matte of the targets (Chroma Key, Portrait "
                          "Matte, Refine Matte): the blend mask is multiplied by it, so what "
                          "is not the subject stays the target's."}),
            },
            "hidden": {"extra_pnginfo": "EXTRA_PNGINFO"},
        }

    def swap(self, source_image, target_image, engine, source_face_index, target_selection,
             shape_transfer, keep_target_eyes, keep_target_mouth, strength, feather, color,
             keep_target_beard, keep_occluders, watermark, sharpen, pixel_boost, device,
             source_faces=None, target_faces=None, allow_download=False, matte=None,
             min_face_confidence=MIN_FACE_CONFIDENCE, mask_model=AUTO, enhance_source="auto",
             enhance_model=DEFAULT_SOURCE_ENHANCER, upscale_model=None, extra_pnginfo=None):
        out = face_swap(source_image, target_image, source_faces=source_faces,
                        target_faces=target_faces, source_index=source_face_index,
                        targets=target_selection, engine=engine, shape_transfer=shape_transfer,
                        keep_eyes=keep_target_eyes, keep_mouth=keep_target_mouth,
                        pixel_boost=int(pixel_boost), strength=strength, feather=feather,
                        color=color, keep_beard=keep_target_beard, occlusion=keep_occluders,
                        mask_model=mask_model,
                        watermark=watermark, sharpen=sharpen, matte=matte,
                        enhance_source=enhance_source, enhance_model=enhance_model,
                        upscale_model=upscale_model, device=device,
                        allow_download=allow_download, min_confidence=min_face_confidence,
                        loop=Progress(face_swap_passes(target_faces)))
        record_swap(extra_pnginfo, "Face Swap", watermark)
        return out
