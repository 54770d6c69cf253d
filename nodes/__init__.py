"""ComfyUI node classes: thin adapters that convert types and call the pack's functions."""
from .faces import AlignFaces, DetectFaces, FaceLandmarks, PasteFacesBack, PreviewFaces
from .model_management import DownloadFaceModel, UnloadFaceModels

_NODES = {
    "FacePipelineDetectFaces": (DetectFaces, "Detect Faces"),
    "FacePipelineFaceLandmarks": (FaceLandmarks, "Face Landmarks (478)"),
    "FacePipelineAlignFaces": (AlignFaces, "Align Faces"),
    "FacePipelinePasteFacesBack": (PasteFacesBack, "Paste Faces Back"),
    "FacePipelinePreviewFaces": (PreviewFaces, "Preview Faces"),
    "FacePipelineUnloadModels": (UnloadFaceModels, "Unload Face Models"),
    "FacePipelineDownloadModel": (DownloadFaceModel, "Download Face Model"),
}
NODE_CLASS_MAPPINGS = {key: cls for key, (cls, _) in _NODES.items()}
NODE_DISPLAY_NAME_MAPPINGS = {key: name for key, (_, name) in _NODES.items()}
