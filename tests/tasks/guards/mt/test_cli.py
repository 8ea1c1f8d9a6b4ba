"""`sentinel check-mt`'s arguments and exit codes."""

import argparse
import json

from tasks.guards.mt.cli import add_check_mt_arguments, main_check_mt

GOOD = ("Die Zimmer waren sauber und das Frühstück war sehr gut.", "The rooms were clean and the breakfast was very good.",
        "de", "en")


def test_cli_hooks(tmp_path, capsys):
    path = tmp_path / "rows.csv"
    path.write_text("src,mt,src_lang,tgt_lang\n" + ",".join(f'"{v}"' for v in GOOD) + "\n")
    settings_path = tmp_path / "guards.json"
    settings_path.write_text(json.dumps({"combine": {"threshold": 0.9}}))
    parser = add_check_mt_arguments(argparse.ArgumentParser())
    args = parser.parse_args(
        ["--input", str(path), "--output", str(tmp_path / "o.parquet"), "--settings", str(settings_path)]
    )
    assert main_check_mt(args) == 0
    assert "1 rows, 0 flagged" in capsys.readouterr().out
    bad = parser.parse_args(["--input", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "o.parquet")])
    assert main_check_mt(bad) == 2
    assert "missing.csv" in capsys.readouterr().out


def test_rows_whose_target_language_cannot_be_checked_are_counted(tmp_path, capsys):
    """A tgt_lang the language check does not know (or none) skips that detector: said, not silent."""
    path = tmp_path / "rows.csv"
    src, mt, _, _ = GOOD
    path.write_text("src,mt,src_lang,tgt_lang\n" + "".join(f'"{src}","{mt}",de,{code}\n' for code in
                                                          ("en", "EN-us", "", "xq", "xq")))
    parser = add_check_mt_arguments(argparse.ArgumentParser())
    assert main_check_mt(parser.parse_args(["--input", str(path), "--output", str(tmp_path / "o.parquet")])) == 0
    out = capsys.readouterr().out
    assert "warning: 3 rows have a tgt_lang the language check does not know ('xq': 2, 'missing': 1)" in out
