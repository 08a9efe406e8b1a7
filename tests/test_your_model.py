"""Appendix 92 as a report on checkpoints no test wrote by hand: small models trained here on MNIST-1D for a few
steps, their state dicts saved, the appendix run on them through the CLI at the smoke scale; bad inputs stopped
before anything runs, with one line that names the parameter and no run folder left behind."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from wedges_lib import config, data, models, params, sweep
from wedges_lib.landscape import pca_plane, sharpness

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "92_your_model.py"
MLP_KWARGS = {"in_dim": 40, "n_classes": 10, "width": 0.25}
# an MLP is cheap: more data, probes, ascent steps and grid points than the smoke preset's (sized for a ResNet)
SIZES = [a for k, v in dict(own_n_train=256, own_n_test=200, own_curv_n=64, own_repeats=3, own_ascent_steps=5,
                            own_probes=8, own_lanczos=10, own_grid=5).items() for a in ("-p", k, str(v))]
# a BatchNorm CNN and a data factory in a module of the test's own (a user's package, on PYTHONPATH)
MODULE = textwrap.dedent("""
    import torch
    from torch import nn

    from wedges_lib import data


    class BNNet(nn.Sequential):
        def __init__(self, channels=8, n_classes=10):
            super().__init__(nn.Unflatten(1, (1, 40)), nn.Conv1d(1, channels, 5, padding=2), nn.BatchNorm1d(channels),
                             nn.ReLU(), nn.MaxPool1d(4), nn.Flatten(), nn.Linear(channels * 10, n_classes))


    def mnist1d_pairs():
        d = data.mnist1d()
        return torch.utils.data.TensorDataset(d.x_train[:200], d.y_train[:200])
""")


def train(model: torch.nn.Module, x, y, *, steps: int, save_every: int, folder: Path, prefix: str, seed: int):
    """Plain PyTorch SGD on (x, y); the state dict saved every ``save_every`` steps: the paths."""
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    saved = []
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(y), (32,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        if step % save_every == 0:
            saved.append(folder / f"{prefix}{step}.pt")
            torch.save(model.state_dict(), saved[-1])
    return saved


def cli(*args, cwd, env=None):
    env = {**os.environ, "WEDGES_SCALE": "smoke", **(env or {})}
    return subprocess.run([sys.executable, "-m", "wedges_lib", "run", str(CHAPTER), "--scale", "smoke", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def mnist1d():
    return data.mnist1d()


@pytest.fixture(scope="module")
def mlp_series(tmp_path_factory, mnist1d):
    """Five checkpoints of one MLP run (steps 12, 24, ..., 60): a training run's series."""
    folder = tmp_path_factory.mktemp("mlp")
    torch.manual_seed(0)
    net = models.mlp(**MLP_KWARGS)
    return train(net, mnist1d.x_train, mnist1d.y_train, steps=60, save_every=12, folder=folder, prefix="step",
                 seed=0)


@pytest.fixture(scope="module")
def user_package(tmp_path_factory, mnist1d):
    """A temporary module with a BatchNorm CNN and a data factory, and two independent runs of the CNN."""
    folder = tmp_path_factory.mktemp("userpkg")
    (folder / "mynets.py").write_text(MODULE)
    sys.path.insert(0, str(folder))
    try:
        import mynets
    finally:
        sys.path.remove(str(folder))
    runs = [train(mynets.BNNet(), mnist1d.x_train, mnist1d.y_train, steps=30, save_every=30, folder=folder,
                  prefix=f"run{s}-", seed=s)[0] for s in (1, 2)]
    return folder, runs


@pytest.fixture(scope="module")
def mlp_report(mlp_series, tmp_path_factory):
    """The appendix run through the CLI on the MLP's five checkpoints: its run folder."""
    cwd = tmp_path_factory.mktemp("mlp-run")
    out = cwd / "runs" / "mlp"
    p = cli("-p", "own_model", "wedges_lib.models:mlp", "-p", "own_model_kwargs", repr(MLP_KWARGS),
            "-p", "checkpoints", ",".join(str(c) for c in mlp_series), "-p", "own_data", "mnist1d",
            "-p", "own_measured", "0", *SIZES, "--out", str(out), "--quiet", cwd=cwd)
    assert p.returncode == 0, p.stderr[-3000:]
    return out


