"""check-mt's sentence alignment of documents: by length, and by meaning where lengths mislead."""

import numpy as np

from tasks.guards.mt.alignment import segment_pairs
from tasks.guards.mt.settings import MTGuardSettings
from tasks.guards.mt.similarity import embed


def test_sentences_are_aligned_by_meaning_where_lengths_mislead():
    """The translation moved half of sentence 1 into a sentence with sentence 2: by length alone the
    second and third sentences pair 1:1, each with the wrong content; with the embeddings they form
    one 2:2 unit that says what its source says."""
    src = ("Herzlich willkommen. Unser Hotel liegt im Zentrum der Altstadt, nur wenige Schritte vom Dom "
           "entfernt. Parkplätze gibt es in der Tiefgarage.")
    mt = ("Welcome. Our hotel is in the centre of the old town. It is only a few steps from the cathedral, "
          "and parking is available in the underground car park.")
    by_length = MTGuardSettings.model_validate({"similarity": {"enabled": False}})
    assert [u[2] for u in segment_pairs([src], [mt], ["de"], ["en"], by_length)[0][0]] == [[0], [1], [2]]
    units = segment_pairs([src], [mt], ["de"], ["en"], MTGuardSettings())[0][0]
    assert [u[2] for u in units] == [[0], [1, 2]]
    assert units[1][1].startswith("Our hotel") and units[1][1].endswith("car park.")
    vectors = segment_pairs([src], [mt], ["de"], ["en"], MTGuardSettings())[1]
    assert "Welcome." in vectors and np.allclose(vectors["Welcome."], embed(["Welcome."])[0], atol=1e-5)


def test_one_sentence_texts_are_aligned_by_length_and_encode_nothing():
    per_text, vectors = segment_pairs(["Guten Morgen.", ""], ["Good morning.", "Hello."], ["de", "de"], ["en", "en"],
                                      MTGuardSettings())
    assert per_text == [[("Guten Morgen.", "Good morning.", [0])], [("", "Hello.", [0])]] and vectors == {}
