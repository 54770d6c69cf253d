"""Green-screen keying, portrait mattes, matte refinement and compositing."""
from __future__ import annotations

import os

from ..models import matting
from ..models.registry import model_ids
from ..pipeline import matte as ops
from ..vision import chroma_key as keying
from ..vision import matte as refine
from ..vision.composite import FITS
from ._comfy import CATEGORY, frames
from .faces import DEVICE

try:  # ComfyUI's output folder; the headless runner's stand-in otherwise
    import folder_paths
except ImportError:
    folder_paths = None

MATTE_CATEGORY = CATEGORY + "/matte"


class ChromaKey:
    DESCRIPTION = ("Key out a green (or blue) screen: the key colour is picked from the image "
                   "border (or given), the uneven screen is modelled as a smooth plate, alpha "
                   "comes from each pixel's screen excess relative to the plate, small specks "
                   "and holes are cleaned up, and the foreground is unmixed from the plate and "
                   "despilled. Outputs spill-free colours and the alpha.")
    CATEGORY = MATTE_CATEGORY
    FUNCTION = "key"
    RETURN_TYPES = ("IMAGE", "MASK", "STRING")
    RETURN_NAMES = ("image", "mask", "report")
    OUTPUT_TOOLTIPS = ("The subject's colours with the screen removed and spill suppressed "
                       "(use with the mask in Composite).",
                       "Alpha: 1 subject, 0 screen, soft at hair and semi-transparent parts.",
                       "Key colour and tolerance used per frame.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "Green- or blue-screen images or video frames."}),
            "key_color": ("STRING", {"default": "auto", "tooltip": "auto: picked from the image "
                          "border on the first frame; or a hex colour like #00b140."}),
            "tolerance": ("FLOAT", {"default": keying.TOLERANCE, "min": 0.0, "max": 0.9,
                          "step": 0.01, "tooltip": "How far from the screen a pixel may be and "
                          "still be fully transparent (raised automatically to 3x the screen's "
                          "noise)."}),
            "softness": ("FLOAT", {"default": keying.SOFTNESS, "min": 0.05, "max": 1.0,
                         "step": 0.05, "tooltip": "Width of the transparent-to-opaque ramp; "
                         "lower gives harder edges and more solid subjects."}),
            "clean_up": ("INT", {"default": keying.CLEAN_UP, "min": 0, "max": 100000, "tooltip":
                         "Remove opaque specks and fill holes smaller than this many pixels "
                         "(0: off)."}),
            "despill": (keying.DESPILL, {"default": "average", "tooltip": "Spill suppression: "
                        "average (strong: key channel <= mean of the others), max (mild), none."}),
            "despill_strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                 "tooltip": "How much of the spill to remove."}),
        }}

    def key(self, image, key_color, tolerance, softness, clean_up, despill, despill_strength):
        return ops.chroma_key(image, key_color, tolerance=tolerance, softness=softness,
                              clean_up=clean_up, despill=despill,
                              despill_strength=despill_strength, loop=frames)


class PortraitMatte:
    DESCRIPTION = ("A person's alpha matte from a portrait-matting model, any background (no "
                   "green screen needed). modnet: MODNet, embedded (fetched by install.py "
                   "from PyPI, no download at run time); mediapipe_selfie: fast person mask "
                   "for video. Refine Matte sharpens hair edges.")
    CATEGORY = MATTE_CATEGORY
    FUNCTION = "matte"
    RETURN_TYPES = ("MASK",)
    RETURN_NAMES = ("mask",)
    OUTPUT_TOOLTIPS = ("Alpha: 1 person, 0 background.",)

    @classmethod
    def INPUT_TYPES(cls):
        ids = model_ids("matte")
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "Images or video frames with people."}),
                "model": (ids, {"default": ids[0], "tooltip": "modnet: MODNet photographic "
                          "portrait matting (embedded, Apache-2.0). mediapipe_selfie: MediaPipe "
                          "selfie segmentation, a fast person mask for video (embedded, 256 px, "
                          "coarse edges: refine it). "
                          "modnet_photographic_portrait_matting: your own MODNet ONNX file in "
                          "models/face_pipeline."}),
                "resolution": ("INT", {"default": matting.RESOLUTION, "min": 128, "max": 2048,
                               "step": 32, "tooltip": "MODNet: short side the model runs at "
                               "(trained at 512, the most accurate on busy backgrounds; 448 takes "
                               "0.7x its time; lower is faster still). mediapipe_selfie always "
                               "runs at 256."}),
                "device": DEVICE,
            },
            "optional": {
                "allow_download": ("BOOLEAN", {"default": False, "tooltip": "Allow downloading "
                                   "a missing model file (verified by sha256)."}),
            },
        }

    def matte(self, image, model, resolution, device, allow_download=False):
        return (ops.portrait_matte(image, model, resolution, device, allow_download, loop=frames),)


