"""A folder's recipe read off its images: grey and size derived, class labels from sub-folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganterm.config import TrainConfig, resolve
from ganterm.data.folder import folder_labels, load_folder
from ganterm.data.folder_probe import probe_folder
from ganterm.training.trainer import Trainer


def _digits(root: Path, classes=("0", "1", "2"), n: int = 4, size: int = 28, mode: str = "L") -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (size, size), dtype=np.uint8)
            im = Image.fromarray(pixels, "L")
            (im.convert("RGB") if mode == "RGB" else im).save(root / c / f"{i}.png")
    return root


def _colour(root: Path, n: int = 6, size: int = 80) -> Path:
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size + 10, 3), dtype=np.uint8), "RGB").save(
            root / f"{i}.jpg"
        )
    return root


def test_sub_folders_become_sorted_class_labels(tmp_path):
    root = _digits(tmp_path / "d", classes=("7", "3", "10"))
    ds = load_folder(root, image_size=28, channels=1, progress=False)
    assert ds.info["classes"] == ["10", "3", "7"]  # sorted names, as ImageFolder
    assert ds.labels is not None and ds.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_a_flat_folder_or_loose_images_have_no_labels(tmp_path):
    flat = _colour(tmp_path / "flat")
    assert load_folder(flat, image_size=16, channels=3, progress=False).labels is None
    mixed = _digits(tmp_path / "m")
    Image.new("L", (28, 28)).save(mixed / "loose.png")
    files = sorted(mixed.rglob("*.png"))
    assert folder_labels(mixed, files) == ([], None)
    one = _digits(tmp_path / "one", classes=("a",))
    assert load_folder(one, image_size=28, channels=1, progress=False).labels is None


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_probe_finds_grey_digits_saved_either_way(tmp_path, mode):
    probe = probe_folder(_digits(tmp_path / mode, mode=mode))
    assert (probe.n_files, probe.short_side, probe.grey) == (12, 28, True)


def test_grey_28px_folder_trains_at_28_grey_with_the_digits_recipe(tmp_path):
    root = _digits(tmp_path / "d")
    cfg = resolve(TrainConfig(dataset=str(root)))
    digits = resolve(TrainConfig(dataset="mnist"))
    assert (cfg.image_size, cfg.channels) == (28, 1)
    assert (cfg.model, cfg.loss, cfg.lr_g, cfg.augment) == (
        digits.model,
        digits.loss,
        digits.lr_g,
        digits.augment,
    )
    assert "read from 12 images" in cfg.extra["derived"] and "all grey" in cfg.extra["derived"]


def test_colour_photos_get_the_colour_recipe_at_64(tmp_path):
    cfg = resolve(TrainConfig(dataset=f"folder:{_colour(tmp_path / 'c')}"))
    assert (cfg.model, cfg.image_size, cfg.channels) == ("dcgan", 64, 3)


def test_flags_win_over_what_the_images_say(tmp_path):
    root = _digits(tmp_path / "d")
    cfg = resolve(TrainConfig(dataset=str(root), model="dcgan", image_size=32, channels=3))
    assert (cfg.image_size, cfg.channels) == (32, 3)
    assert "derived" not in cfg.extra
    small = _digits(tmp_path / "s", size=20)
    assert resolve(TrainConfig(dataset=str(small), model="dcgan")).image_size == 28


def test_the_start_event_and_config_say_what_was_chosen(tmp_path):
    root = _digits(tmp_path / "d")
    cfg = resolve(TrainConfig(dataset=str(root), steps=2, out=str(tmp_path / "run"), batch_size=4))
    t = Trainer(cfg)
    t.run()
    start = json.loads((tmp_path / "run" / "events.jsonl").read_text().splitlines()[0])
    assert "28x28 grey" in start["message"] and "3 classes from sub-folders" in start["message"]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["image_size"], saved["channels"]) == (28, 1)
    assert "all grey" in saved["extra"]["derived"]
    flat = _colour(tmp_path / "flat")
    cfg = resolve(TrainConfig(dataset=str(flat), steps=1, out=str(tmp_path / "r2"), batch_size=2))
    Trainer(cfg).run()
    start = json.loads((tmp_path / "r2" / "events.jsonl").read_text().splitlines()[0])
    assert "no labels" in start["message"]
