"""Triton python-backend model `echo`: the translate interface with no model behind it.

TRANSLATION = TEXT (the same object array, no per-row decoding), LOGPROB = 0.0, MODEL = "echo".
SRC_LANG/TGT_LANG are required like in translate but not read. Used to measure pipeline overhead.
"""
import numpy as np
import triton_python_backend_utils as pb_utils

MODEL_NAME = np.array([b"echo"], dtype=np.object_)


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
            rows = text.shape[0]
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("TRANSLATION", text),
                pb_utils.Tensor("LOGPROB", np.zeros((rows, 1), dtype=np.float32)),
                pb_utils.Tensor("MODEL", np.broadcast_to(MODEL_NAME, (rows, 1)).copy()),
            ]))
        return responses
