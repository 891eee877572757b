"""Build a corpus of real-world ONNX exports: what the tools people use produce, not hand-written graphs.

Eleven transformers architectures (random weights from a small config object: nothing is
downloaded) are exported through both of torch's exporters, ``torch.onnx.export(dynamo=True)``
and the TorchScript one (``dynamo=False``), with a free batch and, where natural, a free sequence
length or resolution. Some exports are then rewritten the way deployments rewrite them:
onnxruntime's transformer optimizer (fused com.microsoft Attention, SkipLayerNormalization,
FastGelu...), onnxruntime's dynamic and static quantization (QDQ and QOperator formats), and
onnx's version converter down to opsets 11 and 13 (where it has no adapter for an operator, a
TorchScript export at that opset instead; the entry says which). Last come small hand-made
patterns that real exports contain and shape inference finds hard: an If chosen by an input's
shape, an If chosen by a scalar input's value, ``torch.cond``, an OCR model's Reshape to a
sequence computed from Shape/Gather/Concat, outputs declared with ``dim_value: -1``, and a Loop
over an input's length.

Every model is written to ``benchmarks/.models/corpus/`` (ignored by git) with an entry in
``manifest.json`` there: the input shapes to check it at (``inputs``), values of scalar inputs
(``values``), a second binding (``rebind``: batch 4 and, where natural, another length), and
references computed on the same torch module with the same inputs: ``torch_flops`` as
``torch.utils.flop_counter.FlopCounterMode`` reports them (a matrix product's 2*M*N*K), and
``torch_macs``, which is half of that plus the multiply-adds of recurrent layers, which the
counter does not see (nn.LSTM/GRU/RNN run as one fused kernel; ``torch_rnn_macs`` holds that
part). ``torch_params`` is the number of parameter elements (buffers such as BatchNorm running
statistics are ``torch_buffers``). A model that fails to build gets ``error`` instead, and the
build goes on. ``benchmarks/corpus_check.py`` compares archlint with these references.

    python benchmarks/corpus.py [--only bert-dynamo,resnet-torchscript] [--families bert,resnet]
                                [--force] [--size small|real]

Models already in the manifest (built or failed) are skipped unless ``--force``. The default
(small) build takes under two minutes on two cores (~90 MB); ``--size real`` builds the published base sizes
(hundreds of MB each, some with external data).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from _models import MODELS_DIR
from corpus_check import random_feeds
from torch import nn

CORPUS_DIR = MODELS_DIR / "corpus"
MANIFEST = CORPUS_DIR / "manifest.json"
TORCHSCRIPT_OPSET = 17  # LayerNormalization is a single op from 17 on
SEED = 0
# Batch sizes: torch.export specializes a dimension whose example is 0 or 1, so exports trace at 2;
# models are checked at 1 and rebound to 4.
EXPORT_BATCH, CHECK_BATCH, REBIND_BATCH = 2, 1, 4

Feeds = dict[str, torch.Tensor]


# --- references ----------------------------------------------------------------------------------


def _recurrent_macs(module: nn.RNNBase, inputs: tuple[Any, ...]) -> int:
    """Gate multiply-adds of one call of an nn.LSTM/GRU/RNN (input and recurrent products)."""
    x = inputs[0]
    steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
    if x.dim() == 2:  # unbatched
        steps, batch = x.shape[0], 1
    gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
    directions = 2 if module.bidirectional else 1
    total = 0
    for layer in range(module.num_layers):
        fan_in = module.input_size if layer == 0 else module.hidden_size * directions
        total += gates * module.hidden_size * (fan_in + module.hidden_size)
    return int(steps * batch * directions * total)


def torch_reference(module: nn.Module, feeds: Feeds) -> dict[str, int]:
    """FLOPs as FlopCounterMode counts them for one forward pass, plus recurrent multiply-adds.

    FlopCounterMode sees the aten matrix products and convolutions; an nn.LSTM runs as one
    aten::lstm kernel it has no formula for, so a forward hook on every recurrent module adds
    those multiply-adds from its sizes.
    """
    from torch.utils.flop_counter import FlopCounterMode

    rnn_macs = 0

    def count(mod: nn.Module, args: tuple[Any, ...], _out: Any) -> None:
        nonlocal rnn_macs
        assert isinstance(mod, nn.RNNBase)
        rnn_macs += _recurrent_macs(mod, args)

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, nn.RNNBase)]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(*feeds.values())
    finally:
        for hook in hooks:
            hook.remove()
    flops = int(counter.get_total_flops())
    return {"torch_flops": flops, "torch_rnn_macs": rnn_macs, "torch_macs": flops // 2 + rnn_macs}


def torch_sizes(module: nn.Module) -> dict[str, int]:
    """Parameter and buffer elements, each tensor counted once (tied weights are one tensor)."""
    params = {id(p): p.numel() for p in module.parameters()}
    buffers = {id(b): b.numel() for b in module.buffers()}
    return {"torch_params": sum(params.values()), "torch_buffers": sum(buffers.values())}


# --- sources: a module and how to feed it ---------------------------------------------------------


@dataclass
class Source:
    """A torch module ready for export, and the inputs at each binding.

    ``feeds(batch, size)`` returns the inputs in forward's order; ``size`` is the sequence length,
    resolution or sample count (ignored by a model whose size is fixed). ``axes`` names the free
    dimensions of each input, batch included.
    """

    module: nn.Module
    feeds: Callable[[int, int], Feeds]
    size: int
    rebind_size: int
    axes: dict[str, dict[int, str]]
    outputs: list[str]
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # torch.export.Dim bounds
    values: dict[str, int] = field(default_factory=dict)  # scalar inputs' values
    rebind_values: dict[str, int] = field(default_factory=dict)  # and at the rebinding, if other
    int_limits: dict[str, int] = field(default_factory=dict)  # ids must stay below this
    scripted: nn.Module | None = None  # what the TorchScript exporter gets, when not ``module``
    reference: nn.Module | None = None  # what the references run, when not ``module``
    num_heads: int = 0
    hidden: int = 0
    # Why the model cannot run at the rebinding (a size its graph or weights fix): the check
    # then expects archlint to refuse it in one line, as onnxruntime does.
    frozen: str = ""
    export_batch: int = 0  # the batch the exporter traces with (0: EXPORT_BATCH)

    def binding(self, batch: int, size: int | None = None, values: Mapping[str, int] | None = None) -> Feeds:
        """The inputs at ``batch`` and ``size`` (default: the check size), scalars from ``values``
        (default: ``self.values``)."""
        feeds = self.feeds(batch, self.size if size is None else size)
        for name, value in (self.values if values is None else values).items():
            feeds[name] = torch.tensor(value, dtype=feeds[name].dtype)
        return feeds


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


class _Adapter(nn.Module):
    """Calls a transformers model with named inputs and returns its tensor outputs as a tuple.

    Both exporters trace ``forward``'s positional signature, so each input count gets a class
    with that many named arguments (below); the names become the ONNX input names.
    """

    def __init__(self, model: nn.Module, names: tuple[str, ...], keys: tuple[str, ...], **kwargs: Any):
        super().__init__()
        self.model = model
        self.names = names
        self.keys = keys
        self.kwargs = kwargs

    def call(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(**dict(zip(self.names, args, strict=True)), **self.kwargs)
        return tuple(out[k] for k in self.keys)


class _OneInput(_Adapter):
    def forward(self, first: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.call(first)


class _TwoInputs(_Adapter):
    def forward(self, first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.call(first, second)


def _adapt(model: nn.Module, feeds: Callable[[int, int], Feeds], size: int, **kwargs: Any) -> _Adapter:
    """An adapter for ``model`` whose outputs are the tensors the model returns at ``size``."""
    model.eval()
    sample = feeds(CHECK_BATCH, size)
    with torch.no_grad():
        out = model(**sample, **kwargs)
    keys = tuple(k for k, v in out.items() if isinstance(v, torch.Tensor))
    adapter_class = _OneInput if len(sample) == 1 else _TwoInputs
    return adapter_class(model, tuple(sample), keys, **kwargs).eval()


def _text(model: nn.Module, vocab: int, max_len: int, heads: int, hidden: int, **kwargs: Any) -> Source:
    """A token model fed input_ids (below the vocabulary size) and an all-ones attention mask."""

    def feeds(batch: int, seq: int) -> Feeds:
        return {
            "input_ids": torch.randint(0, vocab, (batch, seq), generator=_generator()),
            "attention_mask": torch.ones(batch, seq, dtype=torch.int64),
        }

    adapter = _adapt(model, feeds, 16, **kwargs)
    axes = {"batch": 0, "seq": 1}
    return Source(
        adapter,
        feeds,
        size=16,
        rebind_size=32,
        axes={name: {v: k for k, v in axes.items()} for name in ("input_ids", "attention_mask")},
        outputs=list(adapter.keys),
        ranges={"seq": (2, max_len)},
        int_limits={"input_ids": vocab},
        num_heads=heads,
        hidden=hidden,
    )


def _image(
    model: nn.Module, channels: int, size: int, free_size: bool, heads: int = 0, hidden: int = 0
) -> Source:
    """An image model fed pixel_values; ``free_size``: height and width are free too."""

    def feeds(batch: int, side: int) -> Feeds:
        return {"pixel_values": torch.randn(batch, channels, side, side, generator=_generator())}

    adapter = _adapt(model, feeds, size)
    axes = {0: "batch", 2: "height", 3: "width"} if free_size else {0: "batch"}
    return Source(
        adapter,
        feeds,
        size=size,
        rebind_size=size + size // 2 if free_size else size,
        axes={"pixel_values": axes},
        outputs=list(adapter.keys),
        ranges={"height": (32, 1024), "width": (32, 1024)},
        num_heads=heads,
        hidden=hidden,
    )


def _small(real: bool, small: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Config arguments: the small ones, or the published base size (a config's defaults)."""
    return {**((base or {}) if real else small), "attn_implementation": "eager"}


