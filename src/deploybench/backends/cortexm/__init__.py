"""Arm Cortex-M firmware: generated model code built for an emulated board and run in QEMU."""
