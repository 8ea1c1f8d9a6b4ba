"""Triton python-backend model `translate`: CTranslate2 translators for any number of language pairs.

At initialize it loads every model under ``<models_dir>/translate/<name>/sentinel-model.json``
(``models_dir`` = config parameter, else env SENTINEL_MODELS_DIR). Families:

* ``marian`` (OPUS-MT converted by ct2-transformers-converter): one pair per model
  (``src``/``tgt`` in the metadata); ``source.spm``/``target.spm`` tokenise; source ends with ``</s>``.
* ``nllb`` (multilingual): ``languages`` maps ISO 639-1 codes to NLLB codes
  (``{"de": "deu_Latn", ...}``, a built-in table is used when absent); tokenised with one
  SentencePiece model (``spm``, default ``sentencepiece.bpe.model``); source is
  ``[src_code] + pieces + ["</s>"]``, the target prefix is ``[tgt_code]`` (stripped from the output).
  A Marian model for the exact pair wins over an NLLB model.

Each execute() groups all rows of all requests by (model, decoding parameters, length bound), runs
one translate_batch per group and scatters the results back. A request whose parameters are
invalid or whose pair has no model gets its own error response; other requests are unaffected.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

METADATA_FILE = "sentinel-model.json"
NLLB_CODES = {
    "ar": "arb_Arab", "cs": "ces_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek",
    "en": "eng_Latn", "es": "spa_Latn", "fi": "fin_Latn", "fr": "fra_Latn", "hi": "hin_Deva",
    "hu": "hun_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "nl": "nld_Latn",
    "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "sv": "swe_Latn",
    "tr": "tur_Latn", "uk": "ukr_Cyrl", "zh": "zho_Hans",
}
# request parameter -> (type, minimum, maximum)
DECODING_PARAMETERS = {
    "beam_size": (int, 1, 16),
    "max_decoding_length": (int, 1, 1024),
    "repetition_penalty": (float, 0.01, 10.0),
    "no_repeat_ngram_size": (int, 0, 16),
}


class RequestError(ValueError):
    """Bad input for one request: becomes that request's error response."""


@dataclass(frozen=True)
class DecodingOptions:
    beam_size: int = 1
    max_decoding_length: int | None = None  # None: bounded by the input length, see _length_bound
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0


