import math

from tasks.guards.mt.base import TranslationBatch
from tasks.guards.mt.entities import EntityDetector, extract_entities
from tasks.guards.mt.settings import EntitySettings


def _score(src, mt, src_lang="en", tgt_lang="de"):
    batch = TranslationBatch.build([src], [mt], [src_lang], [tgt_lang])
    result = EntityDetector(EntitySettings()).score(batch)
    return result.scores[0], result.details[0]


def test_translated_city_names_are_not_failures():
    assert _score("We drove to Munich with Angela Merkel.", "Wir fuhren mit Angela Merkel nach München.")[0] == 0.0
    assert _score("The concert is in Vienna.", "Das Konzert ist in Wien.")[0] == 0.0


def test_dropped_name_is_caught():
    score, detail = _score("We drove to Munich with Angela Merkel.", "Wir fuhren mit ihr in die Stadt.")
    assert score == 1.0 and "Merkel" in detail


def test_copied_url_and_email_pass():
    src = "Mehr Informationen unter https://www.example.com/info oder info@example.org."
    mt = "More information at https://www.example.com/info or info@example.org."
    assert _score(src, mt, "de", "en")[0] == 0.0


def test_dropped_or_invented_url_is_caught():
    assert _score("Mehr unter www.example.com/info.", "More on our website.", "de", "en")[0] == 1.0
    assert _score("Mehr auf unserer Webseite.", "More at www.example.net.", "de", "en")[0] == 1.0


def test_codes_must_survive():
    assert _score("Der Airbus A380 fliegt.", "The Airbus A380 flies.", "de", "en")[0] == 0.0
    assert _score("Der Airbus A380 fliegt.", "The Airbus flies.", "de", "en")[0] == 1.0
    assert (
        _score("Zertifikate auf Basis von X.509-Schlüsseln", "certificates based on X.509 keys", "de", "en")[0] == 0.0
    )


def test_german_capitalised_nouns_are_not_names():
    # every German noun is capitalised: only codes/URLs are read from a German source
    assert math.isnan(_score("Das Haus hat einen schönen Garten.", "The house has a nice garden.", "de", "en")[0])
    assert extract_entities("Wir haben das Haus mit einem schönen Garten gekauft.", names=True)  # unless asked to


def test_headline_case_and_shouting_are_not_entities():
    assert not [
        e for e in extract_entities("Mutual Recognition Agreement Signed Today", names=True) if e.kind == "name"
    ]
    assert extract_entities("Er STIMMT DARIN ÜBEREIN, dass", names=False) == []
