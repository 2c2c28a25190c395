"""Engines that run the network on batches of clips: PyTorch (GPU, fallback) and OpenVINO (CPU)."""
