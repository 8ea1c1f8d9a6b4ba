"""One clip's speakers from its windows, and when the assignment is unreliable."""
import numpy as np

from tasks.diarization.speakers import DiarizeSettings, diarize_windows


def unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=float)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


A, B = [1.0, 0.1, 0.0], [0.0, 0.1, 1.0]


def windows(count: int, start: float = 0.0, step: float = 0.8) -> np.ndarray:
    return np.array([[start + i * step, start + i * step + 1.6] for i in range(count)])


def test_two_voices_two_speakers_no_reasons():
    w = np.concatenate([windows(5), windows(5, start=10.0)])
    found = diarize_windows(w, unit([A] * 5 + [B] * 5), [(0.0, 4.8), (10.0, 14.8)], DiarizeSettings())
    assert found.speakers == ["S1", "S2"] and found.reasons == [] and found.auto_count == 2
    assert [(t.start, t.end, t.speaker) for t in found.turns] == [(0.0, 4.8, "S1"), (10.0, 14.8, "S2")]


def test_a_speaker_with_too_little_speech_is_unreliable():
    w = np.concatenate([windows(6), windows(1, start=10.0)])
    speech = [(0.0, 5.6), (10.0, 10.6)]
    w[-1] = [10.0, 10.6]
    found = diarize_windows(w, unit([A] * 6 + [B]), speech, DiarizeSettings(min_speaker_s=1.0))
    assert found.speakers == ["S1", "S2"]
    assert found.reasons == ["speakers unreliable: too little speech to tell a voice apart (S2 0.6 s; under 1 s)"]


def test_two_speakers_asked_of_one_voice_is_unreliable():
    found = diarize_windows(windows(8), unit([A] * 8), [(0.0, 7.2)], DiarizeSettings(num_speakers=2))
    assert found.auto_count == 1
    assert "2 speakers asked, but the voices form one cluster" in found.reasons[0]
    few = diarize_windows(windows(1), unit([A]), [(0.0, 1.6)], DiarizeSettings(num_speakers=3))
    assert few.reasons == ["speakers unreliable: 3 speakers asked, but only 1 speech window(s)"]


def test_speech_without_a_window_is_one_unreliable_speaker_and_no_speech_is_none():
    found = diarize_windows(np.zeros((0, 2)), np.zeros((0, 256)), [(1.0, 1.3)], DiarizeSettings())
    assert found.speakers == ["S1"] and "no speech window long enough" in found.reasons[0]
    silent = diarize_windows(np.zeros((0, 2)), np.zeros((0, 256)), [], DiarizeSettings())
    assert silent.speakers == [] and silent.reasons == [] and silent.turns == []
