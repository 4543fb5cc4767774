"""folder:PATH: nested PNG/JPEG, resize and center crop, channels, unreadable files, empty folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganterm.data.folder import find_images, load_folder
from ganterm.data.registry import load_dataset
from ganterm.errors import DataError, UsageError


def _image(path: Path, size: tuple[int, int], colour, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def _many_images(root: Path, n: int = 210) -> None:
    """Enough files for the decode progress to be reported (a few files decode without it)."""
    for i in range(n):
        _image(root / f"{i:03d}.png", (8, 8), (i, 255 - i, 0))


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    root = tmp_path / "pics"
    _image(root / "a.png", (40, 30), (255, 0, 0))
    _image(root / "nested" / "deeper" / "b.jpg", (64, 80), (0, 0, 255))
    _image(root / "nested" / "c.JPEG", (20, 20), 200, mode="L")
    _image(root / "nested" / "d.png", (33, 17), (0, 255, 0, 128), mode="RGBA")
    _image(root / "e.png", (25, 25), 3, mode="P")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "notes.txt").write_text("not an image")
    return root


def test_nested_images_are_found_in_a_stable_order(pictures: Path) -> None:
    names = [p.relative_to(pictures).as_posix() for p in find_images(pictures)]
    assert names == ["a.png", "broken.png", "e.png", "nested/c.JPEG", "nested/d.png", "nested/deeper/b.jpg"]


def test_loads_readable_images_and_counts_the_rest(pictures: Path) -> None:
    ds = load_folder(pictures, image_size=16, channels=3, progress=False)
    assert (ds.kind, ds.shape, ds.size) == ("images", (3, 16, 16), 5)
    assert ds.info["skipped"] == 1 and ds.info["skipped_files"] == [str(pictures / "broken.png")]
    assert ds.data is not None and ds.data.dtype == torch.float32
    assert ds.data.min() >= -1 and ds.data.max() <= 1
    red = ds.data[0].mean(dim=(1, 2))  # a.png comes first
    torch.testing.assert_close(red, torch.tensor([1.0, -1.0, -1.0]), atol=0.02, rtol=0)
    blue = ds.data[4].mean(dim=(1, 2))  # nested/deeper/b.jpg comes last
    assert blue[2] > 0.9 and blue[0] < -0.9


def test_shorter_side_is_resized_then_center_cropped(tmp_path: Path) -> None:
    # A wide image in three vertical stripes: only the middle stripe survives the crop.
    stripes = np.zeros((30, 90, 3), dtype=np.uint8)
    stripes[:, :30, 0] = 255
    stripes[:, 30:60, 1] = 255
    stripes[:, 60:, 2] = 255
    Image.fromarray(stripes).save(tmp_path / "wide.png")
    ds = load_folder(tmp_path, image_size=8, channels=3, progress=False)
    assert ds.data is not None
    torch.testing.assert_close(ds.data[0, :, 1:-1, 1:-1].mean(dim=(1, 2)), torch.tensor([-1.0, 1.0, -1.0]))


def test_grey_output(pictures: Path) -> None:
    ds = load_dataset(f"folder:{pictures}", image_size=32, channels=1, progress=False)
    assert ds.shape == (1, 32, 32) and ds.data is not None and ds.data.shape == (5, 1, 32, 32)
    assert ds.name == f"folder:{pictures}"


def test_a_plain_directory_name_is_a_folder(pictures: Path) -> None:
    ds = load_dataset(str(pictures), progress=False)
    assert ds.shape == (3, 64, 64) and ds.size == 5


def test_serial_and_threaded_decoding_agree(pictures: Path) -> None:
    one = load_folder(pictures, image_size=16, progress=False, workers=1).data
    many = load_folder(pictures, image_size=16, progress=False, workers=4).data
    assert one is not None and many is not None and torch.equal(one, many)


def test_progress_bar_for_many_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _many_images(tmp_path)
    ds = load_folder(tmp_path, image_size=8, progress=True)
    assert ds.size == 210
    assert "decoding" in capsys.readouterr().err


def test_decode_progress_reaches_a_line_sink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The TUI's sink (LineProgress) has only add_task / update: the loader must not need more.
    from ganterm.data.progress import LineProgress

    _many_images(tmp_path)
    lines: list[str] = []
    ds = load_folder(tmp_path, image_size=8, progress=LineProgress(lines.append, interval=0.0))
    assert ds.size == 210
    assert lines[0].startswith("decoding ")
    assert lines[-1].endswith("100 % (210/210 images)")
    assert capsys.readouterr().err == ""


def test_trainer_on_a_folder_reports_decoding_through_the_feed(tmp_path: Path) -> None:
    # What `ganterm train ./pictures` does under the TUI: no progress given, so the header gets the lines.
    from ganterm.config import TrainConfig, resolve
    from ganterm.training.trainer import Trainer

    _many_images(tmp_path / "pics")
    cfg = TrainConfig(dataset=str(tmp_path / "pics"), steps=2, batch_size=8, out=str(tmp_path / "run"))
    trainer = Trainer(resolve(cfg))
    messages: list[str] = []
    update = trainer.feed.update

    def record(**fields):
        messages.append(fields.get("message", ""))
        update(**fields)

    trainer.feed.update = record  # type: ignore[method-assign]
    trainer.run()
    assert trainer.step == 2
    assert any(m.startswith("decoding pics") and m.endswith("(210/210 images)") for m in messages)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="no images in") as err:
        load_dataset(f"folder:{tmp_path}", progress=False)
    assert "\n" not in str(err.value)


def test_only_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="none of the 1 image files"):
        load_folder(tmp_path, image_size=16, progress=False)


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(UsageError, match="nope"):
        load_dataset(f"folder:{missing}")
    with pytest.raises(UsageError, match="needs a path"):
        load_dataset("folder:")