def _bert(real: bool) -> Source:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        **_small(
            real,
            {
                "vocab_size": 1000,
                "hidden_size": 128,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "intermediate_size": 512,
                "max_position_embeddings": 128,
            },
        )
    )
    return _text(
        BertModel(config),
        config.vocab_size,
        config.max_position_embeddings,
        config.num_attention_heads,
        config.hidden_size,
    )


def _gpt2(real: bool) -> Source:
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(
        **_small(real, {"vocab_size": 1000, "n_embd": 128, "n_layer": 2, "n_head": 4, "n_positions": 128})
    )
    return _text(
        GPT2Model(config),
        config.vocab_size,
        config.n_positions,
        config.n_head,
        config.n_embd,
        use_cache=False,
    )


def _llama(real: bool) -> Source:
    """LLaMA with grouped-query attention: 2 key/value heads for 4 query heads (8 for 32 real)."""
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(
        **_small(
            real,
            {
                "vocab_size": 1000,
                "hidden_size": 128,
                "intermediate_size": 344,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "max_position_embeddings": 256,
            },
            # Llama 3.2 1B's shape
            {
                "vocab_size": 128256,
                "hidden_size": 2048,
                "intermediate_size": 8192,
                "num_hidden_layers": 16,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "max_position_embeddings": 4096,
                "tie_word_embeddings": True,
            },
        )
    )
    return _text(
        LlamaModel(config),
        config.vocab_size,
        config.max_position_embeddings,
        config.num_attention_heads,
        config.hidden_size,
        use_cache=False,
    )


def _t5(real: bool) -> Source:
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        **_small(
            real,
            {"vocab_size": 1000, "d_model": 128, "d_kv": 32, "d_ff": 256, "num_layers": 2, "num_heads": 4},
        )
    )
    return _text(T5EncoderModel(config), config.vocab_size, 512, config.num_heads, config.d_model)


