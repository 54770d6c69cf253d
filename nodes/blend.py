"""Nodes that blend a warped swap source into its target and score face quality."""
from __future__ import annotations

from ..pipeline import blend as ops
from ..pipeline.provenance import mark_frames, marked_frames, record_swap
from ..vision.color import METHODS
from ..vision.poisson import MODES
from ._comfy import CATEGORY, frames

SOURCE = ("IMAGE", {"tooltip": "The source already warped onto the target (same size), e.g. "
                    "the Mesh-Warp Swap output; one image for all frames or one per frame."})
TARGET = ("IMAGE", {"tooltip": "The frames to change (video batches welcome)."})
MASK = ("MASK", {"tooltip": "Where the source goes (e.g. a face-region mask); one for all "
                 "frames or one per frame."})


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


class GatedBlend:
    DESCRIPTION = ("Blend a warped face into its target band by band: colour is matched "
                   "first, the coarsest band (light) stays mostly the target's, middle bands "
                   "(identity) come from the source, and the finest bands (detail) only as "
                   "far as the source's quality allows (quality never lets the target's "
                   "features show through). Pixels outside the mask stay bit-identical "
                   "(with watermark off).")
    CATEGORY = CATEGORY
    FUNCTION = "blend"
    RETURN_TYPES = ("IMAGE", "MASK", "FLOAT", "FLOAT")
    RETURN_NAMES = ("image", "mask", "quality", "strength")
    OUTPUT_TOOLTIPS = ("The blended frames.",
                       "The final feathered mask: where the source was added.",
                       "The source quality used (0..1; the mean over the batch).",
                       "The applied strength (the requested one; mean over the batch).")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "target": TARGET,
                "source": SOURCE,
                "mask": MASK,
                "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01,
                             "tooltip": "Strength of every band; the source's quality only "
                             "limits its fine detail (finer than 4 px)."}),
                "feather": ("FLOAT", {"default": 15.0, "min": 0.0, "max": 256.0, "step": 1.0,
                            "tooltip": "Width in pixels of the soft edge, inside the mask."}),
                "color": (METHODS, {"default": "reinhard", "tooltip": "Colour transfer "
                          "inside the mask before blending: reinhard (LAB mean/std), "
                          "histogram (LAB histogram matching) or none."}),
                "target_light": ("FLOAT", {"default": 0.6, "min": 0.0, "max": 1.0, "step": 0.05,
                                 "tooltip": "How much of the coarsest band (shading, light) "
                                 "stays the target's."}),
                "sharpen": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 2.0, "step": 0.05,
                            "tooltip": "Unsharp-mask amount on the blended face (0: off)."}),
                "watermark": ("BOOLEAN", {"default": True, "tooltip": "Mark blended frames "
                              "with the invisible swap watermark (Detect Swap Watermark finds "
                              "it; at most 1 grey level everywhere) and add a note to saved "
                              "PNGs. Turn off when this blend is not a face swap."}),
            },
            "optional": {
                "quality": ("FLOAT", {"forceInput": True, "tooltip": "Source quality 0..1 "
                            "(e.g. Face Quality on the source image, measured once); when not "
                            "connected it is estimated on the warped source."}),
            },
            "hidden": {"extra_pnginfo": "EXTRA_PNGINFO"},
        }

    def blend(self, target, source, mask, strength, feather, color, target_light, sharpen,
              watermark=True, quality=None, extra_pnginfo=None):
        image, final, qualities, strengths = ops.gated_blend(
            target, source, mask, quality=quality, strength=strength, feather=feather,
            color=color, target_light=target_light, sharpen=sharpen, loop=frames)
        if watermark:
            image = mark_frames(image, marked_frames(final))
            record_swap(extra_pnginfo, "Gated Blend", True)
        return image, final, _mean(qualities), _mean(strengths)


class PoissonComposite:
    DESCRIPTION = ("Seamless (Poisson) cloning of a source into a target through a mask: "
                   "the source's gradients, re-lit to meet the target along the border. Works "
                   "when the mask touches the image border; pixels outside the mask stay "
                   "bit-identical. It pulls the border's colours in: keep the mask on skin, "
                   "or prefer Gated Blend (or mixed) where the edge crosses hair or background.")
    CATEGORY = CATEGORY
    FUNCTION = "composite"
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask")
    OUTPUT_TOOLTIPS = ("The composited frames.", "The solved region (mask > 0.5).")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "target": TARGET,
            "source": SOURCE,
            "mask": MASK,
            "mode": (MODES, {"default": "normal", "tooltip": "normal: the source's "
                     "gradients; mixed: per pixel the stronger of source and target gradients "
                     "(keeps the target's edges, e.g. glasses, where the source is flat)."}),
        }}

    def composite(self, target, source, mask, mode):
        return ops.poisson_composite(target, source, mask, mode, loop=frames)


class FaceQuality:
    DESCRIPTION = ("No-reference face quality in 0..1 from resolution, sharpness, noise and "
                   "JPEG blocking. Without FACES every image is one aligned face crop (Align "
                   "Faces, ArcFace or FFHQ template); with FACES the images are the frames "
                   "they were found on, which also knows each face's true pixel width.")
    CATEGORY = CATEGORY
    FUNCTION = "score"
    RETURN_TYPES = ("FLOAT", "STRING")
    RETURN_NAMES = ("quality", "report")
    OUTPUT_TOOLTIPS = ("Mean quality over all faces (0 when there are none); connect to "
                       "Gated Blend's quality.",
                       "One line per face: quality and its resolution, sharpness, noise and "
                       "blockiness terms.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Aligned face crops, or the frames the FACES "
                          "were found on."}),
            },
            "optional": {
                "faces": ("FACES", {"tooltip": "Faces from Detect Faces / Face Landmarks on "
                          "these images (then the images are frames, not crops)."}),
            },
        }

    def score(self, image, faces=None):
        found = ops.face_qualities(image, faces, loop=frames)
        report = "\n".join(f"face {i}: {q.describe()}" for i, q in enumerate(found))
        return _mean([q.quality for q in found]), report or "no faces"
