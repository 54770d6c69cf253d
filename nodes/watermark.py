"""Detect Swap Watermark: does an image carry the pack's invisible face-swap mark?"""
from __future__ import annotations

from ..pipeline.provenance import detect_marks
from ..vision.watermark import THRESHOLD
from ._comfy import CATEGORY, frames


class DetectSwapWatermark:
    DESCRIPTION = ("Report whether each image carries the invisible watermark that Face Swap "
                   "and Gated Blend add to swapped frames. It survives JPEG (quality 75) and "
                   "resizing; cropping, rotation, heavy filtering or re-generation remove "
                   "it, so 'not found' does not prove an image is unswapped.")
    CATEGORY = CATEGORY + "/swap"
    FUNCTION = "detect"
    RETURN_TYPES = ("BOOLEAN", "FLOAT", "STRING")
    RETURN_NAMES = ("found", "score", "report")
    OUTPUT_TOOLTIPS = ("True when any image of the batch carries the mark.",
                       f"The highest detection score (about 0 unmarked; above {THRESHOLD:g} "
                       "marked).",
                       "One line per image: found or not, and its score.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {"tooltip": "Images to check (a loaded "
                                                 "photo, a video's frames)."})}}

    def detect(self, image):
        found, scores = detect_marks(image, loop=frames)
        report = "\n".join(f"image {i}: {'swap watermark found' if f else 'no swap watermark'}"
                           f" (score {z:.1f})" for i, (f, z) in enumerate(zip(found, scores)))
        return any(found), max(scores), report
