"""PyTorch model definitions as archlint inputs: ``models.py::Net`` or ``package.module:factory``.

The loader imports the definition, builds the module, exports it with the dynamo exporter in memory
and caches the ONNX proto; a map from module paths to the source lines that construct them travels
inside the proto, so findings land on model code. torch is imported only when such a reference
is checked.
"""