class RefineMatte:
    DESCRIPTION = ("Refine a coarse matte (Portrait Matte, Chroma Key) on its image: a trimap "
                   "with an unknown band along the edge (wider around detected heads, for "
                   "hair), a colour guided filter inside the band, and foreground colours "
                   "estimated so composites show no old-background fringe.")
    CATEGORY = MATTE_CATEGORY
    FUNCTION = "refine"
    RETURN_TYPES = ("IMAGE", "MASK", "MASK")
    RETURN_NAMES = ("image", "mask", "trimap")
    OUTPUT_TOOLTIPS = ("Estimated foreground colours (the old background unmixed at soft edges).",
                       "The refined alpha.",
                       "The trimap used: 1 known subject, 0 known background, 0.5 refined.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The original images (their edges guide the "
                          "refinement)."}),
                "mask": ("MASK", {"tooltip": "The coarse matte to refine; one per frame or one "
                         "for all."}),
                "band": ("INT", {"default": 6, "min": 0, "max": 256, "tooltip": "Unknown band "
                         "width in pixels on each side of the matte's edge."}),
                "radius": ("INT", {"default": refine.RADIUS, "min": 1, "max": 64, "tooltip":
                           "Guided filter window radius in pixels."}),
                "smoothness": ("FLOAT", {"default": refine.EPS, "min": 1e-4, "max": 0.1,
                               "step": 1e-4, "tooltip": "Guided filter regularisation: higher "
                               "is smoother, lower follows colour edges more tightly."}),
                "hair_band": ("INT", {"default": ops.HAIR_BAND, "min": 0, "max": 256,
                              "tooltip": "Band width around each head when faces are connected."}),
            },
            "optional": {
                "faces": ("FACES", {"tooltip": "Faces on these images (Detect Faces): the band "
                          "is widened to hair_band around each head."}),
            },
        }

    def refine(self, image, mask, band, radius, smoothness, hair_band, faces=None):
        return ops.refine_matte(image, mask, band=band, radius=radius, eps=smoothness,
                                faces=faces, hair_band=hair_band, loop=frames)


