"""Fetch a real OPUS-MT (Marian) or NLLB model from the Hugging Face hub, convert it to
CTranslate2 and upload it to the model store. Needs network access to the hub.

    .venv-triton/bin/python triton/tools/fetch_opus_mt.py --pair de-en --store s3://models/sentinel --quantization int8
    .venv-triton/bin/python triton/tools/fetch_opus_mt.py --family nllb --hf-model facebook/nllb-200-distilled-600M \\
        --name nllb-200-distilled-600M --store .local/model-store --quantization int8

``--hf-model`` may also be a local directory holding an already downloaded model (no network
then). The result is ``<store>/translate/<name>/`` (default name ``marian-<src>-<tgt>``, which
replaces a tiny test model of the same pair) with model.bin, shared_vocabulary.json, the
SentencePiece files and ``sentinel-model.json`` (``"tiny": false``). Conversion uses
``ctranslate2.converters.TransformersConverter``, the code behind ``ct2-transformers-converter``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_store import open_store, write_metadata

HF_FILES = ["config.json", "generation_config.json", "*.safetensors", "pytorch_model.bin", "*.spm",
            "sentencepiece.bpe.model", "vocab.json", "tokenizer_config.json", "special_tokens_map.json",
            "tokenizer.json"]
SPM_FILES = {"marian": ["source.spm", "target.spm"], "nllb": ["sentencepiece.bpe.model"]}


class OfflineError(SystemExit):
    """The hub could not be reached."""


def download_hf_model(repo_id: str, revision: str | None = None) -> tuple[Path, str | None]:
    """Local dir of the model (downloaded unless `repo_id` is a directory) and its revision."""
    if Path(repo_id).is_dir():
        return Path(repo_id), None
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "15")
    try:
        from huggingface_hub import HfApi, snapshot_download

        info = HfApi().model_info(repo_id, revision=revision)
        path = snapshot_download(repo_id, revision=info.sha, allow_patterns=HF_FILES)
        return Path(path), info.sha
    except Exception as exc:  # ConnectionError, LocalEntryNotFoundError, OfflineModeIsEnabled, DNS...
        raise OfflineError(
            f"error: cannot download {repo_id!r} from the Hugging Face hub ({type(exc).__name__}: {exc}).\n"
            "fetch_opus_mt.py needs network access to huggingface.co (or a local --hf-model DIR). Offline, "
            "build test models with triton/tools/build_tiny_marian.py, or convert on a connected machine "
            "and upload the result to the store.") from None


def convert_hf_model(hf_dir: Path, out_dir: Path, family: str, quantization: str | None) -> Path:
    from ctranslate2.converters import TransformersConverter

    missing = [f for f in SPM_FILES[family] if not (hf_dir / f).is_file()]
    if missing:
        raise SystemExit(f"error: {hf_dir} lacks {', '.join(missing)} (needed for a {family} model)")
    converter = TransformersConverter(str(hf_dir), copy_files=SPM_FILES[family])
    converter.convert(str(out_dir), quantization=quantization, force=True)
    return out_dir


def fetch_opus_mt(*, store: str | Path, pair: str | None = None, hf_model: str | None = None,
                  family: str = "marian", name: str | None = None, quantization: str | None = None,
                  revision: str | None = None, languages: dict[str, str] | None = None) -> str:
    """Download (or read) + convert + upload one model; return where it went in the store."""
    import ctranslate2

    src = tgt = None
    if family == "marian":
        if not pair or "-" not in pair:
            raise SystemExit("error: --pair SRC-TGT is required for marian models (e.g. de-en)")
        src, tgt = pair.split("-", 1)
        hf_model = hf_model or f"Helsinki-NLP/opus-mt-{src}-{tgt}"
        name = name or f"marian-{src}-{tgt}"
    elif not (hf_model and name):
        raise SystemExit("error: --hf-model and --name are required for nllb models")
    hf_dir, resolved_revision = download_hf_model(hf_model, revision)
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        out_dir = convert_hf_model(hf_dir, Path(tmp) / name, family, quantization)
        metadata = {
            "name": name, "family": family, "tiny": False, "hf_model": hf_model,
            "hf_revision": resolved_revision, "quantization": quantization or "none",
            "ctranslate2": ctranslate2.__version__, "built_by": "triton/tools/fetch_opus_mt.py",
        }
        if family == "marian":
            metadata.update(src=src, tgt=tgt, source_spm="source.spm", target_spm="target.spm")
        else:
            metadata.update(spm="sentencepiece.bpe.model")
            if languages:
                metadata["languages"] = languages
        write_metadata(out_dir, metadata)
        return open_store(store).upload_model_dir(out_dir, "translate", name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", help="SRC-TGT, ISO 639-1 (marian), e.g. de-en")
    parser.add_argument("--hf-model", help="hub id or local dir (default Helsinki-NLP/opus-mt-SRC-TGT)")
    parser.add_argument("--family", choices=sorted(SPM_FILES), default="marian")
    parser.add_argument("--name", help="model name in the store (default marian-SRC-TGT)")
    parser.add_argument("--store", required=True, help="model store: a directory or s3://bucket/prefix")
    parser.add_argument("--quantization", help="CTranslate2 weight type: int8, int8_float16, float16, ...")
    parser.add_argument("--revision", help="hub revision (branch, tag or commit)")
    parser.add_argument("--languages", help="nllb: ISO-to-NLLB code map, e.g. de=deu_Latn,en=eng_Latn "
                                            "(default: the translate model's built-in table)")
    args = parser.parse_args(argv)
    languages = dict(item.split("=", 1) for item in args.languages.split(",")) if args.languages else None
    where = fetch_opus_mt(store=args.store, pair=args.pair, hf_model=args.hf_model, family=args.family,
                          name=args.name, quantization=args.quantization, revision=args.revision,
                          languages=languages)
    print(f"uploaded {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
