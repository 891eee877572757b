"""Measuring with onnxruntime: sessions and timings, profiler traces, kernel-to-node mapping,
predicted-vs-measured results, and calibration of a hardware profile from microbenchmarks."""
