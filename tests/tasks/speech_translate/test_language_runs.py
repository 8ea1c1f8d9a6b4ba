"""A code-switched transcript cut into runs per language, and the runs' translations put back together."""
import json

from tasks.engine.row_status import RowStatus
from tasks.speech_translate.language_runs import LanguageRun, language_runs, merge_runs


def segments(*pieces):
    return json.dumps([{"text": f" {text}", "language": lang, "start": i, "end": i + 1}
                       for i, (text, lang) in enumerate(pieces)])


def test_consecutive_segments_of_one_language_make_one_run():
    transcript = "Guten Morgen. Wie geht es? Bonjour à tous. Danke."
    runs = language_runs(transcript, segments(("Guten Morgen.", "de"), ("Wie geht es?", "de"),
                                              ("Bonjour à tous.", "fr"), ("Danke.", "de")), "de")
    assert [(transcript[r.start:r.end], r.language) for r in runs] == [
        ("Guten Morgen. Wie geht es?", "de"), ("Bonjour à tous.", "fr"), ("Danke.", "de")]


def test_one_language_or_unlocatable_segments_keep_the_whole_transcript():
    transcript = "[ch0] Hallo. [ch1] Salut."
    whole = [LanguageRun(0, len(transcript), "de")]
    assert language_runs(transcript, segments(("Hallo.", "de")), "de") == whole  # "Salut." is in no segment
    assert language_runs(transcript, segments(("Hallo.", "de"), ("Salut.", "de")), "de") == whole
    assert language_runs(transcript, segments(("Salut.", "fr"), ("Hallo.", "de")), "de") == whole  # out of order
    assert language_runs(transcript, "not json", "de") == whole
    assert language_runs(transcript, None, "de") == whole
    split = language_runs(transcript, segments(("Hallo.", "de"), ("Salut.", "fr")), "de")
    assert [transcript[r.start:r.end] for r in split] == ["Hallo.", "Salut."]  # labels stay between runs


def run_output(translation, sentences=1, status=RowStatus.OK, score=0.1, reasons=(), flagged=(), error=None):
    return {"translation": translation, "logprob": -0.5, "model": "m", "status": status, "error": error,
            "hallucination_score": score, "reasons": list(reasons), "redecoded": False,
            "flagged_sentences": list(flagged), "sentences": sentences}


def test_runs_are_put_back_in_place_and_judged_as_one_row():
    transcript = "[ch0] Guten Morgen. Wie geht es? [ch1] Bonjour."
    runs = language_runs(transcript, segments(("Guten Morgen.", "de"), ("Wie geht es?", "de"),
                                              ("Bonjour.", "fr")), "de")
    merged = merge_runs(transcript, runs, [
        run_output("Good morning. How are you?", sentences=2),
        run_output("Hello.", status=RowStatus.FLAGGED, score=0.9, reasons=["similarity (0.90): cosine 0.1"],
                   flagged=[0])])
    assert merged["translation"] == "[ch0] Good morning. How are you? [ch1] Hello."
    assert merged["status"] == RowStatus.FLAGGED and merged["hallucination_score"] == 0.9
    assert merged["flagged_sentences"] == [2]
    assert merged["reasons"] == ["sentence 2: similarity (0.90): cosine 0.1"]


def test_a_failed_run_fails_the_row_and_says_which_language():
    runs = [LanguageRun(0, 5, "de"), LanguageRun(6, 11, "fr")]
    merged = merge_runs("Hallo Salut", runs, [run_output("Hello"),
                                              run_output(None, status=RowStatus.FAILED, error="no fr-en model")])
    assert merged["status"] == RowStatus.FAILED and merged["error"] == "fr part: no fr-en model"


def test_a_single_run_passes_through_unchanged():
    out = run_output("Hello.", reasons=["sentence 1: x"])
    assert merge_runs("Hallo.", [LanguageRun(0, 6, "de")], [out]) == {k: v for k, v in out.items() if k != "sentences"}


def test_speaker_labels_stay_between_the_runs_of_a_diarized_transcript():
    transcript = "[S1] Guten Morgen. [S2] Bonjour. [S1] Danke."
    runs = language_runs(transcript, segments(("Guten Morgen.", "de"), ("Bonjour.", "fr"), ("Danke.", "de")), "de")
    assert [transcript[r.start:r.end] for r in runs] == ["Guten Morgen.", "Bonjour.", "Danke."]
    merged = merge_runs(transcript, runs, [run_output("Good morning."), run_output("Hello."), run_output("Thanks.")])
    assert merged["translation"] == "[S1] Good morning. [S2] Hello. [S1] Thanks."
