"""The matrix: cells from profiles, their records, and the runners that make them (local or
Ray), with the preflight and data-quality checks run before any training."""
