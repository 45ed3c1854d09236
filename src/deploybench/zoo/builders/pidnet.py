"""PIDNet (Xu et al., "PIDNet: A Real-time Semantic Segmentation Network Inspired by PID Controllers", CVPR 2023),
written here for inference after the paper and the structure of the authors' code: a proportional (P, detail)
branch, an integral (I, context) branch and a derivative (D, boundary) branch, fused by Pag modules (P with I),
a PAPPM context module and a Light-Bag (P, I and D). Only the inference path: no auxiliary heads.

The layout is that of PIDNet-S and PIDNet-M (`planes` 32 and 64); PIDNet-L's DAPPM and full Bag are not written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploybench.zoo.builders.base import RANDOM, Model

if TYPE_CHECKING:
    import torch
    from torch import nn


def pidnet(
    shape: tuple[int, ...],
    planes: int = 32,
    ppm_planes: int = 96,
    head_planes: int = 128,
    blocks: int = 2,
    deep_blocks: int = 3,
    classes: int = 19,
) -> Model:
    """PIDNet for inference: `planes` channels after the stem (32 for PIDNet-S, 64 for PIDNet-M), `blocks` basic
    blocks in the shallow stages and the P branch, `deep_blocks` in the I branch's stages 3 and 4. The output is
    the class logits at 1/8 of the input's resolution, as the authors' network returns them (their evaluation
    upsamples afterwards)."""
    network = _network(shape[1], planes, ppm_planes, head_planes, blocks, deep_blocks, classes)
    _initialize(network)
    height, width = shape[2], shape[3]
    notes = (f"output: {classes} class logits at 1/8 of the {height}x{width} input ({height // 8}x{width // 8})",)
    return Model(module=network, weights=RANDOM, outputs=("mask",), notes=notes)


def _initialize(network: nn.Module) -> None:
    """The authors' initialization: Kaiming-normal convolutions (fan out), unit batch-normalization scales."""
    from torch import nn

    for layer in network.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


