"""Framework-free data layer shared by both twins and the harness.

Everything a comparison depends on (bytes, splits, augmentation, metrics, the result
record) lives here once, so the PyTorch and TensorFlow twins cannot drift apart.
"""
