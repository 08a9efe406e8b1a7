import pytest
import torch

from wedges_lib import cache, data


def test_mnist1d_shapes_and_determinism(smoke_data):
    full = data.load("mnist1d")
    assert full.x_train.shape == (4000, 40) and full.x_test.shape == (1000, 40)
    assert full.y_train.dtype == torch.int64 and set(full.y_train.unique().tolist()) == set(range(10))
    assert len(smoke_data.y_train) == 1000 and torch.equal(smoke_data.x_train, full.x_train[:1000])
    fresh = data._generate_mnist1d(42)
    assert torch.equal(fresh["x_train"], full.x_train)


def test_generation_does_not_touch_global_numpy_rng():
    import numpy as np
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    data._generate_mnist1d(7)
    assert np.random.rand() == expected


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_cache_is_detected_and_rebuilt(damage, tmp_path, monkeypatch):
    monkeypatch.setenv("WEDGES_DATA", str(tmp_path))
    good = data.mnist1d()
    path = tmp_path / "mnist1d-5000-seed42.pt"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else raw[:-10] + bytes(10))
    with pytest.warns(UserWarning, match="corrupt or truncated"):
        again = data.mnist1d()
    assert torch.equal(again.x_train, good.x_train)
    assert cache.load_checked(path) is not None  # rebuilt file is valid


def test_bad_names_and_sizes_are_rejected():
    with pytest.raises(ValueError, match="'dataset'.*'imagenet'.*mnist1d"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="'n_train'"):
        data.load("mnist1d", -5)


def test_paper_datasets_offline_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WEDGES_DATA", str(tmp_path))
    monkeypatch.setenv("WEDGES_OFFLINE", "1")  # never reach for the network in a test
    with pytest.raises(FileNotFoundError, match=r"cifar10 not found.*download=True.*WEDGES_DATA"):
        data.load("cifar10")
    assert not data.online("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")


def write_cifar10(folder, n_train: int = 40, n_test: int = 20, seed: int = 0):
    """A small CIFAR-10 in torchvision's on-disk layout (cifar-10-batches-py: five train batches, a test batch and
    batches.meta, pickled dicts of uint8 rows (N, 3072) and labels), with random images; returns the test images."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(seed)
    out = folder / "cifar-10-batches-py"
    out.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        n = n_test if name == "test_batch" else n_train // 5
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        batch = {"batch_label": name, "data": x, "labels": [int(v) for v in rng.integers(0, 10, n)],
                 "filenames": [f"{name}_{j}.png" for j in range(n)]}
        (out / name).write_bytes(pickle.dumps(batch))
    labels = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (out / "batches.meta").write_bytes(pickle.dumps({"label_names": labels, "num_cases_per_batch": n_train // 5}))
    return x


def test_cifar10_in_torchvisions_layout_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("WEDGES_DATA", str(tmp_path))
    monkeypatch.setenv("WEDGES_OFFLINE", "1")
    test_rows = write_cifar10(tmp_path / "cifar10")
    ds = data.load("cifar10", device="cpu")
    assert ds.x_train.shape == (40, 3, 32, 32) and ds.x_test.shape == (20, 3, 32, 32) and ds.n_classes == 10
    assert abs(float(ds.x_train.mean())) < 1e-5  # normalised per channel
    assert torch.corrcoef(torch.stack([torch.as_tensor(test_rows[-1], dtype=torch.float32),
                                       ds.x_test[-1].flatten()]))[0, 1] > 0.99
    (tmp_path / "cifar10" / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(FileNotFoundError, match="damaged.*delete the folder"):
        data.load("cifar10")


def test_load_moves_to_a_device_parameter():
    ds = data.load("mnist1d", 10, "auto")
    assert ds.x_train.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert data.load("mnist1d", 10, "cpu").y_test.device.type == "cpu"
    with pytest.raises(ValueError, match="parameter 'device'.*'tpu'"):
        data.load("mnist1d", 10, "tpu")


def test_wedges_data_naming_a_file_is_a_one_line_error(tmp_path, monkeypatch):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("")
    monkeypatch.setenv("WEDGES_DATA", str(a_file))
    with pytest.raises(NotADirectoryError, match=r"^WEDGES_DATA=.*not_a_folder is a file, not a folder: set"):
        data.load("mnist1d")
