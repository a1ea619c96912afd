"""End to end on a copy of iterative/example-get-started's layout (issue 11, "Tests").

Its dvc.yaml and params.yaml as they are; data/data.xml (a few KB of synthetic StackOverflow-like
rows) tracked with ``dvc add``; src/ scripts that are small deterministic stand-ins with the same
inputs, params and outputs (the metrics in the DVC-cached ``eval/`` directory, written by dvclive,
and sklearn-style plot data beside them). A local-directory DVC remote and a bare Git remote.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import yaml

from tests.compat.harness import dvc, git_in, write_files

# example-get-started's dvc.yaml and params.yaml (HEAD of its snapshot), unchanged.
DVC_YAML = textwrap.dedent(
    """\
    artifacts:
      stackoverflow-dataset:
        path: data/data.xml
        type: dataset
        desc: Initial XML StackOverflow dataset (raw data)
      text-classification:
        path: model.pkl
        desc: Detect whether the given stackoverflow question should have R language tag
        type: model
        labels:
        - nlp
        - classification
        - stackoverflow
    stages:
      prepare:
        cmd: python src/prepare.py data/data.xml
        deps:
        - data/data.xml
        - src/prepare.py
        params:
        - prepare.seed
        - prepare.split
        outs:
        - data/prepared
      featurize:
        cmd: python src/featurization.py data/prepared data/features
        deps:
        - data/prepared
        - src/featurization.py
        params:
        - featurize.max_features
        - featurize.ngrams
        outs:
        - data/features
      train:
        cmd: python src/train.py data/features model.pkl
        deps:
        - data/features
        - src/train.py
        params:
        - train.min_split
        - train.n_est
        - train.seed
        outs:
        - model.pkl
      evaluate:
        cmd: python src/evaluate.py model.pkl data/features
        deps:
        - data/features
        - model.pkl
        - src/evaluate.py
        outs:
        - eval
    metrics:
    - eval/metrics.json
    plots:
    - ROC:
        template: simple
        x: fpr
        y:
          eval/plots/sklearn/roc/train.json: tpr
          eval/plots/sklearn/roc/test.json: tpr
    - Confusion-Matrix:
        template: confusion
        x: actual
        y:
          eval/plots/sklearn/cm/train.json: predicted
          eval/plots/sklearn/cm/test.json: predicted
    - Precision-Recall:
        template: simple
        x: recall
        y:
          eval/plots/sklearn/prc/train.json: precision
          eval/plots/sklearn/prc/test.json: precision
    - eval/plots/images/importance.png
    """
)

PARAMS_YAML = textwrap.dedent(
    """\
    prepare:
      split: 0.20
      seed: 20170428

    featurize:
      max_features: 200
      ngrams: 2

    train:
      seed: 20170428
      n_est: 50
      min_split: 0.01
    """
)

PREPARE_PY = textwrap.dedent(
    """\
    import os, re, sys, zlib
    import xml.etree.ElementTree
    import yaml

    params = yaml.safe_load(open("params.yaml"))["prepare"]
    os.makedirs(os.path.join("data", "prepared"), exist_ok=True)
    with open(os.path.join("data", "prepared", "train.tsv"), "w") as train, open(os.path.join("data", "prepared", "test.tsv"), "w") as test:
        for line in open(sys.argv[1]):
            attr = xml.etree.ElementTree.fromstring(line).attrib
            pid = attr["Id"]
            label = 1 if "<r>" in attr.get("Tags", "") else 0
            text = re.sub(r"\\s+", " ", attr.get("Title", "") + " " + attr.get("Body", "")).strip()
            draw = zlib.crc32(f"{params['seed']}-{pid}".encode()) % 1000 / 1000
            (test if draw < params["split"] else train).write(f"{pid}\\t{label}\\t{text}\\n")
    """
)

FEATURIZATION_PY = textwrap.dedent(
    """\
    import os, pickle, sys, zlib
    import yaml

    params = yaml.safe_load(open("params.yaml"))["featurize"]
    width = params["max_features"]

    def features(text):
        words = text.lower().split()
        vector = [0] * width
        for n in range(1, params["ngrams"] + 1):
            for start in range(len(words) - n + 1):
                vector[zlib.crc32(" ".join(words[start:start + n]).encode()) % width] += 1
        return vector

    os.makedirs(sys.argv[2], exist_ok=True)
    names = [f"f{i}" for i in range(width)]
    for split in ("train", "test"):
        rows = []
        for line in open(os.path.join(sys.argv[1], f"{split}.tsv")):
            pid, label, text = line.rstrip("\\n").split("\\t")
            rows.append((int(pid), int(label), features(text)))
        with open(os.path.join(sys.argv[2], f"{split}.pkl"), "wb") as out:
            pickle.dump((rows, names), out, protocol=4)
    """
)

TRAIN_PY = textwrap.dedent(
    """\
    import os, pickle, sys, zlib
    import yaml

    params = yaml.safe_load(open("params.yaml"))["train"]
    rows, names = pickle.load(open(os.path.join(sys.argv[1], "train.pkl"), "rb"))
    weights = [0.0] * len(names)
    for tree in range(params["n_est"]):  # each "tree" sees the features its seed draws
        for i in range(len(names)):
            if zlib.crc32(f"{params['seed']}-{tree}-{i}".encode()) % 1000 / 1000 < params["min_split"] * 10:
                continue
            weights[i] += sum((2 * label - 1) * vector[i] for _, label, vector in rows) / len(rows) / params["n_est"]
    with open(sys.argv[2], "wb") as out:
        pickle.dump({"weights": [round(w, 9) for w in weights], "names": names}, out, protocol=4)
    """
)

EVALUATE_PY = textwrap.dedent(
    """\
    import json, math, os, pickle, sys
    from dvclive import Live
    from PIL import Image

    model = pickle.load(open(sys.argv[1], "rb"))

    def scores(rows):
        return [1 / (1 + math.exp(-sum(w * x for w, x in zip(model["weights"], vector)))) for _, _, vector in rows]

    def roc_auc(labels, predictions):
        pairs = [(p, q) for p, l in zip(predictions, labels) if l for q, m in zip(predictions, labels) if not m]
        return sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in pairs) / len(pairs) if pairs else 0.5

    def curve(labels, predictions):
        ranked = sorted(zip(predictions, labels), reverse=True)
        positives = sum(labels) or 1
        negatives = (len(labels) - sum(labels)) or 1
        points, tp, fp = [], 0, 0
        for threshold, label in ranked:
            tp, fp = tp + label, fp + (1 - label)
            points.append({"threshold": round(threshold, 6), "tp": tp, "fp": fp})
        return points, positives, negatives

    def write(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        json.dump(data, open(path, "w"), indent=4)

    with Live("eval", dvcyaml=False) as live:
        live.summary = {"avg_prec": {}, "roc_auc": {}}
        for split in ("train", "test"):
            rows, names = pickle.load(open(os.path.join(sys.argv[2], f"{split}.pkl"), "rb"))
            labels = [label for _, label, _ in rows]
            predictions = scores(rows)
            points, positives, negatives = curve(labels, predictions)
            precisions = [p["tp"] / (p["tp"] + p["fp"]) for p in points]
            live.summary["avg_prec"][split] = round(sum(precisions) / len(precisions), 6)
            live.summary["roc_auc"][split] = round(roc_auc(labels, predictions), 6)
            plots = os.path.join("eval", "plots", "sklearn")
            write(os.path.join(plots, "roc", f"{split}.json"),
                  {"roc": [{"fpr": p["fp"] / negatives, "tpr": p["tp"] / positives, "threshold": p["threshold"]} for p in points]})
            write(os.path.join(plots, "prc", f"{split}.json"),
                  {"prc": [{"precision": q, "recall": p["tp"] / positives, "threshold": p["threshold"]} for p, q in zip(points, precisions)]})
            write(os.path.join(plots, "cm", f"{split}.json"),
                  [{"actual": str(l), "predicted": str(int(p >= 0.5))} for l, p in zip(labels, predictions)])
        importance = [min(255, int(abs(w) * 255)) for w in model["weights"][:30]]
        image = Image.new("L", (len(importance), 8))
        image.putdata(importance * 8)
        live.log_image("importance.png", image)
    """
)

WORDS = "plot data frame ggplot python pandas regression model vector list loop apply merge join string".split()


def data_xml(rows: int) -> str:
    """StackOverflow-like posts, one ``<row .../>`` per line as in the real data.xml; every third tagged r."""
    lines = []
    for number in range(1, rows + 1):
        tags = "&lt;r&gt;&lt;ggplot2&gt;" if number % 3 == 0 else "&lt;python&gt;&lt;pandas&gt;"
        title = " ".join(WORDS[(number * k) % len(WORDS)] for k in (1, 3, 5))
        body = " ".join(WORDS[(number + k * k) % len(WORDS)] for k in range(12))
        if (number % 3 == 0) != (number % 7 == 0):  # mostly the r posts: a signal with noise
            body += " ggplot data frame"
        lines.append(f'<row Id="{number}" PostTypeId="1" Tags="{tags}" Title="{title}" Body="&lt;p&gt;{body}&lt;/p&gt;" />')
    return "\n".join(lines) + "\n"


def build_get_started(root: Path, storage: Path) -> Path:
    write_files(
        root,
        {
            "dvc.yaml": DVC_YAML,
            "params.yaml": PARAMS_YAML,
            "src/prepare.py": PREPARE_PY,
            "src/featurization.py": FEATURIZATION_PY,
            "src/train.py": TRAIN_PY,
            "src/evaluate.py": EVALUATE_PY,
            "data/data.xml": data_xml(80),
            ".gitignore": ".venv/\n",
        },
    )
    git_in(root, "init", "-q", "-b", "main")
    dvc(root, "init")
    dvc(root, "remote", "add", "-d", "storage", str(storage))
    dvc(root, "add", "data/data.xml")
    git_in(root, "add", "-A")
    git_in(root, "commit", "-q", "-m", "the get-started pipeline and its data")  # dvclive wants a commit to exist
    dvc(root, "repro")
    dvc(root, "push")
    git_in(root, "add", "-A")
    git_in(root, "commit", "-q", "-m", "baseline: the get-started pipeline, reproduced")
    return root


def delta_cells(report: str) -> list[str]:
    """The "Δ vs baseline" cells of the ranked table's trial rows (the baseline row has none)."""
    lines = [line for line in report.splitlines() if line.startswith("|")]
    header = next(index for index, line in enumerate(lines) if "Δ vs baseline" in line)
    cells = [cell.strip() for cell in lines[header].strip("|").split("|")]
    column = cells.index("Δ vs baseline")
    rows = []
    for line in lines[header + 2 :]:
        values = [cell.strip() for cell in line.strip("|").split("|")]
        if len(values) != len(cells):
            break
        if values[1] != "baseline":
            rows.append(values[column])
    return rows


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_example_get_started_queue_run_show_report_push_worker_pull_apply(tmp_path, run_gitexp):
    storage = tmp_path / "dvc-storage"
    work = build_get_started(tmp_path / "work", storage)
    git_in(tmp_path, "init", "-q", "--bare", "-b", "main", str(tmp_path / "remote.git"))
    git_in(work, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git_in(work, "push", "-q", "origin", "main")
    baseline_metrics = json.loads((work / "eval" / "metrics.json").read_text())

    queued = run_gitexp(work, "queue", "--name", "trees", "--set", "train.n_est=[20, 80]", "--set", "train.min_split=[0.02, 0.05]",
                        "--objective", "avg_prec.test", "--goal", "maximize")  # fmt: skip
    assert queued.code == 0, queued.err
    ran = run_gitexp(work, "run", "-j", "2")
    assert ran.code == 0 and "4 succeeded" in ran.out, ran.out + ran.err

    rows = json.loads(run_gitexp(work, "show", "trees", "--json").out)["trials"]
    baseline = next(row for row in rows if row["trial"] == "baseline")
    assert baseline["metrics"]["avg_prec.test"] == baseline_metrics["avg_prec"]["test"]
    trials = [row for row in rows if row["trial"] != "baseline"]
    assert [row["status"] for row in trials] == ["succeeded"] * 4
    assert all(isinstance(row["metrics"].get(name), float) for row in trials for name in ("avg_prec.test", "roc_auc.train"))

    report = run_gitexp(work, "report", "trees")
    assert report.code == 0, report.err
    deltas = delta_cells(report.out)
    assert len(deltas) == 4 and all(is_number(cell) for cell in deltas), report.out

    pushed = run_gitexp(work, "push", "origin")
    assert pushed.code == 0, pushed.err
    assert run_gitexp(work, "queue", "--name", "more", "--set", "train.n_est=[30, 40]").code == 0
    assert run_gitexp(work, "push", "origin", "more").code == 0

    second = tmp_path / "second"
    git_in(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(second))
    worked = run_gitexp(second, "worker", "--remote", "origin", "-j", "2")
    assert worked.code == 0, worked.out + worked.err

    pulled = run_gitexp(work, "pull", "origin")
    assert pulled.code == 0, pulled.err
    trial = json.loads(run_gitexp(work, "show", "more", "--json").out)["trials"][1]
    assert trial["status"] == "succeeded" and trial["params"]["train.n_est"] == 30, trial
    applied = run_gitexp(work, "apply", f"more/{trial['trial']}")
    assert applied.code == 0, applied.err
    lock = yaml.safe_load((work / "dvc.lock").read_text())
    model = next(out for out in lock["stages"]["train"]["outs"] if out["path"] == "model.pkl")
    assert (work / "model.pkl").is_file() and md5(work / "model.pkl") == model["md5"]
    assert yaml.safe_load((work / "params.yaml").read_text())["train"]["n_est"] == 30
