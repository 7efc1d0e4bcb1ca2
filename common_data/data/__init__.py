"""The data room: which files, their bytes decoded once, splits, augmentation and batches.

Everything that decides which pixels and labels a twin sees lives here, so both twins get
byte-identical inputs.
"""
