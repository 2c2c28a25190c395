"""The C3D_BN network, its checkpoints, input spec, devices and the project's model versions."""
