"""COMPARISON.md and its figures, the terminal summary, and the exports, from stored records."""