def _vit(real: bool) -> Source:
    from transformers import ViTConfig, ViTModel

    small = {
        "image_size": 64,
        "patch_size": 8,
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 256,
    }
    config = ViTConfig(**_small(real, small))
    return _image(
        ViTModel(config), 3, config.image_size, False, config.num_attention_heads, config.hidden_size
    )


def _swin(real: bool) -> Source:
    from transformers import SwinConfig, SwinModel

    small = {"image_size": 64, "patch_size": 4, "embed_dim": 32, "depths": [2, 2], "num_heads": [2, 4]}
    config = SwinConfig(**_small(real, {**small, "window_size": 4}))
    return _image(SwinModel(config), 3, config.image_size, False, config.num_heads[0], config.embed_dim)


def _convnext(real: bool) -> Source:
    from transformers import ConvNextConfig, ConvNextModel

    config = ConvNextConfig(**_small(real, {"hidden_sizes": [32, 64, 128, 256], "depths": [1, 1, 2, 1]}))
    return _image(ConvNextModel(config), 3, 64 if not real else 224, True)


def _resnet(real: bool) -> Source:
    from transformers import ResNetConfig, ResNetModel

    small = {"embedding_size": 32, "hidden_sizes": [32, 64, 128, 256], "depths": [1, 1, 1, 1]}
    config = ResNetConfig(**_small(real, {**small, "layer_type": "basic"}))
    return _image(ResNetModel(config), 3, 64 if not real else 224, True)


def _mobilevit(real: bool) -> Source:
    from transformers import MobileViTConfig, MobileViTModel

    # MobileViT-XXS's widths (a small model already); the real size is the default, MobileViT-S.
    xxs = {
        "image_size": 64,
        "hidden_sizes": [64, 80, 96],
        "neck_hidden_sizes": [16, 16, 24, 48, 64, 80, 320],
        "expand_ratio": 2.0,
    }
    config = MobileViTConfig(**_small(real, xxs))
    return _image(MobileViTModel(config), 3, config.image_size, False)


def _whisper(real: bool) -> Source:
    """Whisper's encoder, which accepts exactly 2 * max_source_positions frames."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    small = {
        "num_mel_bins": 80,
        "d_model": 128,
        "encoder_layers": 2,
        "encoder_attention_heads": 4,
        "encoder_ffn_dim": 256,
        "max_source_positions": 50,
    }
    config = WhisperConfig(**_small(real, small))
    frames = 2 * config.max_source_positions

    def feeds(batch: int, _size: int) -> Feeds:
        return {"input_features": torch.randn(batch, config.num_mel_bins, frames, generator=_generator())}

    adapter = _adapt(WhisperEncoder(config), feeds, frames)
    return Source(
        adapter,
        feeds,
        size=frames,
        rebind_size=frames,
        axes={"input_features": {0: "batch"}},
        outputs=list(adapter.keys),
        num_heads=config.encoder_attention_heads,
        hidden=config.d_model,
    )


def _wav2vec2(real: bool) -> Source:
    """wav2vec 2.0 on raw audio; its conv feature extractor strides by 320 samples."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    small = {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "conv_dim": [32] * 7,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
    }
    config = Wav2Vec2Config(**_small(real, small))

    def feeds(batch: int, samples: int) -> Feeds:
        return {"input_values": torch.randn(batch, samples, generator=_generator())}

    adapter = _adapt(Wav2Vec2Model(config), feeds, 4000)
    return Source(
        adapter,
        feeds,
        size=4000,
        rebind_size=8000,
        axes={"input_values": {0: "batch", 1: "samples"}},
        outputs=list(adapter.keys),
        ranges={"samples": (800, 480000)},
        num_heads=config.num_attention_heads,
        hidden=config.hidden_size,
    )


# Object detectors: a CNN backbone with a transformer head (DETR), a plain ViT detector (YOLOS),
# and RT-DETR, whose hybrid encoder is a YOLO-style neck of Conv + BatchNorm + SiLU blocks.
_DETECTOR_BACKBONE = {"embedding_size": 32, "hidden_sizes": [32, 64, 128, 256], "depths": [1, 1, 1, 1]}
_DETECTOR_HEAD = {"num_labels": 10, "encoder_attention_heads": 4, "decoder_attention_heads": 4}


def _detr(real: bool) -> Source:
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    backbone = ResNetConfig(**_DETECTOR_BACKBONE, layer_type="basic", out_features=["stage4"])
    small = {
        "d_model": 64,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_ffn_dim": 128,
        "decoder_ffn_dim": 128,
        "num_queries": 20,
        **_DETECTOR_HEAD,
    }
    base = {"backbone_config": ResNetConfig(out_features=["stage4"])}  # ResNet-50, as published
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        **_small(real, {**small, "backbone_config": backbone}, base),
    )
    return _image(DetrForObjectDetection(config), 3, 64 if not real else 512, False)


def _yolos(real: bool) -> Source:
    from transformers import YolosConfig, YolosForObjectDetection

    small = {
        "image_size": [64, 64],
        "patch_size": 8,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "num_detection_tokens": 10,
        "num_labels": 10,
    }
    config = YolosConfig(**_small(real, small))
    return _image(YolosForObjectDetection(config), 3, config.image_size[0], False, config.num_attention_heads)


def _rtdetr(real: bool) -> Source:
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrResNetConfig

    backbone = RTDetrResNetConfig(
        **_DETECTOR_BACKBONE, layer_type="basic", out_features=["stage2", "stage3", "stage4"]
    )
    small = {
        "backbone_config": backbone,
        "encoder_hidden_dim": 64,
        "encoder_in_channels": [64, 128, 256],
        "decoder_in_channels": [64, 64, 64],
        "d_model": 64,
        "decoder_layers": 2,
        "encoder_ffn_dim": 128,
        "decoder_ffn_dim": 128,
        "num_queries": 50,
        "num_denoising": 0,
        **_DETECTOR_HEAD,
    }
    config = RTDetrConfig(**_small(real, small))
    return _image(RTDetrForObjectDetection(config), 3, 64 if not real else 640, False)


