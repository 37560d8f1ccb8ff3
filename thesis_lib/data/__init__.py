"""Datasets: finding and checking images, label schemes, public layouts, splits, pipelines.

The main entry point is ``prepare_dataset(source, scheme=..., ...)``, which returns the
labelled train/val/test tables that the input pipeline (``data.pipeline``) reads.
TensorFlow is imported only by the modules that need it (pipeline, augment), not here.
"""

from thesis_lib.data.discovery import ScanResult, scan_dataset
from thesis_lib.data.images import ImageInfo, load_image, probe
from thesis_lib.data.labels import LabelScheme, get_scheme
from thesis_lib.data.prepare import PreparedDataset, prepare_dataset
from thesis_lib.data.splits import load_split, save_split

__all__ = [
    "ImageInfo",
    "LabelScheme",
    "PreparedDataset",
    "ScanResult",
    "get_scheme",
    "load_image",
    "load_split",
    "prepare_dataset",
    "probe",
    "save_split",
    "scan_dataset",
]
