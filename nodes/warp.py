"""The mesh-warp face swap node."""
from __future__ import annotations

from ..models.maskers import AUTO, load_maskers
from ..pipeline import swap_geometry as ops
from ..pipeline.restore import DEFAULT_SOURCE_ENHANCER, prepare_source
from ..vision.skin import TARGET_LIGHT
from ._comfy import CATEGORY, frames
from .faces import DEVICE
from .masks import MASK_MODEL
from .restore import ENHANCE_SOURCE, SOURCE_ENHANCE_MODEL, UPSCALE_MODEL
from .swap import MIN_CONFIDENCE


class MeshWarpSwap:
    DESCRIPTION = ("Warp the source face's texture over the 478-point face mesh into each "
                   "target face (one dense remap per face, no model). Hidden parts of a turned "
                   "source face are filled from its other side. Gives the raw warp and its "
                   "mask: blend and colour-match it downstream. Frames without a face pass "
                   "through unchanged.")
    CATEGORY = CATEGORY + "/swap"
    FUNCTION = "swap"
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("image", "mask", "report")
    OUTPUT_TOOLTIPS = ("Target frames with the warped source laid in through the mask.",
                       "Where the warp produced source pixels (0..1, soft toward kept eyes "
                       "and mouth).",
                       "Which faces of which frames were swapped.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "source_image": ("IMAGE", {"tooltip": "The image with the face to put in."}),
            "source_faces": ("FACES", {"tooltip": "Faces of the source image, with landmarks "
                             "(Face Landmarks)."}),
            "target_image": ("IMAGE", {"tooltip": "Frames to put the face into (a video "
                             "batch is fine)."}),
            "target_faces": ("FACES", {"tooltip": "Faces of the target frames, with "
                             "landmarks."}),
            "source_face_index": ("INT", {"default": 0, "min": 0, "max": 1000, "tooltip":
                                  "Which source face, counting over the source batch in "
                                  "detection order."}),
            "target_selection": ("STRING", {"default": "all", "tooltip": "Faces to replace in "
                                 "each frame: all, largest, or indices like 0,2. With "
                                 "tracked faces (Track Faces) the indices are track ids and "
                                 "largest is the largest person over the whole clip."}),
            "shape_transfer": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05,
                               "tooltip": "How far the target's face shape moves toward the "
                               "source's (carries identity; 0 keeps the target's outline)."}),
            "keep_target_eyes": ("BOOLEAN", {"default": False, "tooltip": "Leave the target's "
                                 "own eyes (its gaze) instead of the source's."}),
            "keep_target_mouth": ("BOOLEAN", {"default": True, "tooltip": "Leave the target's "
                                  "inner mouth (teeth, tongue), which rarely matches the "
                                  "source's."}),
            "match_skin": ("BOOLEAN", {"default": True, "tooltip": "Give the warped face the "
                           "target's skin tone and shading from skin pixels only, and leave "
                           "the source's hair and glasses frames behind (light frames when "
                           "its nose bridge shows them). Blend it with Gated Blend's color "
                           "none and target_light 0."}),
            "target_light": ("FLOAT", {"default": TARGET_LIGHT, "min": 0.0, "max": 1.0,
                             "step": 0.05,
                             "tooltip": "match_skin: how much of the target's shading across "
                             "the face (its light) the face takes (the tone always follows "
                             "the target)."}),
            "keep_occluders": ("BOOLEAN", {"default": False, "tooltip": "match_skin: keep "
                               "what covers the target's face (a hand, thick hair) in front, "
                               "found by mask_model."}),
            "keep_target_beard": ("BOOLEAN", {"default": False, "tooltip": "match_skin: keep "
                                  "the target's beard (as an occluder) instead of the "
                                  "source's skin."}),
        }, "optional": {
            "min_face_confidence": MIN_CONFIDENCE,
            "mask_model": MASK_MODEL,
            "enhance_source": ENHANCE_SOURCE,
            "enhance_model": SOURCE_ENHANCE_MODEL,
            "upscale_model": UPSCALE_MODEL,
            "device": DEVICE,
        }}

    def swap(self, source_image, source_faces, target_image, target_faces, source_face_index,
             target_selection, shape_transfer, keep_target_eyes, keep_target_mouth,
             match_skin=True, target_light=TARGET_LIGHT, keep_occluders=False,
             keep_target_beard=False,
             min_face_confidence=ops.MIN_FACE_CONFIDENCE, mask_model=AUTO,
             enhance_source="auto", enhance_model=DEFAULT_SOURCE_ENHANCER, upscale_model=None,
             device="auto"):
        source_image, source_faces, source_face_index, note = prepare_source(
            source_image, source_faces, source_face_index, enhance_source, model=enhance_model,
            upscale_model=upscale_model, device=device)
        image, mask, report = ops.mesh_warp_swap(
            source_image, source_faces, target_image, target_faces,
            source_index=source_face_index, targets=target_selection,
            shape_transfer=shape_transfer, keep_eyes=keep_target_eyes,
            keep_mouth=keep_target_mouth, match_skin=match_skin, occlusion=keep_occluders,
            keep_beard=keep_target_beard, target_light=target_light,
            maskers=load_maskers(mask_model, device, occlusion=keep_occluders)
            if match_skin else [],
            min_confidence=min_face_confidence, loop=frames)
        return image, mask, report + (f"\n{note}" if note else "")