def _upsample(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of `x` to the spatial size of `like` (corners not aligned, as in the paper's code)."""
    from torch.nn import functional

    return functional.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def _conv_bn(inputs: int, outputs: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    """A convolution without bias followed by batch normalization."""
    from torch import nn

    conv = nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=kernel // 2, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(outputs))


def _bn_relu_conv(inputs: int, outputs: int, kernel: int = 1, groups: int = 1) -> nn.Sequential:
    """Batch normalization, ReLU, then a convolution without bias: the pre-activation unit of PAPPM and the head."""
    from torch import nn

    conv = nn.Conv2d(inputs, outputs, kernel, padding=kernel // 2, groups=groups, bias=False)
    return nn.Sequential(nn.BatchNorm2d(inputs), nn.ReLU(), conv)


def _residual(body: nn.Module, shortcut: nn.Module, relu: bool) -> nn.Module:
    """`body(x) + shortcut(x)`, followed by a ReLU when `relu`."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = body
            self.shortcut = shortcut
            self.relu = relu

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.body(x) + self.shortcut(x)
            return torch.relu(out) if self.relu else out

    return Residual()


def _shortcut(inputs: int, outputs: int, stride: int) -> nn.Module:
    """Identity when the shape is kept, else a strided 1x1 projection."""
    from torch import nn

    return nn.Identity() if inputs == outputs and stride == 1 else _conv_bn(inputs, outputs, 1, stride)


def _basic(inputs: int, outputs: int, stride: int = 1, relu: bool = True) -> nn.Module:
    """ResNet's basic block: two 3x3 convolutions."""
    from torch import nn

    body = nn.Sequential(_conv_bn(inputs, outputs, 3, stride), nn.ReLU(), _conv_bn(outputs, outputs, 3))
    return _residual(body, _shortcut(inputs, outputs, stride), relu)


def _bottleneck(inputs: int, width: int, stride: int = 1, relu: bool = False) -> nn.Module:
    """ResNet's bottleneck block with an expansion of 2 (PIDNet's), `2 * width` channels out."""
    from torch import nn

    body = nn.Sequential(
        _conv_bn(inputs, width), nn.ReLU(), _conv_bn(width, width, 3, stride), nn.ReLU(), _conv_bn(width, 2 * width)
    )
    return _residual(body, _shortcut(inputs, 2 * width, stride), relu)


def _stage(inputs: int, outputs: int, count: int, stride: int = 1) -> nn.Sequential:
    """`count` basic blocks, the first strided; the last leaves its ReLU to the caller, as in the authors' code."""
    from torch import nn

    return nn.Sequential(
        *(_basic(inputs if i == 0 else outputs, outputs, stride if i == 0 else 1, i < count - 1) for i in range(count))
    )


def _pag(channels: int, middle: int) -> nn.Module:
    """Pixel-attention-guided fusion: the P branch `x` takes from the upsampled I branch `y` where their
    embeddings agree, `sigmoid(<f_x(x), f_y(y)>)` per pixel."""
    import torch
    from torch import nn

    class Pag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f_x = _conv_bn(channels, middle)
            self.f_y = _conv_bn(channels, middle)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            query = _upsample(self.f_y(y), x)
            attention = torch.sigmoid((self.f_x(x) * query).sum(dim=1, keepdim=True))
            return (1 - attention) * x + attention * _upsample(y, x)

    return Pag()


def _light_bag(channels: int, outputs: int) -> nn.Module:
    """Light boundary-attention-guided fusion: the D branch's sigmoid weighs detail (P) against context (I)."""
    import torch
    from torch import nn

    class LightBag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv_p = _conv_bn(channels, outputs)
            self.conv_i = _conv_bn(channels, outputs)

        def forward(self, p: torch.Tensor, i: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
            edge = torch.sigmoid(d)
            fused: torch.Tensor = self.conv_p((1 - edge) * i + p) + self.conv_i(i + edge * p)
            return fused

    return LightBag()


def _pappm(inputs: int, branch: int, outputs: int) -> nn.Module:
    """Parallel aggregation pyramid pooling: average pools of strides 2, 4, 8 and global, each added to the
    unpooled projection, processed together by one grouped 3x3 convolution, compressed, plus a shortcut."""
    import torch
    from torch import nn

    class Pappm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            pools: list[nn.Module] = [nn.AvgPool2d(2 * s + 1, stride=s, padding=s) for s in (2, 4, 8)]
            pools.append(nn.AdaptiveAvgPool2d(1))
            self.scales = nn.ModuleList(nn.Sequential(pool, _bn_relu_conv(inputs, branch)) for pool in pools)
            self.scale0 = _bn_relu_conv(inputs, branch)
            self.process = _bn_relu_conv(4 * branch, 4 * branch, 3, groups=4)
            self.compression = _bn_relu_conv(5 * branch, outputs)
            self.shortcut = _bn_relu_conv(inputs, outputs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            base = self.scale0(x)
            pooled = torch.cat([_upsample(scale(x), x) + base for scale in self.scales], dim=1)
            out: torch.Tensor = self.compression(torch.cat([base, self.process(pooled)], dim=1)) + self.shortcut(x)
            return out

    return Pappm()


def _head(inputs: int, middle: int, classes: int) -> nn.Sequential:
    """The segmentation head: a pre-activated 3x3 convolution, then a pre-activated 1x1 classifier with bias."""
    from torch import nn

    return nn.Sequential(
        _bn_relu_conv(inputs, middle, 3), nn.BatchNorm2d(middle), nn.ReLU(), nn.Conv2d(middle, classes, 1)
    )


def _network(
    channels: int, planes: int, ppm_planes: int, head_planes: int, blocks: int, deep_blocks: int, classes: int
) -> nn.Module:
    """The three-branch network: the I branch is a ResNet-like trunk down to 1/64, P stays at 1/8 and D at 1/8."""
    import torch
    from torch import nn

    p = planes

    class PIDNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(channels, p, 3, stride=2, padding=1), nn.BatchNorm2d(p), nn.ReLU(),
                nn.Conv2d(p, p, 3, stride=2, padding=1), nn.BatchNorm2d(p), nn.ReLU(),
            )  # fmt: skip
            self.layer1 = _stage(p, p, blocks)
            self.layer2 = _stage(p, 2 * p, blocks, stride=2)
            self.layer3 = _stage(2 * p, 4 * p, deep_blocks, stride=2)
            self.layer4 = _stage(4 * p, 8 * p, deep_blocks, stride=2)
            self.layer5 = nn.Sequential(_bottleneck(8 * p, 8 * p, stride=2), _bottleneck(16 * p, 8 * p))
            self.spp = _pappm(16 * p, ppm_planes, 4 * p)
            self.compression3 = _conv_bn(4 * p, 2 * p)
            self.compression4 = _conv_bn(8 * p, 2 * p)
            self.pag3 = _pag(2 * p, p)
            self.pag4 = _pag(2 * p, p)
            self.layer3_p = _stage(2 * p, 2 * p, blocks)
            self.layer4_p = _stage(2 * p, 2 * p, blocks)
            self.layer5_p = _bottleneck(2 * p, 2 * p)
            self.layer3_d = _basic(2 * p, p, relu=False)
            self.layer4_d = _bottleneck(p, p)
            self.layer5_d = _bottleneck(2 * p, 2 * p)
            self.diff3 = _conv_bn(4 * p, p, 3)
            self.diff4 = _conv_bn(8 * p, 2 * p, 3)
            self.bag = _light_bag(4 * p, 4 * p)
            self.head = _head(4 * p, head_planes, classes)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.layer2(torch.relu(self.layer1(self.stem(image)))))
            x_p, x_d = self.layer3_p(x), self.layer3_d(x)
            x = torch.relu(self.layer3(x))
            x_p = self.pag3(x_p, self.compression3(x))
            x_d = x_d + _upsample(self.diff3(x), x_d)
            x = torch.relu(self.layer4(x))
            x_p, x_d = self.layer4_p(torch.relu(x_p)), self.layer4_d(torch.relu(x_d))
            x_p = self.pag4(x_p, self.compression4(x))
            x_d = x_d + _upsample(self.diff4(x), x_d)
            x_p, x_d = self.layer5_p(torch.relu(x_p)), self.layer5_d(torch.relu(x_d))
            x_i = _upsample(self.spp(self.layer5(x)), x_d)
            logits: torch.Tensor = self.head(self.bag(x_p, x_i, x_d))
            return logits

    return PIDNet()
