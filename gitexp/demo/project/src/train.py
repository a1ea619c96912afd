"""Train a logistic regression by gradient descent and log it with dvclive.

Besides dvclive's step curves it writes what dvc.yaml declares as plots: the
test set's predictions (a confusion matrix) and an image of the decision regions.
"""

import csv
from pathlib import Path

import numpy as np
import yaml
from dvclive import Live

params = yaml.safe_load(Path("params.yaml").read_text())["train"]
data = np.load("data/dataset.npz")


def expand(x):
    if params["features"] == "poly2":
        return np.column_stack([x, x**2, x[:, :1] * x[:, 1:], np.ones(len(x))])
    return np.column_stack([x, np.ones(len(x))])


def accuracy(w, x, y):
    return float(np.mean(((x @ w) > 0) == y))


x_train, x_test = expand(data["x_train"]), expand(data["x_test"])
y_train, y_test = data["y_train"], data["y_test"]
w = np.zeros(x_train.shape[1])
with Live(save_dvc_exp=False, dvcyaml=None) as live:
    for epoch in range(params["epochs"]):
        for _ in range(50):
            p = 1 / (1 + np.exp(-(x_train @ w)))
            grad = x_train.T @ (p - y_train) / len(y_train) + params["l2"] * w
            w -= params["lr"] * grad
        p = np.clip(1 / (1 + np.exp(-(x_train @ w))), 1e-9, 1 - 1e-9)
        loss = float(-np.mean(y_train * np.log(p) + (1 - y_train) * np.log(1 - p)))
        live.log_metric("train/loss", loss)
        live.log_metric("train/acc", accuracy(w, x_train, y_train))
        live.log_metric("test/acc", accuracy(w, x_test, y_test))
        live.next_step()

    predicted = ((x_test @ w) > 0).astype(int)
    Path("eval").mkdir(exist_ok=True)
    with open("eval/predictions.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(y_test.astype(int).tolist(), predicted.tolist()))
    xs, ys = np.meshgrid(np.linspace(-1.5, 2.5, 64), np.linspace(1.5, -1, 64))
    regions = (expand(np.column_stack([xs.ravel(), ys.ravel()])) @ w > 0).reshape(xs.shape)
    live.log_image("regions.png", np.where(regions[..., None], [66, 133, 244], [244, 104, 55]).astype(np.uint8))