def test_the_report_on_a_trained_mlp_series(mlp_report):
    out = mlp_report
    assert {"notebook.ipynb", "report.html", "metrics.json", "params.json", "status.json"} <= {
        f.name for f in out.iterdir()}
    m = json.loads((out / "metrics.json").read_text())
    assert m["own_K"] == 5 and m["own_D"] == params.flatten(models.mlp(**MLP_KWARGS)).numel()
    assert m["own_bn_agree_verdict"] == "reproduced"
    # the PCA plane: each checkpoint's distance from it, true loss and projected loss, the last one on the plane
    assert len(m["own_off_plane"]) == 5 and m["own_off_plane"][-1] == 0.0
    assert m["own_true_loss"][-1] == pytest.approx(m["own_projected_loss"][-1], rel=1e-5)
    assert all(math_ok(v) for v in m["own_true_loss"] + m["own_projected_loss"])
    # ε-sharpness with its interval, per checkpoint; the alignment of the MLP keeps its function
    assert re.fullmatch(r"-?[\d.e+-]+ \[-?[\d.e+-]+, -?[\d.e+-]+\]", m["own_eps_sharpness"]), m["own_eps_sharpness"]
    assert all(v >= 0 for v in m["own_sharpness_step60"])
    assert m["own_alignment"] == "aligned by weight matching" and m["own_same_function"] < 1e-5
    html = (out / "report.html").read_text()
    assert "MathJax" in html and "mjx" in html  # the book's MathJax, inlined
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html), "a resource from the network"
    assert "{glue:text}" not in html and ":::{admonition}" not in html  # MyST turned into plain Markdown
    assert "Figure (fig-own-planes)" in html
    print({k: m[k] for k in ("own_off_plane", "own_off_plane_relative", "own_true_loss", "own_projected_loss",
                             "own_eps_sharpness", "own_sharpness_step60", "own_pca_explained")})


def test_the_report_reads_offline_in_chromium_with_its_maths_typeset(mlp_report):
    """report.html opened from disk in Debian's Chromium with every host unreachable: MathJax typesets the
    formulas (no error), nothing is requested from the network, the console stays clean."""
    exe = next((c for c in (os.environ.get("WEDGES_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"))
                if c and os.access(c, os.X_OK)), None)
    if exe is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("the browser check cannot run in CI: chromium not found (apt-get install chromium)")
        pytest.skip("the browser check needs Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND"])
        page = browser.new_page()
        remote, errors = [], []
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto((mlp_report / "report.html").as_uri())
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30000)
        page.evaluate("MathJax.startup.promise")
        typeset = page.evaluate("document.querySelectorAll('mjx-container').length")
        failed = page.evaluate("document.querySelectorAll('mjx-merror').length")
        browser.close()
    assert typeset >= 2 and failed == 0, (typeset, failed)
    assert not remote and not errors, (remote, errors)


def math_ok(v) -> bool:
    return isinstance(v, float) and v == v and abs(v) < 1e6


def test_a_model_and_data_from_the_users_own_module(user_package, tmp_path):
    folder, runs = user_package
    out = tmp_path / "runs" / "cnn"
    p = cli("-p", "own_model", "mynets:BNNet", "-p", "own_model_kwargs", "{'channels': 8}",
            "-p", "checkpoints", ",".join(str(r) for r in runs), "-p", "own_data", "mynets:mnist1d_pairs",
            "--out", str(out), "--quiet", cwd=tmp_path, env={"PYTHONPATH": str(folder)})
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["own_K"] == 2 and "own_off_plane" not in m  # two checkpoints: a plane through them, no PCA
    assert m["own_bn_agree_verdict"] == "reproduced" and "own_batch_barrier" in m
    assert m["own_alignment"].startswith("not aligned")  # BatchNorm: weight matching does not support it


