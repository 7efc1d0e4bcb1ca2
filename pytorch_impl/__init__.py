"""The PyTorch twin: the framework half of a run (model, train step, runner, parity probe).

Mirrors `tf_impl` file for file and function for function, so a diff of the two packages
shows every place where the frameworks genuinely differ.
"""
