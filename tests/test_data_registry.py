"""Names, errors and the cache location."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganterm.data import registry
from ganterm.data.cache import ENV_DATA_DIR, cache_dir
from ganterm.data.registry import dataset_names, list_datasets, load_dataset
from ganterm.errors import UsageError


def test_names() -> None:
    assert dataset_names() == [
        "ring", "grid", "shapes", "digits", "mnist", "fashion-mnist", "cifar10", "folder:PATH"
    ]  # fmt: skip


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(UsageError) as err:
        load_dataset("mnsit")
    message = str(err.value)
    assert "'mnsit'" in message and "\n" not in message
    assert all(name in message for name in dataset_names())
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"image_size": 48}, "--image-size 48"), ({"channels": 2}, "--channels must be 1 or 3")],
)
def test_bad_sizes_and_channels(kwargs: dict, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        load_dataset("shapes", **kwargs)


def test_toys_ignore_image_options() -> None:
    ds = load_dataset("grid", image_size=0, channels=0)
    assert ds.kind == "points" and ds.info["modes"].shape == (25, 2)


def test_shapes_options_and_seed() -> None:
    ds = load_dataset("shapes", image_size=32, channels=3, seed=7)
    assert ds.shape == (3, 32, 32) and ds.info["seed"] == 7


def test_cache_dir_argument_beats_env_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_DIR, raising=False)
    default = cache_dir()
    assert default.name == "data" and "ganterm" in str(default)
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert cache_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_list_datasets_shows_where_files_go(tmp_path: Path) -> None:
    status = {s.name: s for s in list_datasets(tmp_path)}
    assert set(status) == set(dataset_names())
    assert status["ring"].cached and status["ring"].kind == "points"
    assert not status["mnist"].cached and status["mnist"].location == str(tmp_path / "mnist")
    assert status["cifar10"].location == str(tmp_path / "cifar10")
    assert isinstance(status["shapes"], registry.DatasetStatus)
