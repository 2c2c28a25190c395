"""Hostile and damaged model files: one line naming the file and what is wrong, nothing read
that the file only claims to hold, no NaN weights let in, and one shared untrained model."""

from __future__ import annotations

import json
import struct
import threading
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.errors import CheckpointError
from core.model import sports1m
from core.model.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from core.model.network import C3D_BN
from core.model.registry import ensure_active_model, models_dir
from core.model.spec import DEFAULT_SPEC
from core.store import open_store
from main import main


def _import(capsys: pytest.CaptureFixture[str], db_url: str, path: Path) -> str:
    before = path.read_bytes() if path.is_file() else None
    code = main(["--db", db_url, "import-weights", str(path)])
    _, err = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    if before is not None:
        assert path.read_bytes() == before
    return lines[0]


def _small_checkpoint(path: Path) -> bytes:
    """A real safetensors file with our metadata, small enough to cut in a test."""
    meta = {"c3d_labeller.format_version": "1", "c3d_labeller.class_names": '["a"]'}
    save_file({"fc8.bias": torch.arange(4096, dtype=torch.float32)}, str(path), metadata=meta)
    return path.read_bytes()


def test_a_header_length_far_past_the_end_is_named(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 90_000_000) + b'{"a": 1}')
    line = _import(capsys, db_url, path)
    assert "huge.safetensors" in line and "90,000,000" in line and "cut short" in line


def test_a_cut_checkpoint_says_it_is_cut(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _small_checkpoint(tmp_path / "whole.safetensors")
    path = tmp_path / "cut.safetensors"
    path.write_bytes(whole[: len(whole) // 2])
    line = _import(capsys, db_url, path)
    assert "cut.safetensors" in line and "cut short" in line and f"{len(whole):,}" in line


def test_a_cut_header_is_named_even_without_the_suffix(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _small_checkpoint(tmp_path / "whole.safetensors")
    (header_len,) = struct.unpack("<Q", whole[:8])
    path = tmp_path / "weights.bin"  # not named .safetensors: torch.load would hand it to safetensors
    path.write_bytes(whole[:8] + whole[8 : 8 + header_len // 2] + b"\0" * (header_len // 2 + 64))
    line = _import(capsys, db_url, path)
    assert "weights.bin" in line and "header is damaged" in line


def test_a_folder_is_called_a_folder(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "weights.safetensors"
    folder.mkdir()
    assert "is a folder" in _import(capsys, db_url, folder)


def _zip_declaring(path: Path, declared: int) -> None:
    """A torch-style zip whose directory claims one member unpacks to ``declared`` bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/data/0", b"\0" * 4096)
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.rfind(signature)  # the last entry is archive/data/0 in both tables
        data[at + size_at : at + size_at + 4] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))


def test_a_zip_bomb_is_refused_from_its_directory_before_anything_is_read(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c3d.pt"
    _zip_declaring(path, 0xF000_0000)  # 4 GB

    def must_not_load(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("torch.load ran on a file that declares 4 GB")

    monkeypatch.setattr(sports1m.torch, "load", must_not_load)
    line = _import(capsys, db_url, path)
    assert "c3d.pt" in line and "declares 4,027 MB" in line and "not opened" in line


def test_non_finite_sports1m_weights_are_refused() -> None:
    with torch.device("meta"):
        reference = C3D_BN(1).state_dict()
    # Expanded scalars: the right shapes without 300 MB of memory.
    state = {key: torch.zeros(()).expand(reference[key].shape) for key in sports1m.PRETRAINED_KEYS}
    state["conv3a.bias"] = torch.full((), float("inf")).expand(reference["conv3a.bias"].shape)
    with pytest.raises(CheckpointError, match=r"c3d\.pickle has NaN or infinite values in 'conv3a\.bias'"):
        sports1m._pretrained_tensors(state, "c3d.pickle")


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory, untrained_model: C3D_BN) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "good.safetensors"
    meta = CheckpointMeta.create(["background", "a", "b", "c"], DEFAULT_SPEC, name="good")
    save_checkpoint(path, untrained_model, meta)
    return path


@pytest.mark.slow
def test_non_finite_weights_are_refused_on_import_and_on_load(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], good_checkpoint: Path
) -> None:
    data = bytearray(good_checkpoint.read_bytes())
    (header_len,) = struct.unpack("<Q", data[:8])
    start, _ = json.loads(data[8 : 8 + header_len])["fc8.bias"]["data_offsets"]
    at = 8 + header_len + start + 4 * 2  # the third class's bias
    data[at : at + 4] = struct.pack("<f", float("nan"))
    path = tmp_path / "poisoned.safetensors"
    path.write_bytes(bytes(data))
    line = _import(capsys, db_url, path)
    assert "poisoned.safetensors" in line and "NaN or infinite values in 'fc8.bias'" in line
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_checkpoint(path)
    with open_store(db_url) as store:
        assert store.models.list() == []


def _checkpoints(store) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.name for p in models_dir(store).glob("*.safetensors"))


@pytest.mark.slow
def test_the_untrained_model_is_made_once_per_seed_and_classes(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'l.sqlite3'}") as store:
        first = ensure_active_model(store)
        walk = store.classes.add("walk")
        second = ensure_active_model(store)
        assert second.id != first.id
        store.classes.remove(walk.id)
        third = ensure_active_model(store)  # back to the first classes: the same model again
        assert third.id == first.id
        assert len(_checkpoints(store)) == 2
        assert [m.id for m in store.models.list()] == sorted({first.id, second.id})


def test_two_first_runs_at_once_share_one_untrained_checkpoint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    stores = [open_store(url), open_store(url)]  # as two programs started on one store
    got: list[int] = []
    errors: list[BaseException] = []

    def first_run(store) -> None:  # type: ignore[no-untyped-def]
        try:
            got.append(ensure_active_model(store).id)
        except BaseException as exc:  # collected so the main thread fails the test
            errors.append(exc)

    threads = [threading.Thread(target=first_run, args=(s,)) for s in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(set(got)) == 1
        assert len(_checkpoints(stores[0])) == 1
        assert len(stores[0].models.list()) == 1
    finally:
        for store in stores:
            store.close()
