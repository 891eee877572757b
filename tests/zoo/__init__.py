"""Hand-written reference CNNs (ResNet-50, MobileNetV2, EfficientNet-B0) built from their papers.

They exist to check archlint's cost model against published FLOP and parameter counts, both from
their ONNX exports and, through the PyTorch loader, from the Python definitions themselves.
"""
