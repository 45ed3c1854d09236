"""Segmentation networks: a classic UNet written here, DeepLabV3+ from segmentation-models-pytorch."""

from __future__ import annotations

from typing import Any

from deploybench.zoo.builders.base import RANDOM, Model


def unet(shape: tuple[int, ...], width: int = 32, depth: int = 4, classes: int = 2) -> Model:
    """The UNet of Ronneberger et al. (2015) with padded 3x3 convolutions and batch normalization: `depth`
    down-sampling steps, `width` channels at the top, doubling at each step; transposed 2x2 up-convolutions."""
    import torch
    from torch import nn

    def double(inputs: int, outputs: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
            nn.Conv2d(outputs, outputs, 3, padding=1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            widths = [width * 2**level for level in range(depth + 1)]
            self.down = nn.ModuleList([double(shape[1], widths[0])])
            self.down.extend(double(widths[i], widths[i + 1]) for i in range(depth))
            self.pool = nn.MaxPool2d(2)
            self.up = nn.ModuleList(
                nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))
            )
            self.merge = nn.ModuleList(double(widths[i] * 2, widths[i]) for i in reversed(range(depth)))
            self.head = nn.Conv2d(widths[0], classes, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            for index, block in enumerate(self.down):
                x = block(x if index == 0 else self.pool(x))
                skips.append(x)
            for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
                x = merge(torch.cat([skip, up(x)], dim=1))
            mask: torch.Tensor = self.head(x)
            return mask

    return Model(module=UNet(), weights=RANDOM, outputs=("mask",))


def deeplabv3plus(shape: tuple[int, ...], encoder: str = "resnet101", classes: int = 19, **options: Any) -> Model:
    """segmentation-models-pytorch's DeepLabV3+, its encoder without pretrained weights."""
    import segmentation_models_pytorch as smp

    module = smp.DeepLabV3Plus(
        encoder_name=encoder, encoder_weights=None, classes=classes, in_channels=shape[1], **options
    )
    return Model(module=module, weights=RANDOM, outputs=("mask",))
