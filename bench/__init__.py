"""qtasks benchmark (see docs/benchmarks.md)."""
