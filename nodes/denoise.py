"""Node that denoises frames before enhancement or identification."""
from __future__ import annotations

from ..pipeline import denoise as ops
from ._comfy import CATEGORY, frames


class Denoise:
    DESCRIPTION = ("Remove sensor noise from every frame with a strength set from the frame's "
                   "own measured noise level (Immerkaer's estimator); clean frames pass "
                   "through. Run it before any face enhancement: enhancing noise invents detail.")
    CATEGORY = CATEGORY
    FUNCTION = "denoise"
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("image", "report")
    OUTPUT_TOOLTIPS = ("The denoised frames (same size).",
                       "Per frame: noise sigma (grey levels) measured before and after.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "Frames to denoise (video batches welcome)."}),
            "method": (ops.choices(), {"default": "nlmeans", "tooltip": "nlmeans: OpenCV fast "
                       "non-local means (default). bm3d: listed only when the bm3d package is "
                       "installed (its licence allows non-commercial use only). "
                       "dncnn_color_blind: a learned denoiser whose file you place in the "
                       "models folder (the error says where and from which URL)."}),
            "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 3.0, "step": 0.05,
                         "tooltip": "Multiplies the strength set from the measured noise: 1 "
                         "is calibrated, higher removes more noise and more detail, 0 is off. "
                         "Learned denoisers are blind: strength mixes their output with the "
                         "input (1 or more: their output only)."}),
        }, "optional": {
            "denoise_model": ("UPSCALE_MODEL", {"tooltip": "Optional: a learned denoiser from "
                              "ComfyUI's 'Load Upscale Model' (a scale-1 model: DnCNN, DRUNet, "
                              "SCUNet, NAFNet, FBCNN for JPEG blocking); replaces method."}),
            "allow_download": ("BOOLEAN", {"default": False, "tooltip": "Allow downloading a "
                               "missing model file (only files with a known sha256)."}),
        }}

    def denoise(self, image, method, strength, denoise_model=None, allow_download=False):
        return ops.denoise_images(image, method, strength, denoise_model=denoise_model,
                                  allow_download=allow_download, loop=frames)
