"""Word error rate: our normalisation, corpus-level rate (jiwer aligns)."""
import pytest

from bench.wer import normalize_words, word_error_rate


def test_wer_normalizes_case_punctuation_hyphens_and_small_numbers():
    assert normalize_words("The quick-brown FOX, isn't 9!") == ["the", "quick", "brown", "fox", "isn't", "nine"]
    assert word_error_rate(["The quick brown fox."], ["the quick brown fox"]) == 0.0
    # 1 substitution + 1 deletion over 4 + 1 insertion over 2 = 3 / 6
    assert word_error_rate(["a b c d", "e f"], ["a x c", "e f g"]) == pytest.approx(0.5)
    assert word_error_rate([""], ["anything"]) == 0.0