class Composite:
    DESCRIPTION = ("Put a matted subject over a new background image (fill, fit, stretch or "
                   "original size, positioned) or a colour, with optional light wrap and "
                   "matching of the subject's colours to the background's light. Also outputs "
                   "RGBA (save it with Save WebM (alpha), or as a PNG sequence with Save Image, for editors and streaming tools).")
    CATEGORY = MATTE_CATEGORY
    FUNCTION = "composite"
    RETURN_TYPES = ("IMAGE", "IMAGE")
    RETURN_NAMES = ("image", "rgba")
    OUTPUT_TOOLTIPS = ("The composite (RGB).",
                       "The subject as RGBA [B,H,W,4]: colours plus the mask as alpha.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "foreground": ("IMAGE", {"tooltip": "The subject's colours (Chroma Key or "
                               "Refine Matte image, or the original frames)."}),
                "mask": ("MASK", {"tooltip": "Alpha of the subject; one per frame or one for "
                         "all."}),
                "background_color": ("STRING", {"default": "#2a6f97", "tooltip": "Hex colour "
                                     "behind the subject when no background image is "
                                     "connected, and around a 'fit' image."}),
                "fit": (FITS, {"default": "fill", "tooltip": "How the background image covers "
                        "the frame: fill (crop), fit (letterbox), stretch, none (original "
                        "size)."}),
                "x": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01,
                      "tooltip": "Horizontal position of the background (0 left, 1 right)."}),
                "y": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01,
                      "tooltip": "Vertical position of the background (0 top, 1 bottom)."}),
                "light_wrap": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.05,
                               "tooltip": "Let the background's light bleed over the subject's "
                               "edges (0: off)."}),
                "match_light": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                "tooltip": "Move the subject's colours toward the background's "
                                "light where it stands (0: off)."}),
                "face_poisson": (ops.FACE_POISSON, {"default": "off", "tooltip": "Send each "
                                 "face's oval (where the subject is opaque) through the Poisson "
                                 "composite: the face keeps its own detail and takes its light "
                                 "from the composite around it (after match_light and "
                                 "light_wrap). normal / mixed as in Poisson Composite; needs "
                                 "faces."}),
            },
            "optional": {
                "background": ("IMAGE", {"tooltip": "The new background; one image for all "
                               "frames or one per frame."}),
                "faces": ("FACES", {"tooltip": "Faces with landmarks on these frames (Face "
                          "Landmarks), for face_poisson."}),
            },
        }

    def composite(self, foreground, mask, background_color, fit, x, y, light_wrap,
                  match_light, face_poisson="off", background=None, faces=None):
        return ops.composite(foreground, mask, background, background_color=background_color,
                             fit=fit, x=x, y=y, light_wrap=light_wrap, match_light=match_light,
                             faces=faces, face_poisson=face_poisson, loop=frames)


def _output_path(filename_prefix: str, width: int, height: int, extension: str):
    """``(path, filename, subfolder)`` of the next free ``<prefix>_NNNNN_.<extension>`` in the
    output folder, numbered like ComfyUI's Save Image."""
    if folder_paths is not None:
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, folder_paths.get_output_directory(), width, height)
    else:
        from ..runner.core_nodes import FOLDERS, _save_path
        folder, name, counter, subfolder = _save_path(filename_prefix, FOLDERS.output_dir)
    filename = f"{name}_{counter:05}_.{extension}"
    return os.path.join(folder, filename), filename, subfolder


class SaveWebMAlpha:
    DESCRIPTION = ("Save frames with alpha as a VP9 WebM video (yuva420p): transparent video "
                   "for browsers, OBS and video editors. Takes Composite's rgba output, or any "
                   "frames plus a mask as the alpha. Files go to the output folder, numbered "
                   "like Save Image's.")
    CATEGORY = MATTE_CATEGORY
    FUNCTION = "save"
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("Full path of the saved .webm file.",)
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "Frames in order: RGBA (Composite's rgba "
                           "output), or RGB with the alpha given as mask."}),
                "filename_prefix": ("STRING", {"default": "face_pipeline/matte", "tooltip":
                                    "File name prefix in the output folder (subfolders "
                                    "allowed)."}),
                "fps": ("FLOAT", {"default": 24.0, "min": 0.01, "max": 1000.0, "step": 0.01,
                        "tooltip": "Frames per second."}),
                "crf": ("INT", {"default": ops.WEBM_CRF, "min": 0, "max": 63, "tooltip":
                        "VP9 quality: 0 best (largest file) .. 63 smallest."}),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "Alpha of every frame (one per frame or one for "
                         "all); overrides the images' own alpha channel."}),
            },
        }

    def save(self, images, filename_prefix, fps, crf, mask=None):
        path, filename, subfolder = _output_path(filename_prefix, int(images.shape[2]),
                                                 int(images.shape[1]), "webm")
        ops.save_webm_alpha(path, images, mask, fps=fps, crf=crf, loop=frames)
        return {"ui": {"images": [{"filename": filename, "subfolder": subfolder,
                                   "type": "output"}], "animated": (True,)}, "result": (path,)}
