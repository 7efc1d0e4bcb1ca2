"""The run room: the `Twin` contract, the training loop and its callbacks, the run config,
the result record and its schema, and the twins' entry points.
"""
