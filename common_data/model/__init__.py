"""The model room: the architecture spec and its layer registry, the shared initial weights,
the float64 NumPy reference, transfer weights, shared dropout masks and the parity probe.
"""
