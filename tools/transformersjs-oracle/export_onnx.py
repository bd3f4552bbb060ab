"""Exports a BERT task checkpoint (config.json + model.safetensors) to ONNX in the layout transformers.js reads
(onnx/model.onnx; inputs input_ids, attention_mask, token_type_ids; outputs last_hidden_state, logits, or start_logits +
end_logits).

There is no `transformers` or `onnx` Python package here, only Debian's python3-torch 1.13, so the model is BERT written
out in plain torch ops from modeling_bert.py (absolute positions, eager attention with HF's extended mask, erf GELU,
the pooler for sequence classification) and exported with torch.onnx's tracer. Before exporting, its outputs are
compared with the HF outputs recorded in the fixture's expected.safetensors (when given): the export is only written
when they agree, so the ONNX graph is the fixture's HF model, not an approximation of it.

Usage: python3 export_onnx.py MODEL_DIR ARCHITECTURE [EXPECTED_SAFETENSORS]
ARCHITECTURE: BertModel | BertForMaskedLM | BertForSequenceClassification | BertForTokenClassification |
BertForQuestionAnswering
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "I64": np.int64, "F16": np.float16, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[8 + n + start:8 + n + end], dtype=DTYPES[meta["dtype"]]).reshape(meta["shape"])
        out[key] = torch.from_numpy(arr.copy())
    return out


class Bert(torch.nn.Module):
    def __init__(self, config, weights, architecture):
        super().__init__()
        if config.get("position_embedding_type", "absolute") != "absolute" or config.get("hidden_act", "gelu") != "gelu":
            raise SystemExit("only absolute positions and erf GELU are written out here")
        self.arch = architecture
        self.h = config["num_attention_heads"]
        self.d = config["hidden_size"] // self.h
        self.eps = config["layer_norm_eps"]
        self.layers = config["num_hidden_layers"]
        self.params = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v, requires_grad=False)
                                              for k, v in weights.items()})

    def w(self, name):
        return self.params[name.replace(".", "__")]

    def linear(self, x, name):
        return torch.nn.functional.linear(x, self.w(name + ".weight"), self.w(name + ".bias"))

    def norm(self, x, name):
        return torch.nn.functional.layer_norm(x, (self.h * self.d,), self.w(name + ".weight"), self.w(name + ".bias"), self.eps)

    def forward(self, input_ids, attention_mask, token_type_ids):
        b, t = input_ids.shape[0], input_ids.shape[1]
        positions = torch.arange(t, dtype=torch.long).unsqueeze(0)
        e = "bert.embeddings."
        x = (torch.nn.functional.embedding(input_ids, self.w(e + "word_embeddings.weight"))
             + torch.nn.functional.embedding(token_type_ids, self.w(e + "token_type_embeddings.weight"))
             + torch.nn.functional.embedding(positions, self.w(e + "position_embeddings.weight")))
        x = self.norm(x, e + "LayerNorm")
        # get_extended_attention_mask: (1 - mask) * finfo(float32).min, broadcast over heads and query positions
        extended = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        for i in range(self.layers):
            p = f"bert.encoder.layer.{i}."

            def heads(y):
                return y.view(b, t, self.h, self.d).transpose(1, 2)

            q = heads(self.linear(x, p + "attention.self.query"))
            k = heads(self.linear(x, p + "attention.self.key"))
            v = heads(self.linear(x, p + "attention.self.value"))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d) + extended
            context = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, t, self.h * self.d)
            attended = self.norm(self.linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inner = torch.nn.functional.gelu(self.linear(attended, p + "intermediate.dense"))
            x = self.norm(self.linear(inner, p + "output.dense") + attended, p + "output.LayerNorm")
        if self.arch == "BertModel":
            return (x,)
        if self.arch == "BertForMaskedLM":
            # BertLMPredictionHead: transform (dense, gelu, LayerNorm), decoder tied to the word embeddings, bias
            t = self.norm(torch.nn.functional.gelu(self.linear(x, "cls.predictions.transform.dense")),
                          "cls.predictions.transform.LayerNorm")
            decoder = self.w("cls.predictions.decoder.weight") if "cls__predictions__decoder__weight" in self.params \
                else self.w(e + "word_embeddings.weight")
            return (torch.nn.functional.linear(t, decoder, self.w("cls.predictions.bias")),)
        if self.arch == "BertForSequenceClassification":
            pooled = torch.tanh(self.linear(x[:, 0], "bert.pooler.dense"))
            return (self.linear(pooled, "classifier"),)
        if self.arch == "BertForTokenClassification":
            return (self.linear(x, "classifier"),)
        if self.arch == "BertForQuestionAnswering":
            logits = self.linear(x, "qa_outputs")
            start, end = logits.split(1, dim=-1)
            return start.squeeze(-1), end.squeeze(-1)
        raise SystemExit(f"unknown architecture {self.arch}")


def main():
    model_dir, architecture = sys.argv[1], sys.argv[2]
    expected_path = sys.argv[3] if len(sys.argv) > 3 else None
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    model = Bert(config, read_safetensors(os.path.join(model_dir, "model.safetensors")), architecture).eval()
    outputs = {"BertForQuestionAnswering": ["start_logits", "end_logits"], "BertModel": ["last_hidden_state"]}.get(architecture, ["logits"])

    if expected_path:
        expected = read_safetensors(expected_path)
        with torch.no_grad():
            got = model(expected["input_ids"], expected["attention_mask"], expected["token_type_ids"])
        for name, value in zip(outputs, got):
            diff = (value - expected[name]).abs().max().item()
            print(f"{name}: max |torch port - HF| = {diff:.2e}")
            if diff > 1e-5:
                raise SystemExit(f"{name} differs from the recorded HF output by {diff}; not exporting")

    os.makedirs(os.path.join(model_dir, "onnx"), exist_ok=True)
    example = (torch.tensor([[2, 5, 6, 3]]), torch.ones(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in ["input_ids", "attention_mask", "token_type_ids"]}
    for n in outputs:
        axes[n] = {0: "batch_size"} if architecture == "BertForSequenceClassification" else {0: "batch_size", 1: "sequence_length"}
    target = os.path.join(model_dir, "onnx", "model.onnx")
    torch.onnx.export(model, example, target + ".tmp", input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=outputs, dynamic_axes=axes, opset_version=14, do_constant_folding=True)
    os.replace(target + ".tmp", target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
