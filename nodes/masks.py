"""Masks drawn from the 478 face landmarks."""
from __future__ import annotations

from ..models.maskers import AUTO, CHOICES, load_maskers
from ..pipeline import swap_geometry as ops
from ..vision.regions import DEFAULT_FOREHEAD
from ._comfy import CATEGORY, frames

MASK_MODEL = (CHOICES, {"default": AUTO, "tooltip": "What finds the face's own skin and what "
              "covers it. auto: FaceFusion's XSeg (xseg_1.onnx: occluders) and BiSeNet "
              "(bisenet_resnet_34.onnx: face parsing) when their files are in the models "
              "folder, else the embedded skin-colour model (misses objects of the skin's own "
              "colour). Naming a model uses it (an error says where to put a missing file)."})

SPACES = ["image", "aligned crop"]


class FaceRegionMask:
    DESCRIPTION = ("A mask of face regions from the 478 landmarks: face (oval plus forehead), "
                   "skin, eyes, brows, nose, lips, mouth (inner), and occluders (what covers "
                   "the face: XSeg / BiSeNet from the models folder, else the face's own skin "
                   "colour; image space). Add some, subtract others, "
                   "grow or shrink, feather. 'image' gives one mask per frame (all faces; "
                   "zeros without faces); 'aligned crop' one per face of Align Faces, for "
                   "Paste Faces Back's crop_mask.")
    CATEGORY = CATEGORY + "/masks"
    FUNCTION = "mask"
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("mask",)
    OUTPUT_TOOLTIPS = ("Per frame [B,H,W] ('image') or per aligned face [N,h,w] ('aligned "
                       "crop'), 0..1.",)

    @classmethod
    def INPUT_TYPES(cls):
        names = ", ".join(ops.REGION_NAMES)
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The images the faces were found on (sets the mask "
                      "size in 'image' space)."}),
            "faces": ("FACES", {"tooltip": "Faces with landmarks (Face Landmarks); for 'aligned "
                      "crop', the FACES output of Align Faces."}),
            "regions": ("STRING", {"default": "skin", "tooltip": f"Regions to include, comma-"
                        f"separated: {names}."}),
            "subtract": ("STRING", {"default": "", "tooltip": f"Regions to cut out, comma-"
                         f"separated: {names}."}),
            "grow": ("INT", {"default": 0, "min": -256, "max": 256, "tooltip": "Pixels to grow "
                     "(positive) or shrink (negative) the combined mask."}),
            "blur": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 256.0, "step": 0.5,
                     "tooltip": "Feather radius in pixels (Gaussian, sigma = radius / 2)."}),
            "forehead": ("FLOAT", {"default": DEFAULT_FOREHEAD, "min": 0.0, "max": 1.0,
                         "step": 0.01, "tooltip": "How far 'face' and 'skin' reach above the "
                         "mesh, in face heights (the mesh stops near the hairline)."}),
            "space": (SPACES, {"default": "image", "tooltip": "image: masks of the frames; "
                      "aligned crop: masks of the crops cut by Align Faces."}),
        }, "optional": {"mask_model": MASK_MODEL}}

    def mask(self, image, faces, regions, subtract, grow, blur, forehead, space,
             mask_model=AUTO):
        add, cut = ops.parse_regions(regions), ops.parse_regions(subtract)
        options = dict(grow=grow, blur=blur, forehead=forehead)
        if space == "aligned crop":
            return (ops.crop_region_masks(faces, add, cut, **options),)
        maskers = load_maskers(mask_model) if ops.OCCLUDERS in (*add, *cut) else []
        return (ops.face_region_masks(image, faces, add, cut, maskers=maskers, loop=frames,
                                      **options),)
