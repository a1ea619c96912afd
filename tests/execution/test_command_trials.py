"""Projects without dvc.yaml: the seeds' examples as they are written (Grid.ai's flags, Polyaxon's run.cmd).

Real git, real dvclive, a real numpy script; the trials run the command in slots as DVC trials run dvc repro.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from gitexp.store.git import Git
from gitexp.store.records import Ledger
from tests.sweep.test_files import POLYAXON_0_FILE  # Polyaxon's page (seed 000), verbatim

# Grid.ai's main.py: numpy does the work, dvclive logs the metric. Under --strategy none the flags come
# as written ("uniform(1e-5, 1e-1, 3)", "[1, 2, 3, 4]") and the script reads them itself, as the page says.
MAIN_PY = '''\
import argparse
import json

import numpy as np
from dvclive import Live


def number(text):
    try:
        return float(text)
    except ValueError:
        pass
    if text.startswith("uniform("):
        low, high, size = (float(part) for part in text[len("uniform("):-1].split(","))
        return float(np.random.default_rng(0).uniform(low, high, int(size)).mean())
    return float(np.mean(json.loads(text)))


parser = argparse.ArgumentParser()
parser.add_argument("--alpha", required=True)
parser.add_argument("--beta", required=True)
args = parser.parse_args()
with Live() as live:
    live.log_metric("loss", round(number(args.alpha) * number(args.beta), 8))
with open("args.json", "w") as out:
    json.dump({"alpha": args.alpha, "beta": args.beta}, out)
'''

# Polyaxon's train.py "that accepts 2 parameters": --batch-size and --lr.
TRAIN_PY = '''\
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, required=True)
parser.add_argument("--lr", type=float, required=True)
args = parser.parse_args()
with open("results.json", "w") as out:
    json.dump({"loss": round(args.lr / args.batch_size, 10), "batch": args.batch_size}, out)
'''

# Grid.ai's page: grid run main.py --alpha "uniform(1e-5, 1e-1, 3)" --beta "[1, 2, 3, 4]" (with --strategy
# random_search --num_trials 3, and --strategy none); the flags as the page writes them.
GRID_FLAGS = ["--alpha", "uniform(1e-5, 1e-1, 3)", "--beta", "[1, 2, 3, 4]"]


@pytest.fixture(autouse=True)
def venv_python_first(monkeypatch):
    """``python`` in a command is this venv's (numpy, dvclive), as on a user's activated environment."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def plain_repo(path: Path, files: dict[str, str]) -> Git:
    """A Git repository with ``files`` committed: no DVC at all."""
    path.mkdir()
    git = Git(path)
    git.run("init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).write_text(text)
    git.run("add", "-A")
    git.run("commit", "-qm", "the script")
    return git


def trials(git: Git, sweep: str | None = None):
    return sorted(Ledger(git).trials([sweep] if sweep else None), key=lambda trial: trial.name)


def queued_sweep(result) -> str:
    assert result.code == 0, result
    return result.out.split()[2].rstrip(":")


def test_grid_ai_grid_search_makes_twelve_trials_that_run_the_script_with_each_combination(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "grid", {"main.py": MAIN_PY})

    sweep = queued_sweep(run_gitexp(git.root, "queue", "--", "python", "main.py", *GRID_FLAGS))
    queued = trials(git, sweep)
    assert len(queued) == 12
    alphas = sorted({trial.params["alpha"] for trial in queued})
    assert len(alphas) == 3 and all(1e-5 <= alpha <= 1e-1 for alpha in alphas)
    assert sorted((trial.params["alpha"], trial.params["beta"]) for trial in queued) == [(a, b) for a in alphas for b in (1, 2, 3, 4)]
    recorded = yaml.safe_load(git.read_blob(queued[0].tip, "gitexp.yaml"))
    assert recorded == {"command": ["python", "main.py", "--alpha", "{{ alpha }}", "--beta", "{{ beta }}"], **queued[0].params}

    run = run_gitexp(git.root, "run", "-j", "2", sweep)
    assert run.code == 0, run

    shown = json.loads(run_gitexp(git.root, "show", "--json", sweep).out)["trials"]
    by_name = {row["trial"]: row for row in shown}
    for trial in trials(git, sweep):
        loss = round(trial.params["alpha"] * trial.params["beta"], 8)
        assert trial.status == "succeeded" and trial.metrics == {"loss": loss}
        assert by_name[trial.name]["params"] == trial.params and by_name[trial.name]["metrics"] == {"loss": loss}
        assert json.loads(git.read_blob(trial.tip, "dvclive/metrics.json")) == {"loss": loss}
        written = json.loads(git.read_blob(trial.tip, "args.json"))  # what the script wrote, Git does not ignore it
        assert {key: float(value) for key, value in written.items()} == trial.params
        assert not [path for path in git.run("ls-tree", "-r", "--name-only", trial.tip).split() if path.startswith(".dvc")]
    assert git.run("status", "--porcelain") == "" and not git.rev_parse("refs/exps/stash")  # dvclive saved no DVC experiment


def test_grid_ai_random_search_runs_three_of_the_twelve_combinations(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "random", {"main.py": MAIN_PY})

    result = run_gitexp(git.root, "run", "--strategy", "random", "--num-trials", "3", "--", "python", "main.py", *GRID_FLAGS)

    assert result.code == 0, result
    ran = trials(git)
    grid = run_gitexp(git.root, "check", "--json", "--", "python", "main.py", *GRID_FLAGS)
    combinations = [(trial["params"]["alpha"], trial["params"]["beta"]) for trial in json.loads(grid.out)["trials"]]
    chosen = [(trial.params["alpha"], trial.params["beta"]) for trial in ran]
    assert len(combinations) == 12 and len(set(chosen)) == 3 and set(chosen) <= set(combinations)
    assert [trial.metrics for trial in ran] == [{"loss": round(alpha * beta, 8)} for alpha, beta in chosen]


def test_grid_ai_strategy_none_runs_one_trial_with_the_flags_as_written(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "none", {"main.py": MAIN_PY})

    result = run_gitexp(git.root, "run", "--strategy", "none", "--", "python", "main.py", *GRID_FLAGS)

    assert result.code == 0, result
    (trial,) = trials(git)
    assert trial.params == {} and trial.status == "succeeded"
    assert json.loads(git.read_blob(trial.tip, "args.json")) == {"alpha": "uniform(1e-5, 1e-1, 3)", "beta": "[1, 2, 3, 4]"}
    expected = round(float(np.random.default_rng(0).uniform(1e-5, 1e-1, 3).mean()) * 2.5, 8)
    assert trial.metrics == {"loss": expected}


def test_grid_ai_range_gives_one_three_five_seven_nine_and_plain_flags_pass_as_written(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "range", {"main.py": MAIN_PY})

    sweep = queued_sweep(run_gitexp(git.root, "queue", "--", "python", "main.py", "--alpha", "1e-2", "--beta", "range(1, 10, 2)"))

    queued = trials(git, sweep)
    assert [trial.params for trial in queued] == [{"beta": beta} for beta in (1, 3, 5, 7, 9)]
    recorded = yaml.safe_load(git.read_blob(queued[2].tip, "gitexp.yaml"))
    assert recorded == {"command": ["python", "main.py", "--alpha", "1e-2", "--beta", "{{ beta }}"], "beta": 5}
    assert "beta=5" in git.run("log", "-1", "--format=%s", queued[2].tip)  # git log explains the trial


def test_polyaxon_group_file_with_run_cmd_runs_five_trials_with_numpys_logspace(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "polyaxon", {"train.py": TRAIN_PY, "polyaxonfile.yml": POLYAXON_0_FILE})

    result = run_gitexp(git.root, "run", "-j", "2", "--sweep", "polyaxonfile.yml", "--metrics", "results.json")

    assert result.code == 0, result
    ran = trials(git)
    expected = [float(value) for value in np.logspace(0.01, 0.1, 5)]
    assert [trial.params["lr"] for trial in ran] == expected
    for trial, lr in zip(ran, expected):
        assert trial.status == "succeeded" and trial.metrics == {"loss": round(lr / 128, 10), "batch": 128}
        recorded = yaml.safe_load(git.read_blob(trial.tip, "gitexp.yaml"))
        assert recorded["command"] == ["python3", "train.py", "--batch-size={{ batch_size }}", "--lr={{ lr }}"]
        assert (recorded["batch_size"], recorded["lr"], recorded["metrics"]) == (128, lr, ["results.json"])
    shown = run_gitexp(git.root, "show", "--csv").out.splitlines()
    assert shown[0].split(",")[-3:] == ["lr", "loss", "batch"] and len(shown) == 7


@pytest.mark.parametrize(
    ("name", "script", "expected"),
    [
        ("scores.yaml", "open('scores.yaml', 'w').write('acc: 0.75\\nloss: 0.5\\n')", {"acc": 0.75, "loss": 0.5}),
        ("scores.csv", "open('scores.csv', 'w').write('step,acc\\n0,0.5\\n1,0.75\\n')", {"step": 1, "acc": 0.75}),
    ],
)
def test_metrics_files_in_yaml_and_csv(tmp_path, run_gitexp, name, script, expected):
    git = plain_repo(tmp_path / "metrics", {"score.py": f"import sys\n{script}\n"})

    result = run_gitexp(git.root, "run", "--metrics", name, "--", "python3", "score.py", "--x", "[1]")

    assert result.code == 0, result
    (trial,) = trials(git)
    assert trial.metrics == expected


def test_outs_go_into_the_dvc_cache_of_a_project_with_dvc_but_no_dvc_yaml(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "outs", {"fit.py": "import sys\nopen('model.bin', 'wb').write(sys.argv[2].encode() * 1000)\n"})
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=git.root, check=True)
    git.run("add", "-A")
    git.run("commit", "-qm", "dvc init")

    result = run_gitexp(git.root, "run", "--outs", "model.bin", "--", "python3", "fit.py", "--size", "[ab]")

    assert result.code == 0, result
    (trial,) = trials(git)
    committed = git.run("ls-tree", "-r", "--name-only", trial.tip).split()
    assert git.run("diff", "--name-only", f"{trial.tip}^", trial.tip).split() == [".gitignore", "model.bin.dvc"]
    assert "model.bin" not in committed and ".dvc/config" in committed
    md5 = yaml.safe_load(git.read_blob(trial.tip, "model.bin.dvc"))["outs"][0]["md5"]
    assert (git.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == b"ab" * 1000


WANDB_FILE = """\
program: fit.py
method: bayes
metric: {name: loss, goal: minimize}
run_cap: 3
parameters:
  lr: {distribution: uniform, min: 0.01, max: 0.1}
  batch_size: {values: [32, 64]}
command:
  - ${env}
  - ${interpreter}
  - ${program}
  - ${args}
"""

FIT_PY = '''\
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--batch_size", type=int)
args = parser.parse_args()
json.dump({"loss": round(args.lr / args.batch_size, 10)}, open("results.json", "w"))
'''


def test_a_wandb_program_runs_as_the_same_command_trials_and_bayes_adds_trials_to_it(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "wandb", {"fit.py": FIT_PY})
    (tmp_path / "sweep.yaml").write_text(WANDB_FILE)

    result = run_gitexp(git.root, "run", "--sweep", str(tmp_path / "sweep.yaml"), "--metrics", "results.json")

    assert result.code == 0, result
    ran = trials(git)
    assert [trial.status for trial in ran] == ["succeeded"] * 3
    for trial in ran:
        assert trial.metrics == {"loss": round(trial.params["lr"] / trial.params["batch_size"], 10)}
        recorded = yaml.safe_load(git.read_blob(trial.tip, "gitexp.yaml"))
        assert recorded["command"] == ["/usr/bin/env", "python", "fit.py", "--lr={{ lr }}", "--batch_size={{ batch_size }}"]


def test_an_output_the_command_did_not_write_fails_the_trial_and_says_which(tmp_path, run_gitexp):
    git = plain_repo(tmp_path / "no-outs", {"fit.py": "print('fitted, nothing saved')\n"})
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=git.root, check=True)
    git.run("add", "-A")
    git.run("commit", "-qm", "dvc init")

    result = run_gitexp(git.root, "run", "--outs", "model.bin", "--", "python3", "fit.py", "--size", "[1]")

    assert result.code == 1, result
    (trial,) = trials(git)
    assert trial.status == "failed" and "the command wrote no model.bin (--outs)" in git.run("log", "-1", "--format=%B", trial.tip)
