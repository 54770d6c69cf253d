"""ComfyUI node classes: thin adapters that convert types and call the pack's functions."""
from .blend import FaceQuality, GatedBlend, PoissonComposite
from .denoise import Denoise
from .faces import AlignFaces, DetectFaces, FaceLandmarks, PasteFacesBack, PreviewFaces
from .identity import (BuildFaceModel, CompareFaces, EditGallery, FaceEmbedding, GalleryFromFolder,
                       GalleryFromImages, LoadFaceModel, LoadGallery, SaveFaceModel, SaveGallery,
                       SearchGallery, SelectFacesByReference)
from .masks import FaceRegionMask
from .matte import ChromaKey, Composite, PortraitMatte, RefineMatte, SaveWebMAlpha
from .model_management import DownloadFaceModel, UnloadFaceModels
from .surveillance import SurveillanceReport
from .restore import EnhanceFaces, UpscaleFrames
from .swap import FaceSwap
from .video import TrackFaces
from .warp import MeshWarpSwap
from .watermark import DetectSwapWatermark

_NODES = {
    "FacePipelineDetectFaces": (DetectFaces, "Detect Faces"),
    "FacePipelineFaceLandmarks": (FaceLandmarks, "Face Landmarks (478)"),
    "FacePipelineAlignFaces": (AlignFaces, "Align Faces"),
    "FacePipelinePasteFacesBack": (PasteFacesBack, "Paste Faces Back"),
    "FacePipelinePreviewFaces": (PreviewFaces, "Preview Faces"),
    "FacePipelineUnloadModels": (UnloadFaceModels, "Unload Face Models"),
    "FacePipelineDownloadModel": (DownloadFaceModel, "Download Face Model"),
    "FacePipelineFaceEmbedding": (FaceEmbedding, "Face Embedding"),
    "FacePipelineCompareFaces": (CompareFaces, "Compare Faces"),
    "FacePipelineBuildFaceModel": (BuildFaceModel, "Build Face Model"),
    "FacePipelineSaveFaceModel": (SaveFaceModel, "Save Face Model"),
    "FacePipelineLoadFaceModel": (LoadFaceModel, "Load Face Model"),
    "FacePipelineGalleryFromFolder": (GalleryFromFolder, "Face Gallery from Folder"),
    "FacePipelineGalleryFromImages": (GalleryFromImages, "Face Gallery from Images"),
    "FacePipelineEditGallery": (EditGallery, "Edit Face Gallery"),
    "FacePipelineSaveGallery": (SaveGallery, "Save Face Gallery"),
    "FacePipelineLoadGallery": (LoadGallery, "Load Face Gallery"),
    "FacePipelineSearchGallery": (SearchGallery, "Search Face Gallery"),
    "FacePipelineSelectFacesByReference": (SelectFacesByReference, "Select Faces by Reference"),
    "FacePipelineGatedBlend": (GatedBlend, "Gated Blend"),
    "FacePipelinePoissonComposite": (PoissonComposite, "Poisson Composite"),
    "FacePipelineFaceQuality": (FaceQuality, "Face Quality"),
    "FacePipelineFaceRegionMask": (FaceRegionMask, "Face Region Mask"),
    "FacePipelineMeshWarpSwap": (MeshWarpSwap, "Mesh-Warp Swap"),
    "FacePipelineFaceSwap": (FaceSwap, "Face Swap"),
    "FacePipelineDetectSwapWatermark": (DetectSwapWatermark, "Detect Swap Watermark"),
    "FacePipelineTrackFaces": (TrackFaces, "Track Faces"),
    "FacePipelineDenoise": (Denoise, "Denoise"),
    "FacePipelineSurveillanceReport": (SurveillanceReport, "Surveillance Report (Best Frames)"),
    "FacePipelineChromaKey": (ChromaKey, "Chroma Key"),
    "FacePipelinePortraitMatte": (PortraitMatte, "Portrait Matte"),
    "FacePipelineRefineMatte": (RefineMatte, "Refine Matte"),
    "FacePipelineComposite": (Composite, "Composite"),
    "FacePipelineSaveWebMAlpha": (SaveWebMAlpha, "Save WebM (alpha)"),
    "FacePipelineEnhanceFaces": (EnhanceFaces, "Enhance Faces"),
    "FacePipelineUpscaleFrames": (UpscaleFrames, "Upscale Frames"),
}
NODE_CLASS_MAPPINGS = {key: cls for key, (cls, _) in _NODES.items()}
NODE_DISPLAY_NAME_MAPPINGS = {key: name for key, (_, name) in _NODES.items()}