@dataclass(frozen=True)
class Family:
    """An architecture, and which rewrites its exports get."""

    name: str
    make: Callable[[bool], Source]
    ort_type: str | None = None  # onnxruntime.transformers.optimizer model_type
    quantize: bool = False
    downgrade: bool = False  # convert the TorchScript export to opsets 11 and 13


FAMILIES = (
    Family("bert", _bert, ort_type="bert", quantize=True, downgrade=True),
    Family("gpt2", _gpt2, ort_type="gpt2", downgrade=True),
    Family("llama", _llama),
    Family("t5", _t5, ort_type="t5"),
    Family("vit", _vit, ort_type="vit"),
    Family("swin", _swin, ort_type="swin"),
    Family("convnext", _convnext, downgrade=True),
    Family("resnet", _resnet, quantize=True, downgrade=True),
    Family("mobilevit", _mobilevit, downgrade=True),
    Family("whisper", _whisper, ort_type="bart", downgrade=True),
    Family("wav2vec2", _wav2vec2, downgrade=True),
    Family("detr", _detr),
    Family("yolos", _yolos),
    Family("rtdetr", _rtdetr),
)


# --- exporters ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence exporter and quantizer chatter (progress lines, warnings, log records)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _axes(source: Source, batch_only: bool) -> dict[str, dict[int, str]]:
    return {
        name: {axis: dim for axis, dim in axes.items() if dim == "batch" or not batch_only}
        for name, axes in source.axes.items()
    }


def export_dynamo(source: Source, path: Path, batch_only: bool, external: bool) -> None:
    """torch.onnx.export(dynamo=True) with a torch.export.Dim for every free dimension."""
    example = source.binding(source.export_batch or EXPORT_BATCH)
    dims: dict[str, Any] = {}
    for name, (low, high) in {"batch": (1, 4096), **source.ranges}.items():
        dims[name] = torch.export.Dim(name, min=low, max=high)
    axes = _axes(source, batch_only)
    shapes = tuple({axis: dims[dim] for axis, dim in axes.get(name, {}).items()} or None for name in example)
    with _quiet():
        program = torch.onnx.export(
            source.module,
            tuple(example.values()),
            dynamo=True,
            input_names=list(example),
            output_names=source.outputs,
            dynamic_shapes=shapes,
        )
        assert program is not None
        program.save(str(path), external_data=external)


def export_torchscript(source: Source, path: Path, batch_only: bool, opset: int = TORCHSCRIPT_OPSET) -> None:
    """torch.onnx.export(dynamo=False): traced, or scripted where ``source.scripted`` says."""
    example = source.binding(source.export_batch or EXPORT_BATCH)
    with _quiet():
        torch.onnx.export(
            source.scripted or source.module,
            tuple(example.values()),
            str(path),
            dynamo=False,
            input_names=list(example),
            output_names=source.outputs,
            dynamic_axes={k: v for k, v in _axes(source, batch_only).items() if v},
            opset_version=opset,
        )


def _export(source: Source, path: Path, exporter: str, batch_only: bool, external: bool) -> None:
    if exporter == "dynamo":
        export_dynamo(source, path, batch_only, external)
    else:
        export_torchscript(source, path, batch_only)


def export_plain(
    source: Source, path: Path, name: str, family: str, exporter: str, external: bool
) -> dict[str, Any]:
    """Export with every natural dimension free; if the exporter fails, again with only the batch
    free (the entry keeps the first error and its rebinding changes the batch only)."""
    try:
        _export(source, path, exporter, False, external)
    except Exception as error:
        if all(len(axes) <= 1 for axes in source.axes.values()):
            raise
        _export(source, path, exporter, True, external)
        _refuse_frozen_batch(path, source)
        return {**base_entry(name, family, exporter, "plain", source, True), "first_error": _one_line(error)}
    _refuse_frozen_batch(path, source)
    return base_entry(name, family, exporter, "plain", source, False)


def _refuse_frozen_batch(path: Path, source: Source) -> None:
    """An export that fixed the batch it was asked to leave free (torch.export specialises a
    dimension a guard pins) is no export of this model: fail it, saying so."""
    graph = onnx.load(str(path), load_external_data=False).graph
    for tensor in graph.input:
        if 0 in source.axes.get(tensor.name, {}):
            batch = tensor.type.tensor_type.shape.dim[0]
            if batch.HasField("dim_value"):
                fixed = batch.dim_value
                raise ValueError(f"the exporter fixed the batch of input {tensor.name!r} to {fixed}")


# --- manifest entries -----------------------------------------------------------------------------


def _shapes(feeds: Feeds) -> dict[str, list[int]]:
    return {name: list(t.shape) for name, t in feeds.items()}


def _dtypes(feeds: Feeds) -> dict[str, str]:
    return {name: str(t.numpy().dtype) for name, t in feeds.items()}


def _onnx_facts(path: Path) -> dict[str, Any]:
    model = onnx.load(str(path), load_external_data=False)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    return {"ops": len(model.graph.node), "opset": opsets.get("ai.onnx", 0), "producer": model.producer_name}


