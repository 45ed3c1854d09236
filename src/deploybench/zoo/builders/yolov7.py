"""YOLOv7 (Wang, Bochkovskiy and Liao, 2022), the base model, written here from the paper and the layer table of
the official deploy configuration: ELAN blocks, max-pool/stride-2 transitions, SPPCSPC, RepConv heads fused for
deployment and the anchor-based detection head that decodes its predictions (no non-maximum suppression)."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from deploybench.zoo.builders.base import RANDOM, Model

ANCHORS = (
    ((12, 16), (19, 36), (40, 28)),
    ((36, 75), (76, 55), (72, 146)),
    ((142, 110), (192, 243), (459, 401)),
)
"""COCO anchors in pixels (width, height) of the P3, P4 and P5 outputs, from the official configuration."""

STRIDES = (8, 16, 32)


def yolov7(shape: tuple[int, ...], width: float = 1.0, classes: int = 80, fused: bool = True) -> Model:
    """YOLOv7 for an input of `shape` (N, 3, H, W with H, W multiples of 32); `width` scales every layer's channels
    (rounded up to multiples of 8). With `fused`, batch normalization is folded into the convolutions and each
    RepConv's three branches into one 3x3 convolution, as the deployed model runs. The output is
    [N, anchors, 5 + classes]: box centre x, y, width, height in input pixels, objectness, class scores (sigmoid)."""
    if shape[2] % 32 or shape[3] % 32:
        raise ValueError(f"YOLOv7 needs a height and width that are multiples of 32, not {shape[2:]}")
    module = _network()(shape[1], (shape[2], shape[3]), width, classes)
    trained = sum(p.numel() for p in module.parameters())
    if fused:
        module.eval()
        _fuse(module)
    kept = sum(p.numel() for p in module.parameters())
    notes = (
        f"{kept:,} parameters as exported ({'fused' if fused else 'not fused'}); {trained:,} before fusion.",
        "Non-maximum suppression is not in the graph: it outputs every decoded anchor, sigmoid applied.",
    )
    return Model(module=module, weights=RANDOM, outputs=("predictions",), notes=notes)


def _channels(count: int, width: float) -> int:
    """A layer's channels scaled by `width`, rounded up to a multiple of 8 as the official configurations do."""
    return max(8, math.ceil(count * width / 8) * 8)


def _fuse(module: Any) -> None:
    """Replace, in place, every block that has a `fused` form (Conv with batch norm, RepConv) by that form."""
    for name, child in module.named_children():
        if hasattr(child, "fused"):
            setattr(module, name, child.fused())
        else:
            _fuse(child)


def _fold(weight: Any, norm: Any) -> tuple[Any, Any]:
    """A convolution's kernel and bias with the batch normalization that follows it folded in."""
    scale = norm.weight / (norm.running_var + norm.eps).sqrt()
    return weight * scale.reshape(-1, 1, 1, 1), norm.bias - norm.running_mean * scale


@cache
def _convolutions() -> tuple[Any, Any]:
    """The two convolution blocks: Conv (convolution, batch norm, SiLU) and RepConv (3x3, 1x1 and identity
    branches each with batch norm, summed, then SiLU), each with its fused deployment form."""
    import torch
    from torch import nn

    def plain(inputs: int, outputs: int, kernel: int, stride: int, bias: bool) -> nn.Conv2d:
        return nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, bias=bias)

    def norm(channels: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.03)

    class Conv(nn.Module):
        def __init__(self, inputs: int, outputs: int, kernel: int = 1, stride: int = 1) -> None:
            super().__init__()
            self.conv = plain(inputs, outputs, kernel, stride, bias=False)
            self.bn = norm(outputs)
            self.act = nn.SiLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.bn(self.conv(x)))  # type: ignore[no-any-return]

        def fused(self) -> nn.Sequential:
            return nn.Sequential(torch.nn.utils.fusion.fuse_conv_bn_eval(self.conv, self.bn), nn.SiLU())

    class RepConv(nn.Module):
        def __init__(self, inputs: int, outputs: int, stride: int = 1) -> None:
            super().__init__()
            self.dense = nn.Sequential(plain(inputs, outputs, 3, stride, bias=False), norm(outputs))
            self.point = nn.Sequential(plain(inputs, outputs, 1, stride, bias=False), norm(outputs))
            self.identity = norm(inputs) if inputs == outputs and stride == 1 else None
            self.stride = stride
            self.act = nn.SiLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.dense(x) + self.point(x)
            return self.act(y if self.identity is None else y + self.identity(x))  # type: ignore[no-any-return]

        def fused(self) -> nn.Sequential:
            weight, bias = _fold(self.dense[0].weight, self.dense[1])
            point, shift = _fold(self.point[0].weight, self.point[1])
            weight, bias = weight + nn.functional.pad(point, [1, 1, 1, 1]), bias + shift
            if self.identity is not None:
                eye = torch.zeros_like(weight)
                eye[range(len(eye)), range(len(eye)), 1, 1] = 1
                same, offset = _fold(eye, self.identity)
                weight, bias = weight + same, bias + offset
            conv = plain(weight.shape[1], weight.shape[0], 3, self.stride, bias=True)
            with torch.no_grad():
                conv.weight.copy_(weight)
                conv.bias.copy_(bias)  # type: ignore[union-attr]
            return nn.Sequential(conv, nn.SiLU())

    return Conv, RepConv


