"""Speaker turns from clustered windows; transcript segments labelled and split at word timestamps."""
import numpy as np

from tasks.diarization.turns import Turn, label_segments, speaker_at, speaker_turns, speakers_of, turn_text


def test_windows_share_their_piece_halfway_between_centres_and_speakers_are_named_by_first_speech():
    speech = [(0.0, 4.0), (5.0, 7.0)]
    windows = np.array([[0.0, 1.6], [0.8, 2.4], [1.6, 3.2], [2.4, 4.0], [5.0, 6.6], [5.4, 7.0]])
    labels = np.array([7, 7, 3, 3, 7, 7])  # cluster ids are arbitrary
    turns = speaker_turns(windows, labels, speech)
    assert turns == [Turn(0.0, 2.0, "S1"), Turn(2.0, 4.0, "S2"), Turn(5.0, 7.0, "S1")]
    assert speakers_of(turns) == ["S1", "S2"]


def test_one_odd_window_between_two_agreeing_neighbours_is_smoothed_away():
    speech = [(0.0, 4.0)]
    windows = np.array([[0.0, 1.6], [0.8, 2.4], [1.6, 3.2], [2.4, 4.0]])
    assert speaker_turns(windows, np.array([0, 1, 0, 0]), speech) == [Turn(0.0, 4.0, "S1")]
    assert len(speaker_turns(windows, np.array([0, 1, 0, 0]), speech, smooth=False)) == 3


def test_a_piece_too_short_for_a_window_takes_the_nearest_windows_speaker():
    speech = [(0.0, 1.6), (2.0, 2.3), (8.0, 9.6)]
    windows = np.array([[0.0, 1.6], [8.0, 9.6]])
    turns = speaker_turns(windows, np.array([1, 0]), speech)
    assert turns == [Turn(0.0, 1.6, "S1"), Turn(2.0, 2.3, "S1"), Turn(8.0, 9.6, "S2")]
    assert speaker_turns(np.zeros((0, 2)), np.zeros(0), speech) == []


def test_a_span_goes_to_the_speaker_it_overlaps_most_else_the_nearest():
    turns = [Turn(0.0, 2.0, "S1"), Turn(2.0, 5.0, "S2"), Turn(9.0, 10.0, "S1")]
    assert speaker_at(1.5, 3.0, turns) == "S2" and speaker_at(0.0, 2.5, turns) == "S1"
    assert speaker_at(6.0, 6.5, turns) == "S2" and speaker_at(8.0, 8.5, turns) == "S1"


def test_segments_are_labelled_and_split_where_their_words_change_speaker():
    turns = [Turn(0.0, 2.1, "S1"), Turn(2.1, 5.0, "S2")]
    words = [{"start": 0.1, "end": 0.5, "word": "Good"}, {"start": 0.5, "end": 1.2, "word": "morning."},
             {"start": 2.3, "end": 2.6, "word": "Hi"}, {"start": 2.6, "end": 3.0, "word": "there."}]
    segments = [{"start": 0.0, "end": 3.0, "text": "Good morning. Hi there.", "language": "en", "words": words,
                 "avg_logprob": -0.2},
                {"start": 3.2, "end": 4.8, "text": "How are you?", "language": "en"}]
    out = label_segments(segments, turns)
    assert [(s["start"], s["end"], s["text"], s["speaker"]) for s in out] == [
        (0.1, 1.2, "Good morning.", "S1"), (2.3, 3.0, "Hi there.", "S2"), (3.2, 4.8, "How are you?", "S2")]
    assert out[0]["words"] == words[:2] and out[1]["avg_logprob"] == -0.2
    assert turn_text(out) == "[S1] Good morning. [S2] Hi there. How are you?"


def test_one_stray_word_does_not_split_a_segment_and_no_space_languages_join_without_spaces():
    turns = [Turn(0.0, 1.0, "S1"), Turn(1.0, 1.2, "S2"), Turn(1.2, 3.0, "S1")]
    words = [{"start": 0.1, "end": 0.9, "word": "one"}, {"start": 1.0, "end": 1.2, "word": "two"},
             {"start": 1.3, "end": 2.0, "word": "three"}]
    [one] = label_segments([{"start": 0.0, "end": 2.0, "text": "one two three", "words": words}], turns)
    assert one["speaker"] == "S1" and one["text"] == "one two three"
    turns = [Turn(0.0, 1.0, "S1"), Turn(1.0, 3.0, "S2")]
    zh = [{"start": 0.1, "end": 0.5, "word": "你好"}, {"start": 0.5, "end": 0.9, "word": "吗"},
          {"start": 1.2, "end": 1.6, "word": "我"}, {"start": 1.6, "end": 2.0, "word": "很好"}]
    out = label_segments([{"start": 0.0, "end": 2.0, "text": "你好吗我很好", "language": "zh", "words": zh}], turns)
    assert [s["text"] for s in out] == ["你好吗", "我很好"]


def test_without_turns_segments_are_unchanged():
    segments = [{"start": 0.0, "end": 1.0, "text": "Hello."}]
    assert label_segments(segments, []) == segments and turn_text(segments) == "Hello."