class Builder:
    """Builds the models one at a time, recording each in the manifest as soon as it is done."""

    def __init__(self, real: bool, force: bool, folder: Path = CORPUS_DIR) -> None:
        self.real = real
        self.force = force
        self.folder = folder
        self.manifest_path = folder / MANIFEST.name
        self.manifest: dict[str, dict[str, Any]] = {}
        if self.manifest_path.exists():
            stored = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            self.manifest = {e["name"]: e for e in stored.get("models", [])}
        self.built = 0
        self.failed = 0

    def done(self, name: str) -> bool:
        """Whether ``name`` was built (its file still there) or failed before, and may be skipped."""
        entry = self.manifest.get(name)
        if entry is None or self.force:
            return False
        return "error" in entry or (self.folder / entry["path"]).exists()

    def available(self, name: str) -> bool:
        """Whether ``name`` was built and its file is there: usable as the source of a rewrite."""
        entry = self.manifest.get(name)
        return entry is not None and "error" not in entry and (self.folder / entry["path"]).exists()

    def record(self, entry: dict[str, Any]) -> None:
        self.manifest[entry["name"]] = entry
        self.folder.mkdir(parents=True, exist_ok=True)
        document = {
            "versions": {
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": _version("onnxruntime"),
                "transformers": _version("transformers"),
            },
            "models": sorted(self.manifest.values(), key=lambda e: e["name"]),
        }
        partial = self.manifest_path.with_suffix(".partial")
        partial.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        partial.replace(self.manifest_path)
        status = f"FAILED: {entry['error']}" if "error" in entry else f"{entry.get('ops', '?')} nodes"
        print(f"  {entry['name']:<40} {entry.get('seconds', 0):6.1f}s  {status}", flush=True)
        if "error" in entry:
            self.failed += 1
        else:
            self.built += 1

    def attempt(self, entry: dict[str, Any], build: Callable[[Path], dict[str, Any] | None]) -> None:
        """Run ``build(path)``, record the entry with what it returns, or with the error it raised."""
        path = self.folder / entry["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            extra = build(path) or {}
            entry.update(extra)
            entry.update(_onnx_facts(path))
        except Exception as error:  # one model's failure is a finding, not the end of the build
            entry["error"] = _one_line(error)
            entry["traceback"] = traceback.format_exc(limit=-4)
            path.unlink(missing_ok=True)
        entry["seconds"] = round(time.perf_counter() - start, 2)
        self.record(entry)


def _version(module: str) -> str:
    try:
        return str(__import__(module).__version__)
    except ImportError:
        return "missing"


def _one_line(error: BaseException) -> str:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # exporters colour their messages
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(error).__name__}: {text}"[:300]


def base_entry(
    name: str, family: str, exporter: str, variant: str, source: Source, batch_only: bool
) -> dict[str, Any]:
    """Manifest fields that come from the torch source: bindings and references."""
    check = source.binding(CHECK_BATCH)
    rebind_size = source.size if batch_only else source.rebind_size
    rebind = source.binding(REBIND_BATCH, rebind_size, source.rebind_values or None)
    reference = source.reference or source.module
    entry: dict[str, Any] = {
        "name": name,
        "family": family,
        "exporter": exporter,
        "variant": variant,
        "path": f"{name}.onnx",
        "inputs": _shapes(check),
        "dtypes": _dtypes(check),
        "rebind": _shapes(rebind),
        "int_limits": source.int_limits,
        "outputs": source.outputs,
        "num_heads": source.num_heads,
        "hidden": source.hidden,
        **torch_sizes(reference),
        **torch_reference(reference, check),
    }
    if source.values:
        entry["values"] = source.values
    if source.rebind_values:
        entry["rebind_values"] = source.rebind_values
    if source.frozen:  # torch cannot run it at the rebinding either: no reference there
        entry["frozen"] = source.frozen
        return entry
    rebound = torch_reference(reference, rebind)
    entry["torch_macs_rebind"] = rebound["torch_macs"]
    if batch_only and any(len(a) > 1 for a in source.axes.values()):
        entry["batch_only"] = True
        entry["note"] = "only the batch is free: the export failed with the other dimensions free"
    return entry


def derived_entry(source_entry: dict[str, Any], name: str, variant: str) -> dict[str, Any]:
    """An entry for a rewrite of ``source_entry``'s file: same bindings and references."""
    inherited = {
        k: v
        for k, v in source_entry.items()
        if k not in ("name", "path", "ops", "opset", "producer", "seconds", "error", "traceback")
    }
    return {
        **inherited,
        "name": name,
        "variant": variant,
        "path": f"{name}.onnx",
        "source": source_entry["name"],
    }


# --- rewrites ---------------------------------------------------------------------------------------


def ort_optimize(source_path: Path, path: Path, model_type: str, heads: int, hidden: int) -> dict[str, Any]:
    """onnxruntime's transformer optimizer at its default level for ``model_type``."""
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet():
        optimized = optimize_model(
            str(source_path), model_type=model_type, num_heads=heads, hidden_size=hidden
        )
        optimized.save_model_to_file(str(path))
    fused = sorted({n.op_type for n in optimized.model.graph.node if n.domain == "com.microsoft"})
    return {"contrib_ops": fused}


def _calibration(entry: dict[str, Any], samples: int = 4) -> Any:
    """A CalibrationDataReader of a few random inputs at the entry's check binding."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.feeds = iter([random_feeds(entry, entry["inputs"], seed=seed) for seed in range(samples)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    return Reader()


def quantize(source_path: Path, path: Path, variant: str, entry: dict[str, Any]) -> dict[str, Any]:
    """onnxruntime.quantization: dynamic (int8 weights), or static in QDQ or QOperator format."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    def run(model_input: Path) -> None:
        with _quiet():
            if variant == "quant-dynamic":
                quantize_dynamic(str(model_input), str(path), weight_type=QuantType.QInt8)
            else:
                quant_format = QuantFormat.QDQ if variant == "quant-qdq" else QuantFormat.QOperator
                quantize_static(
                    str(model_input),
                    str(path),
                    _calibration(entry),
                    quant_format=quant_format,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                )

    extra: dict[str, Any] = {}
    try:
        run(source_path)
    except Exception as error:  # the quantizer asks for its pre-processing pass: retry after it
        from onnxruntime.quantization.shape_inference import quant_pre_process

        prepared = path.with_suffix(".prep.onnx")
        with _quiet():
            quant_pre_process(str(source_path), str(prepared))
        try:
            run(prepared)
        finally:
            prepared.unlink(missing_ok=True)
        extra = {"note": f"quantized after quant_pre_process; without it: {_one_line(error)}"}
    model = onnx.load(str(path), load_external_data=False)
    quant = {n.op_type for n in model.graph.node if "quant" in n.op_type.lower() or n.op_type.startswith("Q")}
    quant |= {n.op_type for n in model.graph.node if "Integer" in n.op_type}
    return {**extra, "quant_ops": sorted(quant)}


