"""Build a tiny random-weight Marian (OPUS-MT layout) translation model for tests and demos.

    .venv-triton/bin/python triton/tools/build_tiny_marian.py --src de --tgt en --store .local/model-store

Writes ``<store>/translate/marian-<src>-<tgt>/`` with a CTranslate2 model converted by
``ctranslate2.converters.TransformersConverter`` (the code behind ``ct2-transformers-converter``),
``source.spm`` / ``target.spm`` and ``sentinel-model.json`` (``"tiny": true``). The store may be
``s3://bucket/prefix``.

How it is made (deterministic, a few seconds per pair):
1. SentencePiece unigram models are trained on the source and target sides of
   ``tiny_corpus.tsv`` (hand-written en/de/fr sentences); the shared vocabulary is
   ``</s>, <unk>, source pieces, target-only pieces, <pad>`` like OPUS-MT's vocab.json.
2. A ``MarianMTModel`` (d_model 64, 2+2 layers) is initialised from a seed derived from the pair.
   Its weights are random, so the "translation" is noise; to keep it useful for pipeline tests
   the output bias forbids source-only pieces and the EOS bias is calibrated so that outputs are
   input-dependent, non-empty and mostly end before the server's decoding-length bound.
3. The Hugging Face directory is converted with TransformersConverter.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_store import open_store, write_metadata

CORPUS = Path(__file__).resolve().parent / "tiny_corpus.tsv"
CORPUS_LANGS = ("en", "de", "fr")
EOS_BIAS_RANGE = (-4.0, 16.0)  # searched by bisection: a larger EOS bias gives shorter outputs
CALIBRATION_STEPS = 7


def corpus_sentences(lang: str, corpus: Path = CORPUS) -> list[str]:
    if lang not in CORPUS_LANGS:
        raise SystemExit(f"tiny models exist for {', '.join(CORPUS_LANGS)} only (corpus languages), not {lang!r}")
    column = CORPUS_LANGS.index(lang)
    rows = [line.rstrip("\n").split("\t") for line in corpus.read_text(encoding="utf-8").splitlines()]
    return [row[column] for row in rows if row and not row[0].startswith("#") and len(row) == len(CORPUS_LANGS)]


def train_sentencepiece(sentences: list[str], vocab_size: int) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False, num_threads=1,
        unk_id=0, eos_id=1, bos_id=-1, pad_id=-1, minloglevel=2,
    )
    return model.getvalue()


def spm_pieces(model_bytes: bytes) -> list[str]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not (sp.is_control(i) or sp.is_unknown(i))]


def write_hf_marian(hf_dir: Path, src: str, tgt: str, *, vocab_size: int, d_model: int, layers: int,
                    init_std: float, seed: int) -> tuple[object, list[str]]:
    """Write tokenizer files + a random MarianMTModel to hf_dir; return (model, vocabulary)."""
    import torch
    from transformers import MarianConfig, MarianMTModel

    source_spm = train_sentencepiece(corpus_sentences(src), vocab_size)
    target_spm = train_sentencepiece(corpus_sentences(tgt), vocab_size)
    source_pieces, target_pieces = spm_pieces(source_spm), spm_pieces(target_spm)
    target_set = set(target_pieces)
    vocab = ["</s>", "<unk>"] + source_pieces
    vocab += [p for p in target_pieces if p not in set(source_pieces)] + ["<pad>"]

    hf_dir.mkdir(parents=True, exist_ok=True)
    (hf_dir / "source.spm").write_bytes(source_spm)
    (hf_dir / "target.spm").write_bytes(target_spm)
    (hf_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "MarianTokenizer", "source_lang": src, "target_lang": tgt, "model_max_length": 512}))

    size = len(vocab)
    config = MarianConfig(
        vocab_size=size, decoder_vocab_size=size, d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model, max_position_embeddings=512, pad_token_id=size - 1, eos_token_id=0,
        decoder_start_token_id=size - 1, forced_eos_token_id=0, scale_embedding=True,
        share_encoder_decoder_embeddings=True, activation_function="swish", init_std=init_std,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    with torch.no_grad():  # a trained model never emits source-only pieces, <unk> or <pad>
        forbidden = [i for i, t in enumerate(vocab) if i >= 2 and t not in target_set]
        model.final_logits_bias[0, forbidden] = -1e4
        model.final_logits_bias[0, 1] = -1e4
    return model, vocab


def convert_to_ct2(hf_dir: Path, out_dir: Path, quantization: str | None = None) -> Path:
    from ctranslate2.converters import TransformersConverter

    with contextlib.redirect_stderr(io.StringIO()):  # silence "pip install sacremoses" warnings
        TransformersConverter(str(hf_dir)).convert(str(out_dir), quantization=quantization, force=True)
    return out_dir


def decoding_quality(ct2_dir: Path, sources: list[list[str]],
                     target_prefix: list[list[str]] | None = None) -> tuple[float, dict]:
    """Lower is better: outputs should be input-dependent and about as long as the input."""
    import ctranslate2

    bound = min(256, 2 * max(len(s) for s in sources) + 10)
    translator = ctranslate2.Translator(str(ct2_dir), device="cpu", intra_threads=2)
    results = translator.translate_batch(sources, target_prefix=target_prefix, beam_size=1, max_decoding_length=bound)
    lengths = [len(r.hypotheses[0]) for r in results]
    capped = sum(n >= bound for n in lengths) / len(lengths)
    distinct = len({tuple(r.hypotheses[0]) for r in results}) / len(results)
    mean_ratio = (sum(lengths) / len(lengths)) / (sum(map(len, sources)) / len(sources))
    score = capped + abs(math.log(mean_ratio)) + (1.0 if distinct < 0.3 else 0.0)
    return score, {"capped": round(capped, 3), "distinct": round(distinct, 3), "length_ratio": round(mean_ratio, 3)}


def calibrate_eos_bias(convert_with_bias, sources: list[list[str]],
                       target_prefix: list[list[str]] | None = None) -> tuple[float, dict]:
    """Bisect the EOS logit bias so outputs are about as long as inputs; return (bias, stats) of the best.

    convert_with_bias(bias) -> CT2 model dir converted with that bias.
    """
    best, (low, high) = None, EOS_BIAS_RANGE
    for _ in range(CALIBRATION_STEPS):
        eos_bias = round((low + high) / 2, 3)
        score, stats = decoding_quality(convert_with_bias(eos_bias), sources, target_prefix)
        if best is None or score < best[0]:
            best = (score, eos_bias, stats)
        low, high = (eos_bias, high) if stats["length_ratio"] > 1.0 else (low, eos_bias)
    return best[1], best[2]


def build_tiny_marian(src: str, tgt: str, store: str | Path, *, vocab_size: int = 400, d_model: int = 64,
                      layers: int = 2, init_std: float = 0.3, seed: int = 1234, keep_hf: Path | None = None,
                      verbose: bool = True) -> str:
    """Build marian-<src>-<tgt> and upload it to `store`; return where it went.

    keep_hf: also keep the Hugging Face model dir (the converter's input) as <keep_hf>/<name>/.
    """
    import ctranslate2
    import sentencepiece as spm
    import torch

    if src == tgt:
        raise SystemExit("--src and --tgt must differ")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    name = f"marian-{src}-{tgt}"
    pair_seed = seed + zlib.crc32(f"{src}-{tgt}".encode())
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        hf_dir, out_dir = Path(tmp) / "hf", Path(tmp) / "ct2"
        model, vocab = write_hf_marian(hf_dir, src, tgt, vocab_size=vocab_size, d_model=d_model, layers=layers,
                                       init_std=init_std, seed=pair_seed)
        sp = spm.SentencePieceProcessor(model_file=str(hf_dir / "source.spm"))
        sources = [sp.encode(s, out_type=str) + ["</s>"] for s in corpus_sentences(src)[:48]]

        def convert_with_bias(eos_bias: float) -> Path:
            with torch.no_grad():
                model.final_logits_bias[0, 0] = eos_bias
            model.save_pretrained(hf_dir)
            return convert_to_ct2(hf_dir, out_dir)

        eos_bias, stats = calibrate_eos_bias(convert_with_bias, sources)
        convert_with_bias(eos_bias)
        for spm_file in ("source.spm", "target.spm"):
            shutil.copy(hf_dir / spm_file, out_dir / spm_file)
        write_metadata(out_dir, {
            "name": name, "family": "marian", "src": src, "tgt": tgt, "tiny": True,
            "source_spm": "source.spm", "target_spm": "target.spm",
            "vocab_size": len(vocab), "d_model": d_model, "layers": layers, "seed": pair_seed,
            "eos_bias": eos_bias, "calibration": stats, "ctranslate2": ctranslate2.__version__,
            "intra_threads": 1,  # too small for threads to pay (see translate/1/model.py)
            "built_by": "triton/tools/build_tiny_marian.py",
        })
        where = open_store(store).upload_model_dir(out_dir, "translate", name)
        if keep_hf:
            shutil.rmtree(Path(keep_hf) / name, ignore_errors=True)
            shutil.copytree(hf_dir, Path(keep_hf) / name)
    if verbose:
        print(f"built {name} (vocab {len(vocab)}, eos_bias {eos_bias}, {stats}) -> {where}")
    return where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", help="source language (ISO 639-1: en, de, fr)")
    parser.add_argument("--tgt", help="target language")
    parser.add_argument("--pairs", help="several pairs in one process, e.g. de-en,fr-en (instead of --src/--tgt)")
    parser.add_argument("--store", required=True, help="model store: a directory or s3://bucket/prefix")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--keep-hf", type=Path, metavar="DIR",
                        help="also keep each Hugging Face source dir as DIR/marian-SRC-TGT/ "
                             "(input for fetch_opus_mt.py --hf-model)")
    args = parser.parse_args(argv)
    if args.pairs:
        pairs = [tuple(p.split("-", 1)) for p in args.pairs.split(",") if p]
    elif args.src and args.tgt:
        pairs = [(args.src, args.tgt)]
    else:
        parser.error("give --src and --tgt, or --pairs")
    for src, tgt in pairs:
        build_tiny_marian(src, tgt, args.store, seed=args.seed, keep_hf=args.keep_hf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