@cache
def _blocks() -> tuple[Any, Any, Any]:
    """The aggregation blocks: ELAN, the max-pool/stride-2 transition (MP) and SPPCSPC."""
    import torch
    from torch import nn

    conv, _ = _convolutions()

    class Elan(nn.Module):
        """Two 1x1 branches; the second feeds a chain of four 3x3 convolutions; the chain outputs at `taps`
        (backbone: every second; head: all four) are concatenated, latest first, with both branches, then fused
        by a 1x1 convolution."""

        def __init__(self, inputs: int, branch: int, chain: int, outputs: int, taps: tuple[int, ...]) -> None:
            super().__init__()
            self.left, self.right = conv(inputs, branch), conv(inputs, branch)
            self.chain = nn.ModuleList(conv(branch if i == 0 else chain, chain, 3) for i in range(4))
            self.taps = taps
            self.out = conv(len(taps) * chain + 2 * branch, outputs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            left, y = self.left(x), self.right(x)
            kept = [left, y]
            for index, layer in enumerate(self.chain):
                y = layer(y)
                if index in self.taps:
                    kept.append(y)
            return self.out(torch.cat(kept[::-1], 1))  # type: ignore[no-any-return]

    class Transition(nn.Module):
        """Halves the resolution twice over: a 3x3 stride-2 convolution beside a 2x2 max pool, each `half` wide."""

        def __init__(self, inputs: int, half: int) -> None:
            super().__init__()
            self.pool, self.squeeze = nn.MaxPool2d(2), conv(inputs, half)
            self.reduce, self.down = conv(inputs, half), conv(half, half, 3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat((self.down(self.reduce(x)), self.squeeze(self.pool(x))), 1)

    class Sppcspc(nn.Module):
        """Spatial pyramid pooling (5, 9, 13) on one half of a cross-stage-partial split."""

        def __init__(self, inputs: int, outputs: int) -> None:
            super().__init__()
            self.enter = nn.Sequential(conv(inputs, outputs), conv(outputs, outputs, 3), conv(outputs, outputs))
            self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13))
            self.leave = nn.Sequential(conv(4 * outputs, outputs), conv(outputs, outputs, 3))
            self.skip, self.out = conv(inputs, outputs), conv(2 * outputs, outputs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.enter(x)
            y = self.leave(torch.cat([y, *(pool(y) for pool in self.pools)], 1))
            return self.out(torch.cat((y, self.skip(x)), 1))  # type: ignore[no-any-return]

    return Elan, Transition, Sppcspc


@cache
def _detect() -> Any:
    """The detection head: a 1x1 convolution per level, then the YOLOv7 decoding of boxes against the anchors
    and the grid of that level (built for the fixed input size)."""
    import torch
    from torch import nn

    class Detect(nn.Module):
        def __init__(self, inputs: tuple[int, ...], classes: int, size: tuple[int, int]) -> None:
            super().__init__()
            self.outputs = classes + 5
            heads = [nn.Conv2d(c, len(a) * self.outputs, 1) for c, a in zip(inputs, ANCHORS, strict=True)]
            _prior(heads, classes)
            self.heads = nn.ModuleList(heads)
            for index, stride in enumerate(STRIDES):
                rows, cols = size[0] // stride, size[1] // stride
                y, x = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
                grid = (torch.stack((x, y), -1).float() - 0.5) * stride
                anchor = torch.tensor(ANCHORS[index], dtype=torch.float32).view(1, -1, 1, 1, 2)
                self.register_buffer(f"grid{index}", grid.view(1, 1, rows, cols, 2), persistent=False)
                self.register_buffer(f"anchor{index}", anchor, persistent=False)

        def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
            found = []
            for index, (head, x, stride) in enumerate(zip(self.heads, features, STRIDES, strict=True)):
                rows, cols = x.shape[2:]
                y = head(x).view(-1, len(ANCHORS[index]), self.outputs, rows, cols).permute(0, 1, 3, 4, 2).sigmoid()
                xy = y[..., :2] * (2 * stride) + getattr(self, f"grid{index}")
                wh = (y[..., 2:4] * 2) ** 2 * getattr(self, f"anchor{index}")
                found.append(torch.cat((xy, wh, y[..., 4:]), -1).reshape(x.shape[0], -1, self.outputs))
            return torch.cat(found, 1)

    return Detect


@cache
def _network() -> Any:
    """The whole network: backbone to the P5 ELAN, SPPCSPC, the top-down and bottom-up (PAN) head, the RepConvs
    and the detection head; channels are those of the official base model times `width`."""
    import torch
    from torch import nn

    conv, repconv = _convolutions()
    elan, transition, sppcspc = _blocks()
    detect = _detect()
    back, head = (1, 3), (0, 1, 2, 3)

    class YOLOv7(nn.Module):
        def __init__(self, inputs: int, size: tuple[int, int], width: float, classes: int) -> None:
            super().__init__()

            def c(count: int) -> int:
                return _channels(count, width)

            self.stem = nn.Sequential(
                conv(inputs, c(32), 3), conv(c(32), c(64), 3, 2), conv(c(64), c(64), 3), conv(c(64), c(128), 3, 2)
            )
            self.p2 = elan(c(128), c(64), c(64), c(256), back)
            self.p3 = nn.Sequential(transition(c(256), c(128)), elan(c(256), c(128), c(128), c(512), back))
            self.p4 = nn.Sequential(transition(c(512), c(256)), elan(c(512), c(256), c(256), c(1024), back))
            self.p5 = nn.Sequential(transition(c(1024), c(512)), elan(c(1024), c(256), c(256), c(1024), back))
            self.spp = sppcspc(c(1024), c(512))
            self.up5, self.lateral4 = conv(c(512), c(256)), conv(c(1024), c(256))
            self.top4 = elan(c(512), c(256), c(128), c(256), head)
            self.up4, self.lateral3 = conv(c(256), c(128)), conv(c(512), c(128))
            self.out3 = elan(c(256), c(128), c(64), c(128), head)
            self.down3 = transition(c(128), c(128))
            self.out4 = elan(c(512), c(256), c(128), c(256), head)
            self.down4 = transition(c(256), c(256))
            self.out5 = elan(c(1024), c(512), c(256), c(512), head)
            self.rep = nn.ModuleList(repconv(c(n), c(2 * n)) for n in (128, 256, 512))
            self.detect = detect(tuple(c(2 * n) for n in (128, 256, 512)), classes, size)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            p3 = self.p3(self.p2(self.stem(x)))
            p4 = self.p4(p3)
            p5 = self.spp(self.p5(p4))
            top4 = self.top4(torch.cat((self.lateral4(p4), _upsample(self.up5(p5))), 1))
            out3 = self.out3(torch.cat((self.lateral3(p3), _upsample(self.up4(top4))), 1))
            out4 = self.out4(torch.cat((self.down3(out3), top4), 1))
            out5 = self.out5(torch.cat((self.down4(out4), p5), 1))
            return self.detect([rep(y) for rep, y in zip(self.rep, (out3, out4, out5), strict=True)])  # type: ignore[no-any-return]

    return YOLOv7


def _prior(heads: list[Any], classes: int) -> None:
    """The official initialization of the head's biases: about 8 objects per 640x640 image, class scores near
    0.6 / classes."""
    import torch

    with torch.no_grad():
        for head, stride in zip(heads, STRIDES, strict=True):
            bias = head.bias.view(len(ANCHORS[0]), -1)
            bias[:, 4] += math.log(8 / (640 / stride) ** 2)
            bias[:, 5:] += math.log(0.6 / (classes - 0.99))


def _upsample(x: Any) -> Any:
    """Nearest-neighbour upsampling by 2, as the official head does."""
    from torch import nn

    return nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