def downgrade(
    source_path: Path, path: Path, opset: int, reexport: Callable[[Path, int], None]
) -> dict[str, Any]:
    """onnx.version_converter to ``opset``, then onnx.checker (the converter can emit invalid graphs).

    The converter has no way down for some operators (LayerNormalization was born at 17, and it
    has no adapter for Identity-14/16); then the model is exported again by TorchScript directly
    at ``opset`` (``reexport``), the other way people get an old-opset file, and the entry's
    ``converter_error`` says why.
    """
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(onnx.load(str(source_path)), opset)
        onnx.checker.check_model(converted)
    except Exception as error:
        reexport(path, opset)
        onnx.checker.check_model(str(path))
        return {
            "converter_error": _one_line(error),
            "note": f"exported by TorchScript at opset {opset}: the version converter failed",
        }
    onnx.save(converted, str(path))
    return {}


# --- hand-made patterns -----------------------------------------------------------------------------


class _VadLike(nn.Module):
    """A voice-activity detector whose front end depends on the window length (an input's shape):
    512-sample windows (16 kHz) and 256-sample ones (8 kHz) get their own conv stack."""

    def __init__(self) -> None:
        super().__init__()
        self.front16 = nn.Sequential(
            nn.Conv1d(1, 32, 64, stride=32), nn.ReLU(), nn.Conv1d(32, 32, 3, padding=1)
        )
        self.front8 = nn.Sequential(
            nn.Conv1d(1, 32, 32, stride=16), nn.ReLU(), nn.Conv1d(32, 32, 3, padding=1)
        )
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.head = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.front16(x.unsqueeze(1)) if x.size(1) == 512 else self.front8(x.unsqueeze(1))
        hidden, _ = self.lstm(features.transpose(1, 2))
        return torch.sigmoid(self.head(hidden[:, -1]))


class _RateSwitch(nn.Module):
    """The same detector with the sample rate as a scalar input, as Silero VAD takes it. The
    8 kHz branch is the costlier one, so a reader that cannot see the value of ``sr`` and falls
    back to the costlier branch is caught out; the rebinding switches to 8 kHz."""

    def __init__(self) -> None:
        super().__init__()
        self.front16 = nn.Sequential(nn.Conv1d(1, 32, 64, stride=32), nn.ReLU())
        self.front8 = nn.Sequential(
            nn.Conv1d(1, 32, 32, stride=32),
            nn.ReLU(),
            nn.Conv1d(32, 128, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(128, 32, 5, padding=2),
        )
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.head = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        features = self.front16(x.unsqueeze(1)) if bool(sr == 16000) else self.front8(x.unsqueeze(1))
        hidden, _ = self.lstm(features.transpose(1, 2))
        return torch.sigmoid(self.head(hidden[:, -1]))


class _BatchSwitch(nn.Module):
    """torch.cond on the batch size: batches above 2 take a wider MLP."""

    def __init__(self) -> None:
        super().__init__()
        self.narrow = nn.Linear(64, 64)
        self.wide = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cond(x.size(0) > 2, self.wide, self.narrow, (x,))


class _Crnn(nn.Module):
    """CRNN text recognizer: a CNN collapses a 32-pixel line image to a width-long sequence of
    features (view + permute), a bidirectional LSTM reads it, a Linear scores the characters."""

    def __init__(self, classes: int = 37) -> None:
        super().__init__()

        def block(cin: int, cout: int, pool: tuple[int, int]) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(pool)]

        self.cnn = nn.Sequential(*block(1, 32, (2, 2)), *block(32, 64, (2, 2)), *block(64, 128, (2, 1)))
        self.rnn = nn.LSTM(128 * 4, 128, bidirectional=True)
        self.fc = nn.Linear(256, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cnn(x)
        b, c, h, w = features.size()
        sequence = features.view(b, c * h, w).permute(2, 0, 1)
        out, _ = self.rnn(sequence)
        return self.fc(out)


class _StepLoop(nn.Module):
    """A hand-written RNN cell stepped over the input's time axis (a Loop once scripted)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(16, 64)
        self.rec = nn.Linear(64, 64, bias=False)
        self.out = nn.Linear(64, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(x.size(0), 64)
        for i in range(x.size(1)):
            h = torch.tanh(self.inp(x[:, i]) + self.rec(h))
        return self.out(h)


class _TokenMixer(nn.Module):
    """An MLP-Mixer block: 16x16 patches, then a Linear across the tokens, whose weight fixes
    the token count and so the resolution, whatever the export declares free."""

    def __init__(self, tokens: int = 16) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, 64, 16, stride=16)
        self.mix = nn.Linear(tokens, tokens)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patches(x).flatten(2)  # (batch, 64, tokens)
        return self.head(self.mix(tokens).mean(-1))


class _SmallCnn(nn.Module):
    """Conv, pool, flatten to (batch, features), Linear: exported without dynamic shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).view(x.size(0), -1))


def _pattern_source(
    module: nn.Module,
    shape: Callable[[int, int], tuple[int, ...]],
    size: int,
    rebind_size: int,
    axes: dict[int, str],
    ranges: dict[str, tuple[int, int]] | None = None,
    script: bool = False,
    outputs: tuple[str, ...] = ("y",),
    frozen: str = "",
    export_batch: int = 0,
) -> Source:
    """A single-input pattern fed standard normal floats of ``shape(batch, size)``."""
    module.eval()

    def feeds(batch: int, n: int) -> Feeds:
        return {"x": torch.randn(*shape(batch, n), generator=_generator())}

    return Source(
        module,
        feeds,
        size=size,
        rebind_size=rebind_size,
        axes={"x": axes},
        outputs=list(outputs),
        ranges=ranges or {},
        scripted=torch.jit.script(module) if script else None,
        frozen=frozen,
        export_batch=export_batch,
    )


