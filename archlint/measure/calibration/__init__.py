"""Measure this machine with onnxruntime microbenchmarks and write a hardware profile."""
