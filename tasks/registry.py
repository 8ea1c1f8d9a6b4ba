"""The built-in shard stages by name (the contract: tasks/engine/stage.py; each stage lives in its
modality's folder) and `stage_from_dict`, which rebuilds any of them from `stage.stage_dict()` (e.g. in a
shard-group child run). The one module that knows every modality: the engine never imports it."""
from tasks.engine.stage import ShardStage
from tasks.speech_translate.stage import SpeechTranslateStage
from tasks.transcribe.stage import TranscribeStage
from tasks.translate.stage import TranslateStage

STAGES: dict[str, type[ShardStage]] = {cls.name: cls for cls in (TranslateStage, TranscribeStage, SpeechTranslateStage)}


def stage_from_dict(doc: dict) -> ShardStage:
    """The stage `ShardStage.stage_dict()` described."""
    try:
        cls = STAGES[doc["stage"]]
    except KeyError:
        raise ValueError(f"unknown shard stage {doc.get('stage')!r} (known: {sorted(STAGES)})") from None
    return cls.from_dict(doc["settings"])


__all__ = ["STAGES", "stage_from_dict"]
