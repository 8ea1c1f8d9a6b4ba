"""Run one batch flow in this process and write its outcome as JSON (the chaos suite runs flows
in subprocesses so that it can SIGKILL them, and so that their environment points only at the
private stack).

    python tests/reliability/flow_runner.py translate|transcribe|speech-translate '<params json>' <result.json>
"""
from __future__ import annotations

import json
import sys
import time
import traceback


def main(kind: str, params: dict, out_path: str) -> int:
    started = time.perf_counter()
    doc: dict = {"kind": kind, "params": params}
    try:
        if kind == "translate":
            from flows.translate_batch import translate_batch as flow
        elif kind == "transcribe":
            from flows.transcribe_batch import transcribe_batch as flow
        elif kind == "speech-translate":
            from flows.speech_translate import speech_translate as flow
        else:
            raise ValueError(kind)
        state = flow(return_state=True, **params)
        result = state.result(raise_on_failure=False)
        doc.update(state=state.name, completed=state.is_completed(),
                   flow_run_id=str(state.state_details.flow_run_id),
                   result=result if isinstance(result, dict) else None,
                   error=None if isinstance(result, dict) else repr(result))
    except BaseException as exc:
        doc.update(state="Crashed", completed=False, result=None, error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc())
    doc["seconds"] = round(time.perf_counter() - started, 2)
    with open(out_path, "w") as fh:
        json.dump(doc, fh, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]))
