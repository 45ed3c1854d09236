"""Detectors: DETR from transformers, RetinaNet from torchvision (with its non-maximum suppression)."""

from __future__ import annotations

from typing import Any

from deploybench.zoo.builders.base import RANDOM, Model


def detr(shape: tuple[int, ...], backbone: str = "resnet101", **options: Any) -> Model:
    """transformers' DETR with a timm backbone that is not pretrained; outputs class logits and boxes."""
    import torch
    from transformers import DetrConfig, DetrForObjectDetection

    config = DetrConfig(backbone=backbone, use_pretrained_backbone=False, **options)
    network = DetrForObjectDetection(config)

    class Detr(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            found = self.network(pixel_values=pixels)
            return found.logits, found.pred_boxes

    return Model(module=Detr(), weights=RANDOM, outputs=("logits", "boxes"))


def retinanet(shape: tuple[int, ...], depth: int = 101, classes: int = 91, **options: Any) -> Model:
    """torchvision's RetinaNet on a ResNet-`depth` FPN (P3-P7), post-processing (NMS) included; the exported
    graph takes one image."""
    import torch
    from torchvision.models import resnet
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    trunk = getattr(resnet, f"resnet{depth}")(weights=None)
    last = trunk.fc.in_features
    backbone = _resnet_fpn_extractor(trunk, 5, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(last, 256))
    network = RetinaNet(backbone, num_classes=classes, min_size=shape[2], max_size=shape[3], **options)

    class Detector(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            (found,) = self.network([image[0]])
            return found["boxes"], found["scores"], found["labels"]

    return Model(module=Detector(), weights=RANDOM, outputs=("boxes", "scores", "labels"))
