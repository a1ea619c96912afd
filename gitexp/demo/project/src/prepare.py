"""Make a two-moons-like data set, split into train and test."""

from pathlib import Path

import numpy as np
import yaml

params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
rng = np.random.default_rng(params["seed"])
n = params["n_samples"]
angle = rng.uniform(0, np.pi, n)
label = rng.integers(0, 2, n)
x = np.where(label, 1 - np.cos(angle), np.cos(angle))
y = np.where(label, 0.5 - np.sin(angle), np.sin(angle))
features = np.stack([x, y], axis=1) + rng.normal(0, 0.1, (n, 2))
flipped = rng.random(n) < params["noise"]
label = np.where(flipped, 1 - label, label)
split = int(0.8 * n)
Path("data").mkdir(exist_ok=True)
np.savez("data/dataset.npz", x_train=features[:split], y_train=label[:split], x_test=features[split:], y_test=label[split:])