def test_bad_input_fails_before_anything_runs(mlp_series, tmp_path):
    out = tmp_path / "runs" / "bad"
    p = cli("-p", "checkpoints", f"{mlp_series[0]},nope.pt", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"^error: parameter 'checkpoints': .*no such file: .*nope\.pt$", lines[0])
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("case, match", [
    ("checkpoint of another model", r"^parameter 'checkpoints': got 'step12\.pt'; expected a state dict of "
                                    r"torchvision\.models:resnet18\(num_classes=10\) \(missing conv1\.weight"),
    ("data the model cannot take", r"^parameters 'own_data' and 'own_model': .*cannot take own_data 'mnist1d'"),
    ("a file that is no state dict", r"^parameter 'checkpoints': .* is not a state dict"),
])
def test_a_checkpoint_or_data_that_does_not_fit_is_one_line_naming_it(case, match, mlp_series, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    overrides = {"checkpoint of another model": dict(checkpoints=str(mlp_series[0])),  # MLP weights, ResNet model
                 "data the model cannot take": dict(own_data="mnist1d"),  # a ResNet on sequences
                 "a file that is no state dict": dict(checkpoints=str(junk))}[case]
    with pytest.raises(ValueError, match=match) as err:
        sweep.validate(CHAPTER, "smoke", overrides)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("overrides, match", [
    (dict(own_model="resnet18"), r"'own_model'.*e\.g\. -p own_model torchvision\.models:resnet18"),
    (dict(own_model="no_such_pkg.nets:Net"), r"'own_model'.*cannot be imported"),
    (dict(own_model="wedges_lib.models:mlp", own_model_kwargs={"no_such": 1}), r"'own_model_kwargs'.*does not take"),
    (dict(own_data="cifar1000"), r"'own_data'.*e\.g\. -p own_data"),
    (dict(objective="no_such_pkg:loss"), r"'objective'.*cannot be imported"),
    (dict(bn="sometimes"), r"'bn'.*recompute"),
    (dict(own_model="wedges_lib.models:mlp", own_model_kwargs=dict(MLP_KWARGS, n_classes=3), own_data="mnist1d"),
     r"'own_data'.*labels up to 9.*'num_classes'"),
])
def test_each_input_is_checked_with_an_example(overrides, match):
    with pytest.raises(ValueError, match=match):
        sweep.validate(CHAPTER, "smoke", overrides)


def test_checkpoints_read_comma_separated_and_absolute(mlp_series, monkeypatch):
    monkeypatch.chdir(mlp_series[0].parent)
    cfg = config.resolve("smoke", checkpoints="step12.pt, step24.pt")
    assert cfg.checkpoints == tuple(str(p.resolve()) for p in mlp_series[:2])


def test_sharpness_is_keskars_on_a_quadratic():
    """L = ½ Σ a_i θ_i²: the box's worst corner gives ½ Σ a_i (|θ_i| + ε(|θ_i| + 1))², found by the ascent."""
    a, theta, eps = torch.tensor([1.0, 4.0, 0.5]), torch.tensor([0.3, -1.0, 2.0]), 0.05
    loss = lambda t: 0.5 * (a * t**2).sum()  # noqa: E731
    worst = 0.5 * (a * (theta.abs() + eps * (theta.abs() + 1)) ** 2).sum()
    s = sharpness(loss, theta, eps=eps, steps=5, seed=3)
    assert s.max_loss == pytest.approx(float(worst), rel=1e-6)
    assert s.value == pytest.approx(100 * (float(worst) - float(loss(theta))) / (1 + float(loss(theta))), rel=1e-6)


def test_pca_plane_distances_are_exact_for_a_point_off_the_plane():
    """Four points: three in the (e0, e1) plane through the last, one lifted by 0.1 along e2, its e0 and e1
    coordinates the mean of the others' (so the lift is uncorrelated with them): the top two principal directions
    span (e0, e1), the lifted point lies 0.1 from the plane, and the plane's loss at its projection is not its own."""
    e = torch.eye(5)
    thetas = torch.stack([3 * e[0], 3 * e[1], e[0] + e[1] + 0.1 * e[2], torch.zeros(5)])
    f = lambda th: (th**2).sum(-1)  # noqa: E731
    res = pca_plane(f, thetas, n=3)
    assert res["off_plane"].tolist() == pytest.approx([0.0, 0.0, 0.1, 0.0], abs=1e-6)
    assert res["true"].tolist() == pytest.approx(f(thetas).tolist())
    assert res["projected"].tolist() == pytest.approx([9.0, 9.0, 2.0, 0.0], abs=1e-5)
