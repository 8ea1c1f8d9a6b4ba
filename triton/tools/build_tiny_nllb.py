"""Build a tiny random-weight NLLB-style (M2M100 architecture) multilingual model for tests.

    .venv-triton/bin/python triton/tools/build_tiny_nllb.py --store .local/model-store

Writes ``<store>/translate/nllb-tiny/``: the CTranslate2 model (vocabulary = SentencePiece pieces plus
NLLB's special and 202 language-code tokens), ``sentencepiece.bpe.model`` and ``sentinel-model.json``
with ``"family": "nllb"`` and ``"languages": {"en": "eng_Latn", "de": "deu_Latn", "fr": "fra_Latn"}``.
It exercises the translate model's NLLB path (source ``[src_code] + pieces + </s>``, target
prefix ``[tgt_code]``) without real weights; the output is noise like the tiny Marian models'.

Differences from a real NLLB checkpoint, on purpose: the tokenizer is the slow ``NllbTokenizer``
(the fast one needs a protobuf version that conflicts with tritonclient's pin), and the output
projection gets a bias that forbids special/language tokens and a calibrated EOS bias.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_tiny_marian import calibrate_eos_bias, corpus_sentences, train_sentencepiece
from model_store import open_store, write_metadata

LANGUAGES = {"en": "eng_Latn", "de": "deu_Latn", "fr": "fra_Latn"}
SPM_FILE = "sentencepiece.bpe.model"


def tiny_nllb_converter(hf_dir: Path, output_bias):
    """TransformersConverter with the slow tokenizer and an extra output-projection bias."""
    from ctranslate2.converters import TransformersConverter

    class TinyNllbConverter(TransformersConverter):
        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return tokenizer_class.from_pretrained(model_name_or_path, use_fast=False, **kwargs)

        def _load(self):
            spec = super()._load()
            spec.decoder.projection.bias = output_bias
            return spec

    return TinyNllbConverter(str(hf_dir), copy_files=[SPM_FILE])


def build_tiny_nllb(store: str | Path, *, name: str = "nllb-tiny", vocab_size: int = 600, d_model: int = 64,
                    layers: int = 2, init_std: float = 0.3, seed: int = 4321, verbose: bool = True) -> str:
    import contextlib
    import io

    import ctranslate2
    import numpy as np
    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        hf_dir, out_dir = Path(tmp) / "hf", Path(tmp) / "ct2"
        hf_dir.mkdir()
        sentences = [s for lang in LANGUAGES for s in corpus_sentences(lang)]
        (hf_dir / SPM_FILE).write_bytes(train_sentencepiece(sentences, vocab_size))
        tokenizer = NllbTokenizer(vocab_file=str(hf_dir / SPM_FILE), src_lang="eng_Latn", tgt_lang="deu_Latn")
        tokenizer.save_pretrained(hf_dir)
        size = len(tokenizer)
        config = M2M100Config(
            vocab_size=size, d_model=d_model, encoder_layers=layers, decoder_layers=layers,
            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=2 * d_model,
            decoder_ffn_dim=2 * d_model, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.eos_token_id, scale_embedding=True, init_std=init_std,
        )
        torch.manual_seed(seed)
        M2M100ForConditionalGeneration(config).eval().save_pretrained(hf_dir)

        bias = np.zeros(size, dtype=np.float32)  # never emit <s>, <pad>, <unk>, <mask> or language codes
        bias[[i for i in tokenizer.all_special_ids if i != tokenizer.eos_token_id]] = -1e4
        eos = tokenizer.eos_token_id

        def convert_with_bias(eos_bias: float) -> Path:
            bias[eos] = eos_bias
            with contextlib.redirect_stderr(io.StringIO()):
                tiny_nllb_converter(hf_dir, bias.copy()).convert(str(out_dir), force=True)
            return out_dir

        sp = spm.SentencePieceProcessor(model_file=str(hf_dir / SPM_FILE))
        pairs = [("de", "en"), ("en", "fr"), ("fr", "de")]
        sources = [[LANGUAGES[s]] + sp.encode(text, out_type=str) + ["</s>"]
                   for s, _ in pairs for text in corpus_sentences(s)[:16]]
        prefixes = [[LANGUAGES[t]] for _, t in pairs for _ in range(16)]
        eos_bias, stats = calibrate_eos_bias(convert_with_bias, sources, prefixes)
        convert_with_bias(eos_bias)
        write_metadata(out_dir, {
            "name": name, "family": "nllb", "tiny": True, "languages": LANGUAGES, "spm": SPM_FILE,
            "vocab_size": size, "d_model": d_model, "layers": layers, "seed": seed, "eos_bias": eos_bias,
            "calibration": stats, "ctranslate2": ctranslate2.__version__, "built_by": "triton/tools/build_tiny_nllb.py",
        })
        where = open_store(store).upload_model_dir(out_dir, "translate", name)
    if verbose:
        print(f"built {name} (vocab {size}, eos_bias {eos_bias}, {stats}) -> {where}")
    return where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="model store: a directory or s3://bucket/prefix")
    parser.add_argument("--name", default="nllb-tiny")
    parser.add_argument("--seed", type=int, default=4321)
    args = parser.parse_args(argv)
    build_tiny_nllb(args.store, name=args.name, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
