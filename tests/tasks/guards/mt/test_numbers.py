import math

import pytest

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.numbers import NumberDetector, clock_values, extract_numbers, read_values, unmatched
from tasks.guards.mt.settings import NumberSettings


def _score(src, mt):
    batch = TranslationBatch.build([src], [mt], ["de"], ["en"])
    result = NumberDetector(NumberSettings()).score(batch)
    return result.scores[0], result.details[0]


def test_thousands_separators_of_every_convention_match():
    for src in (
        "Es kostet 1.000 Euro.",
        "Es kostet 1 000 Euro.",
        "Es kostet 1\u00a0000 Euro.",
        "Es kostet 1'000 Euro.",
    ):
        for mt in ("It costs 1,000 euros.", "It costs 1000 euros.", "It costs 1 000 euros."):
            assert _score(src, mt)[0] == 0.0, (src, mt)


def test_decimal_comma_matches_decimal_point():
    assert _score("Das Paket wiegt 3,5 kg.", "The parcel weighs 3.5 kg.")[0] == 0.0
    assert _score("Umsatz: 1.234,56 Euro", "Turnover: 1,234.56 euros")[0] == 0.0


def test_different_number_is_caught():
    score, detail = _score("Das Paket wiegt 3,5 kg.", "The parcel weighs 35 kg.")
    assert score == 1.0
    assert "missing 3,5" in detail and "not in source 35" in detail


def test_dropped_and_invented_numbers_are_caught():
    assert _score("Im Jahr 2008 kamen 300 Gäste.", "In 2008 guests came.")[0] == pytest.approx(1 / 3)
    assert _score("Der Service war gut.", "The service was good for 24 hours.")[0] == 1.0


def test_no_numbers_means_not_scored():
    assert math.isnan(_score("Guten Morgen.", "Good morning.")[0])


def test_number_words_dates_times_and_scales():
    assert _score("Wir blieben 3 Tage.", "We stayed three days.")[0] == 0.0
    assert _score("Wir blieben drei Tage.", "We stayed 3 days.")[0] == 0.0
    assert _score("am 12.05.2018", "on 12 May 2018")[0] == 0.0
    assert _score("um 19.30 Uhr", "at 7.30 p.m.")[0] == 0.0
    assert _score("um 15:00 Uhr", "at 3 pm")[0] == 0.0
    assert _score("Kosten von 2,5 Mio. Euro", "costs of 2.5 million euros")[0] == 0.0
    assert _score("Kosten von 2,5 Mio. Euro", "costs of EUR 2,500,000")[0] == 0.0


def test_read_values():
    assert read_values("1,000") == [frozenset({1000.0, 1.0})]
    assert read_values("3,5") == [frozenset({3.5})]
    assert read_values("1.000.000") == [frozenset({1e6})]
    assert len(read_values("1.2.3")) == 3  # version / date: part by part
    assert clock_values("19.30") == frozenset({19.3, 7.3})
    assert clock_values("25.30") is None


def test_unmatched_pairs_each_mention_once():
    missing, extra = unmatched(extract_numbers("5 und 5"), extract_numbers("5"))
    assert [m.text for m in missing] == ["5"] and extra == []
