import subprocess, sys
def test_x(get_started, run_gitexp, tmp_path):
    root = get_started.root
    for i, n in enumerate((100, 300, 600)):
        (tmp_path / f"d{i}.csv").write_text("".join(f"{j / n:.4f},{j % 2}\n" for j in range(n)))
    r = run_gitexp(root, "queue", "--name", "ds", "--data", f"data/data.csv=[{tmp_path}/d0.csv, {tmp_path}/d1.csv, {tmp_path}/d2.csv]")
    print(r.code, r.out, r.err)
    print(get_started.run("log", "-1", "exp/ds/t002"))
    print(get_started.run("show", "exp/ds/t002", "--stat"))
    print(get_started.run("diff", "main", "exp/ds/t002"))
    r = run_gitexp(root, "run", "-j", "2", "ds")
    print(r.code, r.out, r.err)
    print(run_gitexp(root, "show", "ds").out)
    print(run_gitexp(root, "diff", "ds/t001", "ds/t003").out)
