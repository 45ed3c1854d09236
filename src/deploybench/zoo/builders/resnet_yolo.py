"""A torchvision ResNet backbone under a YOLOv8-style neck (PAN-FPN of C2f blocks) and anchor-free decoupled head,
written here after the structure of ultralytics' yolov8.yaml; the Woodscape-trained ResNet50 + YOLO is not public."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

from deploybench.zoo.builders.base import RANDOM, Model

STRIDES = (8, 16, 32)
WOODSCAPE_CLASSES = ("vehicles", "person", "bicycle", "traffic_sign", "traffic_light")


def resnet_yolo(
    shape: tuple[int, ...],
    backbone: str = "resnet50",
    widths: tuple[int, int, int] = (256, 512, 512),
    depth: int = 3,
    classes: int = len(WOODSCAPE_CLASSES),
    reg_max: int = 16,
) -> Model:
    """torchvision's `backbone` (weights=None) giving C3, C4 and C5 (strides 8, 16, 32), an SPPF on C5, YOLOv8's
    PAN-FPN with `depth` bottlenecks per C2f and output `widths` per scale, and a decoupled anchor-free head whose
    raw outputs (DFL box logits, class logits) are concatenated over the three scales; no decoding, no NMS."""
    blocks = _blocks()
    trunk, channels = _trunk(backbone)
    neck = blocks.Neck(channels, widths, depth)
    head = blocks.Head(widths, classes, reg_max)
    _init_biases(head, shape, classes)
    module = blocks.Detector(trunk, neck, head)
    return Model(module=module, weights=RANDOM, outputs=("predictions",), notes=_layout(shape, classes, reg_max))


def _trunk(backbone: str) -> tuple[Any, tuple[int, int, int]]:
    """The ResNet without its pooling and classifier, cut into the stages that end at C3, C4 and C5."""
    from torch import nn
    from torchvision.models import resnet

    net = getattr(resnet, backbone)(weights=None)
    stages = nn.ModuleList(
        [
            nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2),
            net.layer3,
            net.layer4,
        ]
    )
    last = net.fc.in_features
    return stages, (last // 4, last // 2, last)


def _init_biases(head: Any, shape: tuple[int, ...], classes: int) -> None:
    """YOLOv8's prior on the last biases: 2.0 for the box logits, and class logits for about 5 objects per image
    (ultralytics writes 640 for the image side; the mean side of this input is used instead)."""
    import math

    side = (shape[2] + shape[3]) / 2
    for box, score, stride in zip(head.box, head.score, STRIDES, strict=True):
        box[-1].bias.data.fill_(2.0)
        score[-1].bias.data.fill_(math.log(5 / classes / (side / stride) ** 2))


def _layout(shape: tuple[int, ...], classes: int, reg_max: int) -> tuple[str, ...]:
    """What the output tensor holds for this input shape, computed from the strides."""
    grids = [(shape[2] // s, shape[3] // s) for s in STRIDES]
    anchors = sum(h * w for h, w in grids)
    scales = ", ".join(f"stride {s}: {h}x{w}" for s, (h, w) in zip(STRIDES, grids, strict=True))
    return (
        f"predictions [{shape[0]}, {4 * reg_max + classes}, {anchors}]: one column per anchor point ({scales}, "
        f"row-major, concatenated in that order); rows 0-{4 * reg_max - 1} are the box logits (left, top, right, "
        f"bottom distances, {reg_max} DFL bins each: softmax, expectation, times the stride), rows "
        f"{4 * reg_max}-{4 * reg_max + classes - 1} the class logits (sigmoid). Not decoded, no NMS.",
    )


@cache
def _blocks() -> SimpleNamespace:
    """YOLOv8's blocks and the assembled detector, defined on first use so that torch is imported lazily."""
    import torch
    from torch import nn

    class Conv(nn.Sequential):
        """Convolution, batch normalization (ultralytics' eps and momentum) and SiLU."""

        def __init__(self, inputs: int, outputs: int, kernel: int = 1, stride: int = 1) -> None:
            super().__init__(
                nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, bias=False),
                nn.BatchNorm2d(outputs, eps=1e-3, momentum=0.03),
                nn.SiLU(inplace=True),
            )

    class C2f(nn.Module):
        """CSP block with two convolutions: split, `n` 3x3 bottlenecks (no shortcut, as in YOLOv8's neck), concat."""

        def __init__(self, inputs: int, outputs: int, n: int) -> None:
            super().__init__()
            self.hidden = outputs // 2
            self.cv1 = Conv(inputs, 2 * self.hidden)
            self.cv2 = Conv((2 + n) * self.hidden, outputs)
            self.m = nn.ModuleList(
                nn.Sequential(Conv(self.hidden, self.hidden, 3), Conv(self.hidden, self.hidden, 3)) for _ in range(n)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            parts = list(self.cv1(x).split(self.hidden, dim=1))
            parts.extend(block(parts[-1]) for block in self.m)
            out: torch.Tensor = self.cv2(torch.cat(parts, dim=1))
            return out

    class SPPF(nn.Module):
        """Spatial pyramid pooling, fast: three chained 5x5 max-pools, concatenated (YOLOv8's last backbone layer)."""

        def __init__(self, inputs: int, outputs: int) -> None:
            super().__init__()
            self.cv1 = Conv(inputs, inputs // 2)
            self.cv2 = Conv(inputs // 2 * 4, outputs)
            self.pool = nn.MaxPool2d(5, 1, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            parts = [self.cv1(x)]
            parts.extend(self.pool(parts[-1]) for _ in range(3))
            out: torch.Tensor = self.cv2(torch.cat(parts, dim=1))
            return out

    class Neck(nn.Module):
        """SPPF on C5, then YOLOv8's PAN-FPN: top-down to P3, bottom-up to P4 and P5."""

        def __init__(self, channels: tuple[int, int, int], widths: tuple[int, int, int], n: int) -> None:
            super().__init__()
            c3, c4, c5 = channels
            w3, w4, w5 = widths
            self.sppf = SPPF(c5, w5)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.top4 = C2f(w5 + c4, w4, n)
            self.top3 = C2f(w4 + c3, w3, n)
            self.down3 = Conv(w3, w3, 3, 2)
            self.out4 = C2f(w3 + w4, w4, n)
            self.down4 = Conv(w4, w4, 3, 2)
            self.out5 = C2f(w4 + w5, w5, n)

        def forward(self, c3: torch.Tensor, c4: torch.Tensor, c5: torch.Tensor) -> list[torch.Tensor]:
            p5 = self.sppf(c5)
            t4 = self.top4(torch.cat([self.up(p5), c4], dim=1))
            p3 = self.top3(torch.cat([self.up(t4), c3], dim=1))
            p4 = self.out4(torch.cat([self.down3(p3), t4], dim=1))
            return [p3, p4, self.out5(torch.cat([self.down4(p4), p5], dim=1))]

    class Head(nn.Module):
        """YOLOv8's decoupled head: per scale, a box branch (4 x reg_max DFL logits) and a class branch."""

        def __init__(self, widths: tuple[int, int, int], classes: int, reg_max: int) -> None:
            super().__init__()
            box = max(16, widths[0] // 4, 4 * reg_max)
            score = max(widths[0], min(classes, 100))
            self.box = nn.ModuleList(
                nn.Sequential(Conv(w, box, 3), Conv(box, box, 3), nn.Conv2d(box, 4 * reg_max, 1)) for w in widths
            )
            self.score = nn.ModuleList(
                nn.Sequential(Conv(w, score, 3), Conv(score, score, 3), nn.Conv2d(score, classes, 1)) for w in widths
            )

        def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
            levels = [
                torch.cat([box(x), score(x)], dim=1).flatten(2)
                for x, box, score in zip(features, self.box, self.score, strict=True)
            ]
            return torch.cat(levels, dim=2)

    class Detector(nn.Module):
        """Backbone stages, neck and head: image in, raw predictions over all anchor points out."""

        def __init__(self, trunk: nn.ModuleList, neck: Neck, head: Head) -> None:
            super().__init__()
            self.trunk = trunk
            self.neck = neck
            self.head = head

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            c3 = self.trunk[0](image)
            c4 = self.trunk[1](c3)
            out: torch.Tensor = self.head(self.neck(c3, c4, self.trunk[2](c4)))
            return out

    return SimpleNamespace(Neck=Neck, Head=Head, Detector=Detector)
