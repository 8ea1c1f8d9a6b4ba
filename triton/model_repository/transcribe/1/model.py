"""Triton python-backend model `transcribe`: Whisper (CTranslate2 through faster-whisper).

At initialize it loads every model under ``<models_dir>/transcribe/<name>/sentinel-model.json``
(``models_dir`` = config parameter, else env SENTINEL_MODELS_DIR); the work itself lives in
whisper_engine.py (no Triton imports, tested directly). Each row of each request is decoded,
checked against ``max_audio_s`` and transcribed (clip_transcriber.py: languages per speech region,
retried regions, channels); rows run on ``num_workers`` threads (CTranslate2
workers: parallel rows on a GPU; 1 on CPU). A request whose parameters, audio or language are bad
gets its own error response naming the row and the reason; the other requests are unaffected.
"""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clip_transcriber import transcribe_row
from whisper_engine import (
    AsrOptions,
    AudioError,
    ModelRouter,
    Transcript,
    WhisperEngine,
    find_model_dirs,
    parse_options,
)

FLOAT_OUTPUTS = {"AVG_LOGPROB": "avg_logprob", "NO_SPEECH_PROB": "no_speech_prob",
                 "COMPRESSION_RATIO": "compression_ratio", "DURATION_S": "duration_s", "SPEECH_S": "speech_s"}


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        self.logger = pb_utils.Logger
        models_dir = params.get("models_dir") or os.environ.get("SENTINEL_MODELS_DIR", "")
        if not models_dir:
            raise pb_utils.TritonModelException(
                "transcribe: no models dir: set config parameter models_dir or env SENTINEL_MODELS_DIR")
        self.max_audio_s = float(params.get("max_audio_s") or 600)
        device = params.get("device") or ("cuda" if args.get("model_instance_kind") == "GPU" else "cpu")
        batched = params.get("batched", "auto").lower()
        self.workers = max(1, int(params.get("num_workers") or 1))
        engine_kwargs = {
            "device": device, "compute_type": params.get("compute_type") or "default",
            "cpu_threads": int(params.get("cpu_threads") or 0), "num_workers": self.workers,
            "batched": batched == "true" or (batched == "auto" and device == "cuda"),
            "batch_size": int(params.get("batch_size") or 16),
            "batched_from_s": float(params.get("batched_from_s") or 0),
        }
        if device == "cuda":
            engine_kwargs["device_index"] = int(args.get("model_instance_device_id", 0))
        self.router = self._load(Path(models_dir), params, engine_kwargs)
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="transcribe") if self.workers > 1 else None

    def _load(self, models_dir: Path, params: dict, engine_kwargs: dict) -> ModelRouter | None:
        wanted = {n.strip() for n in (params.get("models") or "").split(",") if n.strip()}
        engines = []
        for model_dir, metadata in find_model_dirs(models_dir):
            name = metadata.get("name") or model_dir.name
            if wanted and name not in wanted:
                continue
            try:
                engines.append(WhisperEngine(model_dir, metadata, **engine_kwargs))
            except Exception as exc:
                raise pb_utils.TritonModelException(f"transcribe: cannot load {model_dir}: {exc}") from exc
            self.logger.log_info(f"transcribe: loaded {name} (multilingual={engines[-1].multilingual}) from "
                                 f"{model_dir} on {engine_kwargs['device']}/{engine_kwargs['compute_type']}, "
                                 f"batched={engine_kwargs['batched']}")
        if not engines:
            message = (f"transcribe: no Whisper models in {models_dir}/transcribe/*/sentinel-model.json "
                       "(install them with triton/tools/install_whisper_models.py, then sync_model_store.py)")
            if params.get("allow_no_models", "true").lower() != "true":
                raise pb_utils.TritonModelException(message)
            self.logger.log_warn(message + "; every request will be refused")
            self.missing_models = message
            return None
        default = params.get("default_model", "")
        if default and default not in {e.name for e in engines}:
            self.logger.log_warn(f"transcribe: default_model {default!r} not loaded; using {engines[0].name}")
            default = engines[0].name
        router = ModelRouter(engines, default)
        if router.multilingual() is None:
            self.logger.log_warn("transcribe: no multilingual Whisper model loaded: languages cannot be detected, "
                                 "so other-language speech is transcribed by the English-only model unchecked "
                                 "(load whisper-base for language per region)")
        return router

    def execute(self, requests):
        responses: list = [None] * len(requests)
        jobs = []  # (request index, row, audio bytes, language, options)
        row_counts = {}
        for req_index, request in enumerate(requests):
            try:
                rows = self._plan_request(request)
            except AudioError as exc:
                responses[req_index] = _error_response(str(exc))
                continue
            row_counts[req_index] = len(rows)
            jobs += [(req_index, row, *rest) for row, *rest in rows]

        run = self.pool.map if self.pool is not None else map
        results: dict[int, list] = {i: [None] * n for i, n in row_counts.items()}
        for (req_index, row, *_), outcome in zip(jobs, run(self._run_row, jobs)):
            results[req_index][row] = outcome

        for req_index, outcomes in results.items():
            failed = [(row, o) for row, o in enumerate(outcomes) if isinstance(o, Exception)]
            if failed:
                row, exc = failed[0]
                internal = not isinstance(exc, AudioError)
                prefix = f"row {row}: " if len(outcomes) > 1 else ""
                responses[req_index] = _error_response(f"{prefix}{exc}", internal=internal)
            else:
                responses[req_index] = _success_response(outcomes)
        return responses

    def _plan_request(self, request) -> list[tuple[int, bytes, str | None, AsrOptions]]:
        if self.router is None:
            raise AudioError(self.missing_models)
        audio = _column(request, "AUDIO", required=True)
        languages = _column(request, "LANGUAGE", required=False)
        if languages is None:
            languages = [b""] * len(audio)
        prompts = _column(request, "PROMPT", required=False)
        if prompts is None:
            prompts = [b""] * len(audio)
        if len(languages) != len(audio) or len(prompts) != len(audio):
            raise AudioError("AUDIO, LANGUAGE and PROMPT must have the same batch size")
        options = parse_options(request.parameters(), self.max_audio_s)
        rows = []
        for row, (data, raw_lang, prompt) in enumerate(zip(audio, languages, prompts)):
            language = _text(raw_lang).strip().lower() or None
            self.router.pick(options.model, language)  # routing errors before any decoding
            try:
                row_options = options.with_prompt(_text(prompt)) if prompt else options
            except AudioError as exc:
                raise AudioError(f"row {row}: {exc}" if len(audio) > 1 else str(exc)) from None
            rows.append((row, bytes(data), language, row_options))
        return rows

    def _run_row(self, job) -> Transcript | Exception:
        _, _, data, language, options = job
        try:
            return transcribe_row(self.router, data, language, options, options.max_audio_s or self.max_audio_s)
        except Exception as exc:
            return exc

    def finalize(self):
        if self.pool is not None:
            self.pool.shutdown(wait=False)
        self.router = None