def parse_decoding_options(parameters_json: str) -> DecodingOptions:
    try:
        params = json.loads(parameters_json or "{}")
    except json.JSONDecodeError as exc:
        raise RequestError(f"request parameters are not JSON: {exc}") from None
    values = {}
    for key, (kind, low, high) in DECODING_PARAMETERS.items():
        if key not in params:
            continue
        raw = params[key]
        try:
            if isinstance(raw, bool) or (kind is int and isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = kind(raw)
        except (TypeError, ValueError):
            expected = "an integer" if kind is int else "a number"
            raise RequestError(f"parameter {key}={raw!r} is not {expected}") from None
        if not low <= value <= high:
            raise RequestError(f"parameter {key}={value} is outside [{low}, {high}]")
        values[key] = value
    return DecodingOptions(**values)


def model_translator_kwargs(translator_kwargs: dict, metadata: dict) -> dict:
    """The config's `intra_threads` wins when set; left at 0 (CTranslate2's default: all cores,
    at most 4), a model's own metadata may choose. The tiny test models choose 1: two layers of
    width 64 gain nothing from threads, and on a 2-core machine their synchronisation made them
    12x slower (bench, 2026-11-23)."""
    kwargs = dict(translator_kwargs)
    if not kwargs.get("intra_threads") and metadata.get("intra_threads"):
        kwargs["intra_threads"] = int(metadata["intra_threads"])
    return kwargs


class LoadedModel:
    """One CTranslate2 translator plus its SentencePiece tokenisers."""

    def __init__(self, model_dir: Path, metadata: dict, translator_kwargs: dict):
        import ctranslate2
        import sentencepiece as spm

        self.dir = model_dir
        self.name = metadata["name"]
        self.tiny = bool(metadata.get("tiny"))
        self.family = metadata.get("family", "marian")
        if self.family == "marian":
            src_spm = model_dir / metadata.get("source_spm", "source.spm")
            tgt_spm = model_dir / metadata.get("target_spm", "target.spm")
            self.pairs = [(metadata["src"], metadata["tgt"])]
            self.lang_codes: dict[str, str] = {}
        elif self.family == "nllb":
            src_spm = tgt_spm = model_dir / metadata.get("spm", "sentencepiece.bpe.model")
            self.lang_codes = metadata.get("languages") or NLLB_CODES
            self.pairs = [(s, t) for s in self.lang_codes for t in self.lang_codes if s != t]
        else:
            raise ValueError(f"{model_dir}: unknown model family {self.family!r} (marian, nllb)")
        self.source_sp = spm.SentencePieceProcessor(model_file=str(src_spm))
        self.target_sp = self.source_sp if tgt_spm == src_spm else spm.SentencePieceProcessor(model_file=str(tgt_spm))
        self.translator = ctranslate2.Translator(str(model_dir), **model_translator_kwargs(translator_kwargs, metadata))

    def source_tokens(self, text: str, src: str) -> list[str]:
        pieces = self.source_sp.encode(text, out_type=str)
        if self.family == "nllb":
            return [self.lang_codes[src]] + pieces + ["</s>"]
        return pieces + ["</s>"]

    def target_prefix(self, tgt: str) -> list[str] | None:
        return [self.lang_codes[tgt]] if self.family == "nllb" else None

    def detokenize(self, tokens: list[str]) -> str:
        if self.family == "nllb" and tokens and tokens[0] in self.lang_codes.values():
            tokens = tokens[1:]
        return self.target_sp.decode_pieces(tokens)


def find_model_dirs(models_dir: Path) -> list[tuple[Path, dict]]:
    found = []
    for meta_path in sorted((models_dir / "translate").glob(f"*/{METADATA_FILE}")):
        if meta_path.parent.name.startswith("."):
            continue  # staging/old dirs of an in-progress sync
        try:
            found.append((meta_path.parent, json.loads(meta_path.read_text())))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"unreadable model metadata {meta_path}: {exc}") from exc
    return found


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        self.logger = pb_utils.Logger
        models_dir = params.get("models_dir") or os.environ.get("SENTINEL_MODELS_DIR", "")
        if not models_dir:
            raise pb_utils.TritonModelException(
                "translate: no models dir: set config parameter models_dir or env SENTINEL_MODELS_DIR")
        models_dir = Path(models_dir)
        self.max_length_cap = int(params.get("max_decoding_length") or 256)
        self.max_input_length = int(params.get("max_input_length") or 512)
        device = params.get("device") or ("cuda" if args.get("model_instance_kind") == "GPU" else "cpu")
        translator_kwargs = {
            "device": device,
            "compute_type": params.get("compute_type") or "default",
            "inter_threads": 1,
            "intra_threads": int(params.get("intra_threads") or 0),
        }
        if device == "cuda":
            translator_kwargs["device_index"] = int(args.get("model_instance_device_id", 0))

        self.models: list[LoadedModel] = []
        for model_dir, metadata in find_model_dirs(models_dir):
            try:
                model = LoadedModel(model_dir, metadata, translator_kwargs)
            except Exception as exc:
                raise pb_utils.TritonModelException(f"translate: cannot load {model_dir}: {exc}") from exc
            self.models.append(model)
            self.logger.log_info(f"translate: loaded {model.name} ({model.family}, {len(model.pairs)} pairs) "
                                 f"from {model_dir} on {device}/{translator_kwargs['compute_type']}")
        if not self.models and params.get("allow_no_models", "false").lower() != "true":
            raise pb_utils.TritonModelException(
                f"translate: no models in {models_dir}/translate/*/{METADATA_FILE} "
                "(build them with triton/tools/build_tiny_marian.py or fetch_opus_mt.py, then sync_model_store.py)")
        self.routes: dict[tuple[str, str], LoadedModel] = {}
        # marian (pair-specific) first, then real before tiny, then by name; first route wins
        for model in sorted(self.models, key=lambda m: (m.family != "marian", m.tiny, m.name)):
            for pair in model.pairs:
                self.routes.setdefault(pair, model)

    def execute(self, requests):
        responses: list = [None] * len(requests)
        # (model, decoding options, decoding-length bound) -> rows (request index, row, source tokens, tgt)
        groups: dict[tuple[int, DecodingOptions, int], list[tuple[int, int, list[str], str]]] = {}
        outputs = {}
        for req_index, request in enumerate(requests):
            try:
                rows, model_names = self._plan_request(request)
            except RequestError as exc:
                responses[req_index] = _error_response(str(exc))
                continue
            except Exception as exc:  # e.g. a tokeniser failure: this request only
                responses[req_index] = _error_response(f"could not prepare request: {exc}", internal=True)
                continue
            outputs[req_index] = ([""] * len(model_names), np.zeros(len(model_names), np.float32), model_names)
            for key, row, tokens, tgt in rows:
                groups.setdefault(key, []).append((req_index, row, tokens, tgt))

        by_id = {id(m): m for m in self.models}
        for (model_id, options, max_length), rows in groups.items():
            try:
                self._translate_group(by_id[model_id], options, max_length, rows, outputs)
            except Exception as exc:  # a failing group fails only the requests that have rows in it
                for req_index in {r[0] for r in rows}:
                    responses[req_index] = _error_response(f"translation failed: {exc}", internal=True)

        for req_index, (texts, logprobs, names) in outputs.items():
            if responses[req_index] is not None:
                continue
            responses[req_index] = pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("TRANSLATION", _bytes_column(texts)),
                pb_utils.Tensor("LOGPROB", logprobs.reshape(-1, 1)),
                pb_utils.Tensor("MODEL", _bytes_column(names)),
            ])
        return responses

    def _plan_request(self, request):
        """Validate one request; return its rows as (group key, row, source tokens, tgt) + model names."""
        texts, srcs, tgts = (_strings(request, name) for name in ("TEXT", "SRC_LANG", "TGT_LANG"))
        if not len(texts) == len(srcs) == len(tgts):
            raise RequestError("TEXT, SRC_LANG and TGT_LANG must have the same batch size")
        options = parse_decoding_options(request.parameters())
        pairs = [(s.strip().lower(), t.strip().lower()) for s, t in zip(srcs, tgts, strict=True)]
        models = [self._route(src, tgt) for src, tgt in pairs]
        rows = []
        for row, (text, (src, tgt), model) in enumerate(zip(texts, pairs, models, strict=True)):
            if not text.strip():  # empty rows translate to "" with LOGPROB 0 without touching the model
                continue
            tokens = model.source_tokens(text, src)
            rows.append(((id(model), options, self._length_bound(options, len(tokens))), row, tokens, tgt))
        return rows, [m.name for m in models]

    def _route(self, src: str, tgt: str) -> LoadedModel:
        model = self.routes.get((src, tgt))
        if model is None:
            available = ", ".join(f"{s}-{t}" for s, t in sorted(self.routes)) or "none"
            raise RequestError(f"no translation model for pair {src}-{tgt}; available pairs: {available}")
        return model

    def _translate_group(self, model: LoadedModel, options: DecodingOptions, max_length: int, rows, outputs) -> None:
        prefix_length = 1 if model.family == "nllb" else 0  # CTranslate2's length limits count the prefix
        results = model.translator.translate_batch(
            [tokens for _, _, tokens, _ in rows],
            target_prefix=[model.target_prefix(tgt) for *_, tgt in rows] if prefix_length else None,
            beam_size=options.beam_size,
            repetition_penalty=options.repetition_penalty,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            min_decoding_length=1 + prefix_length,
            max_decoding_length=max_length + prefix_length,
            max_input_length=self.max_input_length,
            length_penalty=1.0,  # score = sum of token log-probs / number of generated tokens
            return_scores=True,
        )
        for (req_index, row, *_), result in zip(rows, results, strict=True):
            texts, logprobs, _ = outputs[req_index]
            texts[row] = model.detokenize(result.hypotheses[0])
            logprobs[row] = float(result.scores[0]) if result.scores else 0.0

    def _length_bound(self, options: DecodingOptions, source_length: int) -> int:
        """Max generated tokens for one row: the request's max_decoding_length, else 2 x source tokens + 10
        rounded up to a power of two (>= 32) and capped by the config. It depends on the row only, so a
        row's result does not depend on which rows the dynamic batcher put next to it."""
        if options.max_decoding_length is not None:
            return options.max_decoding_length
        bound = 32
        while bound < 2 * source_length + 10:
            bound *= 2
        return min(self.max_length_cap, bound)

    def finalize(self):
        self.models.clear()
        self.routes.clear()


def _strings(request, name: str) -> list[str]:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise RequestError(f"missing input {name}")
    return [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v)
            for v in tensor.as_numpy().reshape(-1)]


def _bytes_column(values: list[str]) -> np.ndarray:
    return np.array([v.encode("utf-8") for v in values], dtype=np.object_).reshape(-1, 1)


def _error_response(message: str, internal: bool = False):
    code_name = "INTERNAL" if internal else "INVALID_ARG"
    code = getattr(pb_utils.TritonError, code_name, None)
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)
