"""Triton python-backend model `speaker`: speaker embeddings of the speech windows of one clip (README.md).

AUDIO (BYTES [1], an encoded audio file) -> EMBEDDING (FP32 [n, 256], unit length), WINDOW (FP32
[n, 2], start/end seconds of each embedded window), SPEECH (BYTES [1], JSON [[start, end], ...] of
the speech the windows were cut from), DURATION_S (FP32 [1]). One clip per request
(`max_batch_size` 0: the window count differs per clip); the clip's windows share ONNX Runtime calls.
The work lives in voice_encoder.py (no Triton import). The encoder is read from
``<models_dir>/speaker/<name>/`` (``encoder.onnx``, built by triton/tools/install_speaker_model.py).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
from voice_encoder import SpeakerError, VoiceEncoder, find_model_dirs, parse_options

# config parameters that are also the requests' defaults
WINDOW_DEFAULTS = ("window_s", "step_s", "min_window_s", "min_pause_s", "normalize")


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        models_dir = params.get("models_dir") or os.environ.get("SENTINEL_MODELS_DIR", "")
        self.max_audio_s = float(params.get("max_audio_s") or 3600)
        self.defaults = {k: params[k] for k in WINDOW_DEFAULTS if params.get(k)}
        device = params.get("device") or ("cuda" if args.get("model_instance_kind") == "GPU" else "cpu")
        self.encoder, self.missing = None, None
        found = find_model_dirs(Path(models_dir)) if models_dir else []
        wanted = params.get("model") or ""
        if wanted:
            found = [d for d in found if d.name == wanted]
        if not found:
            where = f"{models_dir or '$SENTINEL_MODELS_DIR'}/speaker/{wanted or '*'}/encoder.onnx"
            self.missing = (f"speaker: no speaker encoder in {where} (install it with "
                            "triton/tools/install_speaker_model.py, then sync_model_store.py)")
            if params.get("allow_no_models", "true").lower() != "true":
                raise pb_utils.TritonModelException(self.missing)
            pb_utils.Logger.log_warn(self.missing + "; every request will be refused")
            return
        try:
            self.encoder = VoiceEncoder(found[0], device=device, threads=int(params.get("threads") or 1),
                                        device_id=int(args.get("model_instance_device_id") or 0),
                                        max_windows=int(params.get("max_windows") or 256))
        except Exception as exc:
            raise pb_utils.TritonModelException(f"speaker: cannot load {found[0]} on {device}: {exc}") from exc
        pb_utils.Logger.log_info(f"speaker: {self.encoder.name} from {found[0]} on {device}, "
                                 f"providers {self.encoder.providers}")

    def execute(self, requests):
        return [self._one(request) for request in requests]

    def _one(self, request):
        try:
            if self.encoder is None:
                raise SpeakerError(self.missing)
            tensor = pb_utils.get_input_tensor_by_name(request, "AUDIO")
            if tensor is None:
                raise SpeakerError("missing input AUDIO")
            values = tensor.as_numpy().reshape(-1)
            if values.size != 1:
                raise SpeakerError(f"one clip per request (AUDIO has {values.size})")
            options = parse_options(request.parameters(), self.max_audio_s, self.defaults)
            found = self.encoder.embed_clip(bytes(values[0]), options, self.max_audio_s)
        except SpeakerError as exc:
            return _error_response(str(exc))
        except Exception as exc:  # an unexpected failure of this request only
            return _error_response(f"speaker: {type(exc).__name__}: {exc}", internal=True)
        speech = json.dumps([[round(a, 3), round(b, 3)] for a, b in found.speech])
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("EMBEDDING", found.embeddings.astype(np.float32)),
            pb_utils.Tensor("WINDOW", found.windows.astype(np.float32)),
            pb_utils.Tensor("SPEECH", np.array([speech.encode()], dtype=np.object_)),
            pb_utils.Tensor("DURATION_S", np.array([found.duration_s], dtype=np.float32)),
        ])

    def finalize(self):
        self.encoder = None


def _error_response(message: str, internal: bool = False):
    code = getattr(pb_utils.TritonError, "INTERNAL" if internal else "INVALID_ARG", None)
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)
