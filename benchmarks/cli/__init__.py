"""Commands that compose several concerns (compare, finding, evaluate) and their shared flags;
a command that belongs to one concern lives with it (see benchmarks/__main__.py)."""
