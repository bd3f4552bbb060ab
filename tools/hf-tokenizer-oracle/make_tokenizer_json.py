"""Writes a bert-base-*-style tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece, [CLS] A [SEP] B [SEP])
from a vocab.txt. Usage: python3 make_tokenizer_json.py VOCAB_TXT LOWERCASE(1|0) OUT_JSON"""
import json
import sys

vocab_path, lowercase, out_path = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
with open(vocab_path, encoding="utf-8") as f:  # universal newlines, like HF's load_vocab
    tokens = [line.rstrip("\n") for line in f]
vocab = {token: i for i, token in enumerate(tokens)}
specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def special(name):
    return {"id": name, "ids": [vocab[name]], "tokens": [name]}


def piece(kind, name, type_id):
    return {kind: {"id": name, "type_id": type_id}}


tokenizer = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True} for s in specials],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                   "strip_accents": None, "lowercase": lowercase},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {
        "type": "TemplateProcessing",
        "single": [piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0), piece("SpecialToken", "[SEP]", 0)],
        "pair": [piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0), piece("SpecialToken", "[SEP]", 0),
                 piece("Sequence", "B", 1), piece("SpecialToken", "[SEP]", 1)],
        "special_tokens": {"[CLS]": special("[CLS]"), "[SEP]": special("[SEP]")},
    },
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100, "vocab": vocab},
}
with open(out_path, "w", encoding="utf-8") as f:
    json.dump(tokenizer, f, ensure_ascii=False)
