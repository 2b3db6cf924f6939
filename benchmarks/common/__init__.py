"""Helpers the benchmark scripts share: the machine line, result paths, Kim's protocol, the image benchmarks' rows."""
