from tasks.guards.text import char_ngrams, fold, main_script, normalise_lang, script_of, tokens


def test_normalise_lang_handles_regions_scripts_and_three_letter_codes():
    assert normalise_lang("en-US") == "en"
    assert normalise_lang("pt_BR") == "pt"
    assert normalise_lang("zh-Hant") == "zh"
    assert normalise_lang("deu") == "de"
    assert normalise_lang(None) == ""


def test_normalise_lang_standardises_with_langcodes_then_takes_the_closest_code_the_identifier_knows():
    from tasks.text.language_id import known_languages

    codes = {"fas": "fa", "cat": "ca", "slk": "sk", "hrv": "hr", "est": "et", "lit": "lt", "msa": "ms",
             "ben": "bn", "iw": "he", "in": "id", "nob": "no", "zh-TW": "zh", "cmn": "zh", "sh": "sr", "mo": "ro"}
    assert {code: normalise_lang(code) for code in codes} == codes
    assert set(codes.values()) <= known_languages()
    assert normalise_lang("haw") == "haw"  # another language (English is not 'close'): left for the reasons
    assert normalise_lang("und") == "" and normalise_lang("  ") == ""
    assert normalise_lang("english") == "english"  # not a tag: kept, so a reason can name it


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
