"""Model files: atomic save, cheap metadata, and one clear sentence for every broken file.

Broken files are tiny hand-made safetensors files (the loader rejects them from the header,
before any weights are read); only the round trip writes a real 300 MB model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.errors import CheckpointError
from core.model import checkpoint
from core.model.checkpoint import CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
from core.model.network import C3D_BN, new_model
from core.model.spec import DEFAULT_SPEC, SPORTS1M_SPEC

CLASSES = ("walk", "run", "jump")


def header(override: dict[str, str | None] | None = None) -> dict[str, str]:
    """The on-disk metadata format, spelled out so a change to it is a visible test change."""
    fields: dict[str, str | None] = {
        "c3d_labeller.format_version": "1",
        "c3d_labeller.name": json.dumps("test"),
        "c3d_labeller.class_names": json.dumps(list(CLASSES)),
        "c3d_labeller.input_spec": DEFAULT_SPEC.to_json(),
        "c3d_labeller.created_at": json.dumps("2024-01-01T00:00:00+00:00"),
        "c3d_labeller.parent": "null",
        "c3d_labeller.training": "{}",
    }
    fields.update({f"c3d_labeller.{k}": v for k, v in (override or {}).items()})
    return {k: v for k, v in fields.items() if v is not None}


def write(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None) -> Path:
    save_file(tensors, str(path), metadata=metadata)
    return path


@pytest.fixture(scope="module")
def model() -> C3D_BN:
    return new_model(len(CLASSES), seed=1)


@pytest.fixture(scope="module")
def meta() -> CheckpointMeta:
    return CheckpointMeta.create(
        CLASSES, SPORTS1M_SPEC, parent="abc", training={"epochs": 3, "loss": 0.5}, name="first"
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, model: C3D_BN, meta: CheckpointMeta) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "model.safetensors"
    save_checkpoint(path, model, meta)
    return path


def test_create_stamps_utc_iso_time(meta: CheckpointMeta) -> None:
    stamp = datetime.fromisoformat(meta.created_at)
    assert stamp.utcoffset() == UTC.utcoffset(None)
    assert meta.format_version == 1
    assert meta.class_names == CLASSES
    as_list = CheckpointMeta(list(CLASSES), DEFAULT_SPEC, meta.created_at, None, {})  # type: ignore[arg-type]
    assert as_list.class_names == CLASSES


@pytest.mark.slow
def test_round_trip_keeps_weights_and_meta(saved: Path, model: C3D_BN, meta: CheckpointMeta) -> None:
    loaded, loaded_meta = load_checkpoint(saved, expected_classes=list(CLASSES))
    assert loaded_meta == meta
    assert loaded.num_classes == 3
    assert not loaded.training
    expected = model.state_dict()
    for key, value in loaded.state_dict().items():
        assert value.device.type == "cpu"
        assert torch.equal(value, expected[key]), key
    assert all(p.requires_grad for p in loaded.parameters())


@pytest.mark.slow
def test_read_meta_reads_the_header(saved: Path, meta: CheckpointMeta) -> None:
    assert read_meta(saved) == meta


@pytest.mark.slow
def test_save_overwrites_atomically(
    tmp_path: Path, model: C3D_BN, meta: CheckpointMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, model, meta)
    second = CheckpointMeta.create(CLASSES, DEFAULT_SPEC, parent="first", name="second")
    save_checkpoint(path, model, second)
    assert read_meta(path) == second
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]

    def half_written(tensors: object, filename: str, metadata: object = None) -> None:
        Path(filename).write_bytes(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", half_written)
    with pytest.raises(CheckpointError, match=r"Could not write the model file .*No space left"):
        save_checkpoint(path, model, meta)
    assert read_meta(path) == second
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


@pytest.mark.slow
def test_save_into_missing_folder_is_a_checkpoint_error(tmp_path: Path, model: C3D_BN) -> None:
    meta = CheckpointMeta.create(CLASSES, DEFAULT_SPEC)
    with pytest.raises(CheckpointError, match="Could not write the model file"):
        save_checkpoint(tmp_path / "nowhere" / "m.safetensors", model, meta)


def test_save_rejects_meta_that_does_not_fit_the_model(tmp_path: Path) -> None:
    with torch.device("meta"):
        small = C3D_BN(2)
    with pytest.raises(ValueError, match="3 class names"):
        save_checkpoint(tmp_path / "m.safetensors", small, CheckpointMeta.create(CLASSES, DEFAULT_SPEC))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a folder"):
        read_meta(tmp_path)


def test_pickle_is_not_a_safetensors_file(tmp_path: Path) -> None:
    torch.save({"conv1.weight": torch.zeros(2)}, tmp_path / "c3d.pt")
    with pytest.raises(CheckpointError, match=r"c3d.pt is not a .safetensors model file .*pickle"):
        load_checkpoint(tmp_path / "c3d.pt")


@pytest.mark.parametrize("content", [b"hello, this is a text file\n", b"ab"])
def test_text_is_not_a_safetensors_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "notes.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError, match=r"notes.safetensors is not a .safetensors model file"):
        read_meta(tmp_path / "notes.safetensors")


def test_foreign_safetensors_without_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "x.safetensors", {"w": torch.zeros(1)}, None)
    with pytest.raises(CheckpointError, match="no C3D Labeller metadata"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"input_spec": None}, "lacks the 'input_spec' metadata field"),
        ({"class_names": "[not json"}, "damaged 'class_names'"),
        ({"class_names": "[]"}, "damaged 'class_names'"),
        ({"input_spec": '{"scale": 1}'}, "damaged 'input_spec'"),
        ({"training": "[1]"}, "damaged 'training'"),
        ({"format_version": "2"}, "format 2 by a newer C3D Labeller"),
        ({"class_names": '["a", "b", "a"]'}, "lists the class 'a' more than once"),
    ],
)
def test_bad_metadata(tmp_path: Path, override: dict[str, str | None], words: str) -> None:
    path = write(tmp_path / "m.safetensors", {"fc8.weight": torch.zeros(3, 4096)}, header(override))
    with pytest.raises(CheckpointError, match=words):
        read_meta(path)


def test_class_count_must_match_output_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "m.safetensors", {"fc8.weight": torch.zeros(5, 4096)}, header())
    with pytest.raises(CheckpointError, match="lists 3 class names but its output layer has 5 rows"):
        load_checkpoint(path)


def test_unknown_tensor(tmp_path: Path) -> None:
    tensors = {"fc8.weight": torch.zeros(3, 4096), "fc9.weight": torch.zeros(2)}
    path = write(tmp_path / "m.safetensors", tensors, header())
    with pytest.raises(CheckpointError, match=r"tensors C3D_BN does not have \(.fc9\.weight.\)"):
        load_checkpoint(path)


def test_missing_tensor(tmp_path: Path) -> None:
    path = write(tmp_path / "m.safetensors", {"fc8.weight": torch.zeros(3, 4096)}, header())
    with pytest.raises(CheckpointError, match=r"missing the tensor .conv1\.weight."):
        load_checkpoint(path)


def test_wrong_shape(tmp_path: Path) -> None:
    path = write(tmp_path / "m.safetensors", {"conv1.weight": torch.zeros(64, 3, 3, 3)}, header())
    with pytest.raises(
        CheckpointError, match=r"'conv1.weight' shaped \(64, 3, 3, 3\) where C3D_BN needs \(64, 3, 3, 3, 3\)"
    ):
        load_checkpoint(path)


def test_wrong_dtype(tmp_path: Path) -> None:
    tensors = {"conv1.weight": torch.zeros(64, 3, 3, 3, 3, dtype=torch.int32)}
    path = write(tmp_path / "m.safetensors", tensors, header())
    with pytest.raises(CheckpointError, match=r"'conv1\.weight' of the wrong type I32"):
        load_checkpoint(path)


def test_expected_classes_in_another_order(tmp_path: Path) -> None:
    path = write(tmp_path / "m.safetensors", {"fc8.weight": torch.zeros(3, 4096)}, header())
    with pytest.raises(CheckpointError, match="classes in a different order") as info:
        load_checkpoint(path, expected_classes=["run", "walk", "jump"])
    assert "project: 'run', 'walk', 'jump'" in str(info.value)


def test_expected_classes_that_differ_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "m.safetensors", {"fc8.weight": torch.zeros(3, 4096)}, header())
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, expected_classes=["walk", "run", "swim"])
    message = str(info.value)
    assert "trained for other classes" in message
    assert "lacks the project's 'swim'" in message
    assert "its 'jump' are not in the project" in message
    assert message.count(".") == 2  # "m.safetensors" and the one full stop: one sentence