def _rate_switch() -> Source:
    module = _RateSwitch().eval()

    def feeds(batch: int, samples: int) -> Feeds:
        return {"x": torch.randn(batch, samples, generator=_generator()), "sr": torch.tensor(16000)}

    return Source(
        module,
        feeds,
        size=512,
        rebind_size=512,
        axes={"x": {0: "batch"}},
        outputs=["prob"],
        values={"sr": 16000},
        rebind_values={"sr": 8000},
        scripted=torch.jit.script(module),
    )


def _declare_minus_one(source_path: Path, path: Path) -> dict[str, Any]:
    """The export with every symbolic dimension of its outputs and value_info written as
    ``dim_value: -1``, which is how Paddle's exporter declares a dimension it does not know."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(source_path)))
    patched = 0
    for value in [*model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") or not dim.HasField("dim_value"):
                dim.Clear()
                dim.dim_value = -1
                patched += 1
    onnx.save(model, str(path))
    return {"patched_dims": patched}


@dataclass(frozen=True)
class Pattern:
    name: str
    exporter: str
    make: Callable[[], Source]
    what: str


PATTERNS = (
    Pattern(
        "vad-shape-if",
        "torchscript",
        lambda: _pattern_source(
            _VadLike(),
            lambda b, n: (b, n),
            512,
            256,
            {0: "batch", 1: "samples"},
            script=True,
            outputs=("prob",),
        ),
        "Shape -> Gather -> Equal -> If on the window length, Conv stacks in the branches, then LSTM",
    ),
    Pattern("vad-scalar-if", "torchscript", _rate_switch, "Equal(sr, 16000) -> If on a rank-0 int64 input"),
    Pattern(
        "cond",
        "dynamo",
        lambda: _pattern_source(_BatchSwitch(), lambda b, n: (b, n), 64, 64, {0: "batch"}),
        "torch.cond on the batch size (> 2 takes the wider branch)",
    ),
    Pattern(
        "crnn",
        "torchscript",
        lambda: _pattern_source(
            _Crnn(), lambda b, n: (b, 1, 32, n), 128, 256, {0: "batch", 3: "width"}, {"width": (32, 4096)}
        ),
        "CNN -> Reshape to a sequence from Shape/Gather/Concat -> bidirectional LSTM -> Linear",
    ),
    Pattern(
        "crnn",
        "dynamo",
        lambda: _pattern_source(
            _Crnn(), lambda b, n: (b, 1, 32, n), 128, 256, {0: "batch", 3: "width"}, {"width": (32, 4096)}
        ),
        "CNN -> Reshape to a sequence -> bidirectional LSTM -> Linear",
    ),
    Pattern(
        "mixer",
        "torchscript",
        lambda: _pattern_source(
            _TokenMixer(),
            lambda b, n: (b, 3, n, n),
            64,
            96,
            {0: "batch", 2: "height", 3: "width"},
            frozen="the token-mixing Linear's weight is sized for 16 tokens (64x64 pixels)",
        ),
        "patches -> Linear across tokens: the weight fixes the resolution the export declares free",
    ),
    Pattern(
        "static-cnn",
        "dynamo",
        lambda: _pattern_source(
            _SmallCnn(),
            lambda b, n: (b, 3, n, n),
            32,
            32,
            {},
            frozen="exported without dynamic shapes: the traced batch of 1 is part of the graph",
            export_batch=1,
        ),
        "a dynamo export with static shapes, rebound to batch 4",
    ),
    Pattern(
        "step-loop",
        "torchscript",
        lambda: _pattern_source(
            _StepLoop(), lambda b, n: (b, n, 16), 10, 20, {0: "batch", 1: "steps"}, script=True
        ),
        "Loop whose trip count is x.size(1)",
    ),
)


# --- the build ---------------------------------------------------------------------------------------


def _seed_everything() -> None:
    torch.manual_seed(SEED)
    np.random.seed(SEED)  # transformers' initializers may draw from numpy's global generator


def build_family(builder: Builder, family: Family, wanted: Callable[[str], bool]) -> None:
    """Both exports of ``family``, then the rewrites of them that are wanted and not built yet."""
    suffix = "-real" if builder.real else ""
    name = f"{family.name}{suffix}"
    exports = [f"{name}-dynamo", f"{name}-torchscript"]
    rewrites: list[tuple[str, str, str]] = []  # (model name, source model, variant)
    for export in exports:
        if family.ort_type:
            rewrites.append((f"{export}-ort-opt", export, "ort-opt"))
        if family.quantize:
            rewrites += [(f"{export}-{v}", export, v) for v in ("quant-dynamic", "quant-qdq", "quant-qop")]
    if family.downgrade:
        rewrites += [(f"{name}-torchscript-opset{o}", f"{name}-torchscript", f"opset{o}") for o in (11, 13)]
    todo_rewrites = [r for r in rewrites if wanted(r[0]) and not builder.done(r[0])]
    needed = {src for _, src, _ in todo_rewrites}
    todo_exports = [
        e
        for e in exports
        if (wanted(e) and not builder.done(e)) or (e in needed and not builder.available(e))
    ]
    if not todo_exports and not todo_rewrites:
        return
    print(f"{name}:", flush=True)
    source: Source | None = None
    if todo_exports:
        _seed_everything()
        start = time.perf_counter()
        try:
            source = family.make(builder.real)
        except Exception as error:
            for export in todo_exports:
                entry = {"name": export, "family": family.name, "exporter": export.rsplit("-", 1)[1]}
                entry.update({"variant": "plain", "path": f"{export}.onnx", "error": _one_line(error)})
                entry["seconds"] = round(time.perf_counter() - start, 2)
                builder.record(entry)
            return
    for export in todo_exports:
        assert source is not None
        exporter = export.rsplit("-", 1)[1]
        entry = {"name": export, "family": family.name, "exporter": exporter, "variant": "plain"}
        entry["path"] = f"{export}.onnx"
        builder.attempt(
            entry,
            lambda p, e=entry, s=source: export_plain(
                s, p, e["name"], family.name, e["exporter"], builder.real
            ),
        )
    for rewrite, src_name, variant in todo_rewrites:
        src_entry = builder.manifest.get(src_name)
        if src_entry is None or "error" in src_entry:
            reason = src_entry["error"] if src_entry else "not built"
            entry = {"name": rewrite, "family": family.name, "variant": variant, "path": f"{rewrite}.onnx"}
            entry.update({"source": src_name, "error": f"source {src_name} failed: {reason}"})
            builder.record(entry)
            continue
        entry = derived_entry(src_entry, rewrite, variant)
        src_path = builder.folder / src_entry["path"]
        if variant == "ort-opt":
            assert family.ort_type is not None
            ort_type = family.ort_type
            heads, hidden = src_entry["num_heads"], src_entry["hidden"]
            builder.attempt(
                entry, lambda p, s=src_path, t=ort_type, h=heads, d=hidden: ort_optimize(s, p, t, h, d)
            )
        elif variant.startswith("quant"):
            builder.attempt(entry, lambda p, s=src_path, v=variant, e=entry: quantize(s, p, v, e))
        else:
            opset = int(variant.removeprefix("opset"))
            batch_only = bool(src_entry.get("batch_only"))  # as the source was exported

            def reexport(path: Path, opset: int, batch_only: bool = batch_only) -> None:
                nonlocal source
                if source is None:
                    _seed_everything()
                    source = family.make(builder.real)
                export_torchscript(source, path, batch_only, opset=opset)

            builder.attempt(entry, lambda p, s=src_path, o=opset, r=reexport: downgrade(s, p, o, r))


def build_patterns(builder: Builder, wanted: Callable[[str], bool]) -> None:
    for pattern in PATTERNS:
        name = f"{pattern.name}-{pattern.exporter}"
        if not wanted(name) and not (pattern.name == "crnn" and wanted("dim-minus-one")):
            continue
        if not builder.done(name):
            print(f"{name}:", flush=True)
            _seed_everything()
            entry = {"name": name, "family": "pattern", "exporter": pattern.exporter, "variant": "pattern"}
            entry.update({"path": f"{name}.onnx", "pattern": pattern.what})

            def build(path: Path, pattern: Pattern = pattern, name: str = name) -> dict[str, Any]:
                source = pattern.make()
                if pattern.exporter == "dynamo":
                    export_dynamo(source, path, False, external=False)
                else:
                    export_torchscript(source, path, False)
                return base_entry(name, "pattern", pattern.exporter, "pattern", source, False)

            builder.attempt(entry, build)
    # Outputs and value_info declared with dim_value -1, on the TorchScript CRNN.
    name, src_name = "dim-minus-one-torchscript", "crnn-torchscript"
    if wanted(name) and not builder.done(name):
        src_entry = builder.manifest.get(src_name)
        if src_entry is None or "error" in src_entry:
            entry = {"name": name, "family": "pattern", "variant": "pattern", "path": f"{name}.onnx"}
            builder.record({**entry, "error": f"source {src_name} failed"})
            return
        entry = derived_entry(src_entry, name, "pattern")
        entry["pattern"] = "outputs and value_info declared with dim_value: -1 (as Paddle writes them)"
        builder.attempt(entry, lambda p: _declare_minus_one(builder.folder / src_entry["path"], p))


def all_names(real: bool) -> list[str]:
    """Every model name the build knows, for --only's check."""
    names = []
    suffix = "-real" if real else ""
    for family in FAMILIES:
        for export in (f"{family.name}{suffix}-dynamo", f"{family.name}{suffix}-torchscript"):
            names.append(export)
            if family.ort_type:
                names.append(f"{export}-ort-opt")
            if family.quantize:
                names += [f"{export}-{v}" for v in ("quant-dynamic", "quant-qdq", "quant-qop")]
        if family.downgrade:
            names += [f"{family.name}{suffix}-torchscript-opset{o}" for o in (11, 13)]
    names += [f"{p.name}-{p.exporter}" for p in PATTERNS] + ["dim-minus-one-torchscript"]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names (e.g. bert-dynamo,crnn-torchscript)")
    parser.add_argument("--families", help="comma-separated families, 'pattern' for the hand-made ones")
    parser.add_argument("--force", action="store_true", help="rebuild models already in the manifest")
    parser.add_argument("--size", choices=("small", "real"), default="small")
    parser.add_argument("--dir", type=Path, default=CORPUS_DIR, help=f"where to build (default {CORPUS_DIR})")
    args = parser.parse_args(argv)
    real = args.size == "real"
    only = set(args.only.split(",")) if args.only else None
    if only is not None and (unknown := only - set(all_names(real))):
        parser.error(f"unknown model {', '.join(sorted(unknown))}; known: {', '.join(all_names(real))}")
    known_families = {f.name for f in FAMILIES} | {"pattern"}
    families = set(args.families.split(",")) if args.families else known_families
    if unknown := families - known_families:
        parser.error(
            f"unknown family {', '.join(sorted(unknown))}; known: {', '.join(sorted(known_families))}"
        )

    def wanted(name: str) -> bool:
        return only is None or name in only

    torch.set_num_threads(1)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    builder = Builder(real, args.force, args.dir)
    start = time.perf_counter()
    for family in FAMILIES:
        if family.name in families:
            build_family(builder, family, wanted)
    if "pattern" in families and not real:
        build_patterns(builder, wanted)
    elapsed = time.perf_counter() - start
    total = len(builder.manifest)
    print(f"\nbuilt {builder.built}, failed {builder.failed} in {elapsed:.0f}s; manifest: {total} models")
    print(f"{builder.manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
