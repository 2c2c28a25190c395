"""A cluster worker rebuilds exactly the engine the driver chose, pinned to its threads (no Ray)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.analysis.backends.openvino_backend import OpenVinoEngine
from core.analysis.backends.select import BACKEND_ENV_VAR, load_for_analysis
from core.analysis.backends.torch_backend import TorchEngine
from core.cluster.worker import EngineChoice
from core.errors import ClusterError
from core.model.device import DeviceChoice
from core.model.registry import ensure_active_model, load_version

CPU_BF16 = DeviceChoice(torch.device("cpu"), torch.bfloat16, channels_last=True)
GPU = DeviceChoice(torch.device("cuda"), torch.bfloat16, channels_last=True)  # never run here


@pytest.mark.slow
def test_worker_opens_the_drivers_openvino_model_on_one_thread(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    driver = load_for_analysis(store, version, model, CPU_BF16, "fp32")
    assert isinstance(driver.engine, OpenVinoEngine)

    choice = EngineChoice.of(driver.engine, store.files_dir, "fp32")
    assert not Path(choice.xml or "/").is_absolute()  # relative: the files folder may be mounted elsewhere
    worker = choice.build(driver.model, driver.spec, CPU_BF16, store.files_dir, threads=1)
    assert isinstance(worker, OpenVinoEngine)
    assert worker.xml == driver.engine.xml and worker.precision == "fp32"
    assert int(worker._compiled.get_property("INFERENCE_NUM_THREADS")) == 1
    # Unpinned: OpenVINO pins a 1-thread engine to the first core, so two workers shared one.
    assert worker._compiled.get_property("ENABLE_CPU_PINNING") is False


def test_worker_keeps_torch_precision_as_asked(store) -> None:  # type: ignore[no-untyped-def]
    version = ensure_active_model(store)
    model, _ = load_version(store, version)
    driver = load_for_analysis(store, version, model, CPU_BF16, "fp32")  # conftest: PyTorch backend
    choice = EngineChoice.of(driver.engine, store.files_dir, "fp32")
    assert (choice.backend, choice.precision) == ("torch", "fp32")
    worker = choice.build(driver.model, driver.spec, CPU_BF16, store.files_dir, threads=1)
    assert isinstance(worker, TorchEngine) and worker.precision == "fp32"  # no bf16 autocast crept in

    gpu_fp32 = EngineChoice("openvino", "fp32", "fp32", "x.xml").build(
        model, driver.spec, GPU, store.files_dir, None
    )
    assert isinstance(gpu_fp32, TorchEngine) and gpu_fp32.precision == "fp32"
    with pytest.raises(ClusterError, match="int8 runs on CPU workers"):
        EngineChoice("openvino", "int8", "int8", "x.xml").build(
            model, driver.spec, GPU, store.files_dir, None
        )