def _column(request, name: str, required: bool) -> list | None:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        if required:
            raise AudioError(f"missing input {name}")
        return None
    return list(tensor.as_numpy().reshape(-1))


def _text(value) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _bytes_column(values: list[str]) -> np.ndarray:
    return np.array([v.encode("utf-8") for v in values], dtype=np.object_).reshape(-1, 1)


def _success_response(transcripts: list[Transcript]):
    tensors = [
        pb_utils.Tensor("TEXT", _bytes_column([t.text for t in transcripts])),
        pb_utils.Tensor("LANGUAGE", _bytes_column([t.language for t in transcripts])),
        pb_utils.Tensor("SEGMENTS", _bytes_column([json.dumps(t.segments, ensure_ascii=False) for t in transcripts])),
        pb_utils.Tensor("MODEL", _bytes_column([t.model for t in transcripts])),
        pb_utils.Tensor("LANGUAGES", _bytes_column([json.dumps(t.languages) for t in transcripts])),
        pb_utils.Tensor("SPEECH_REGIONS", _bytes_column([json.dumps(t.speech_regions) for t in transcripts])),
        pb_utils.Tensor("CHANNELS", _bytes_column([json.dumps(t.channels, ensure_ascii=False) for t in transcripts])),
    ]
    for output, attr in FLOAT_OUTPUTS.items():
        values = np.array([getattr(t, attr) for t in transcripts], dtype=np.float32).reshape(-1, 1)
        tensors.append(pb_utils.Tensor(output, values))
    return pb_utils.InferenceResponse(output_tensors=tensors)


def _error_response(message: str, internal: bool = False):
    code_name = "INTERNAL" if internal else "INVALID_ARG"
    code = getattr(pb_utils.TritonError, code_name, None)
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)
