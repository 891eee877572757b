"""``archlint fix``: rewrites of an ONNX model that remove what some rules report.

One module per fix (``fold_batchnorm``, ``flush_denormals``, ``pad_channels``), each a function
that edits a model proto in place and says how many places it changed. ``driver`` runs the
selected fixes in order and, through ``verify``, keeps a fix only when onnxruntime gives the same
outputs with and without it. ``proto`` holds the graph questions the fixes share. Nothing here
writes the model the user gave: the command writes a new file.
"""
