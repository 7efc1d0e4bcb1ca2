"""Speed: the benchmark suites, peaks, time to verdict, bf16 and the GPU check, and
PERFORMANCE.md."""
