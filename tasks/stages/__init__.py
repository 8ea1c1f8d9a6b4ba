"""The built-in shard stages (tasks/stage.py): translate, transcribe, speech-translate, and
`stage_from_dict`, which rebuilds any of them from `stage.stage_dict()` (e.g. in a child run)."""
from tasks.stage import ShardStage
from tasks.stages.speech_translate import SpeechTranslateStage
from tasks.stages.transcribe import TranscribeStage
from tasks.stages.translate import TranslateStage

STAGES: dict[str, type[ShardStage]] = {cls.name: cls for cls in (TranslateStage, TranscribeStage, SpeechTranslateStage)}


def stage_from_dict(doc: dict) -> ShardStage:
    """The stage `ShardStage.stage_dict()` described."""
    try:
        cls = STAGES[doc["stage"]]
    except KeyError:
        raise ValueError(f"unknown shard stage {doc.get('stage')!r} (known: {sorted(STAGES)})") from None
    return cls.from_dict(doc["settings"])


__all__ = ["STAGES", "SpeechTranslateStage", "TranscribeStage", "TranslateStage", "stage_from_dict"]
