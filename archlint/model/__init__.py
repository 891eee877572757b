"""The model as archlint reads it: loaders (ONNX files, and what plugins build), the immutable
graph, dtypes, binding inputs, shape and value resolution, constants and weights, and the source
lines of nodes exported from a model definition."""
