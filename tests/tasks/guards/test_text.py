from tasks.guards.text import char_ngrams, fold, main_script, normalise_lang, script_of, tokens


def test_normalise_lang_handles_regions_scripts_and_three_letter_codes():
    assert normalise_lang("en-US") == "en"
    assert normalise_lang("pt_BR") == "pt"
    assert normalise_lang("zh-Hant") == "zh"
    assert normalise_lang("deu") == "de"
    assert normalise_lang(None) == ""


def test_scripts():
    assert script_of("a") == "latin"
    assert script_of("東") == "han"
    assert script_of("カ") == "katakana"
    assert script_of("ｶ") == "katakana"  # half-width
    assert script_of("한") == "hangul"
    assert script_of("1") == ""
    assert main_script("Привет, мир") == "cyrillic"


def test_tokens_split_unspaced_scripts_into_characters():
    assert tokens("Hello world") == ["hello", "world"]
    assert tokens("東京タワー") == ["東", "京", "タ", "ワ", "ー"]
    assert tokens("iPhone 12を買った") == ["iphone", "12", "を", "買", "っ", "た"]


def test_fold_and_ngrams():
    assert fold("München!") == "munchen"
    assert char_ngrams("abcd") == {"abc", "bcd"}
    assert char_ngrams("") == set()
