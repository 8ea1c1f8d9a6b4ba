"""Who spoke when, for the transcripts of one record batch (transcribe-batch and speech-translate
with `diarize` on).

    results, speakers, reasons = await diarize_results(client, clips, results, rows, settings)

For each transcribed row: the `speaker` model embeds windows of the clip's speech (inside the VAD
regions the `transcribe` model reported), the windows are clustered into speakers and turned into
turns (tasks/diarization/), every segment gets its `speaker` (split where its words change speaker),
and the transcript marks each turn (`[S1] ... [S2] ...`). A row whose speaker assignment is
unreliable keeps it with the reason (tasks/diarization/speakers.py); a clip the speaker model
refuses keeps its transcript unlabelled, with the model's reason. Nothing else of the row changes:
the guards have already judged the transcript as Whisper wrote it.
"""
from __future__ import annotations

import json
from dataclasses import replace

from tasks.diarization.speakers import UNRELIABLE, ClipSpeakers, DiarizeSettings, diarize_windows
from tasks.diarization.turns import Turn, label_segments, turn_text
from tasks.inference.asr_client import AsrResult
from tasks.inference.speaker_client import SpeakerWindows, TritonSpeakerClient


def with_speakers(result: AsrResult, found: ClipSpeakers) -> AsrResult:
    """The result with labelled (and split) segments and a transcript that marks the turns."""
    segments = result.segment_list
    turns = found.turns or [Turn(0.0, float(result.duration_s or 0.0), "S1")]
    labelled = label_segments(segments, turns)
    speakers = list(dict.fromkeys([*found.speakers, *(s["speaker"] for s in labelled if s.get("speaker"))]))
    return replace(result, segments=json.dumps(labelled, ensure_ascii=False), text=turn_text(labelled),
                   speakers=speakers)


def clip_speakers(result: AsrResult, windows: SpeakerWindows, settings: DiarizeSettings) -> ClipSpeakers:
    if windows.error is not None:
        return ClipSpeakers(reasons=[f"{UNRELIABLE}: the speaker model refused the clip ({windows.error})"])
    found = diarize_windows(windows.windows, windows.embeddings, windows.speech, settings)
    if not found.turns:
        seconds = sum(float(r["end"]) - float(r["start"]) for r in result.region_list)
        found.reasons.append(f"{UNRELIABLE}: no speech to tell voices apart in {seconds:.1f} s of speech regions")
    return found


async def diarize_results(client: TritonSpeakerClient, clips: list[bytes | None], results: list[AsrResult | None],
                          rows: list[int], settings: DiarizeSettings
                          ) -> tuple[list[AsrResult | None], dict[int, list[str]]]:
    """results[rows] (transcribed rows) with speakers; the reasons per row whose assignment is
    unreliable. Rows with no segments get `speakers` [] and are not sent to the speaker model."""
    results = list(results)
    heard = [i for i in rows if results[i] is not None and results[i].segment_list]
    for i in rows:
        if results[i] is not None and i not in heard:
            results[i] = replace(results[i], speakers=[])
    found = await client.embed([clips[i] for i in heard],
                               [[(r["start"], r["end"]) for r in results[i].region_list] for i in heard])
    reasons: dict[int, list[str]] = {}
    for i, windows in zip(heard, found):
        clip = clip_speakers(results[i], windows, settings)
        if windows.error is None:
            results[i] = with_speakers(results[i], clip)
        if clip.reasons:
            reasons[i] = clip.reasons
    return results, reasons
