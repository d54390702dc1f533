import os
import stat

import pandas as pd
import pytest

from pipeline.common.errors import DataError
from pipeline.common.io import (
    atomic_dir,
    markdown_cell,
    neutralise_formulas,
    read_csv,
    read_json,
    read_parquet,
    safe_text_frame,
    show_control_characters,
    write_csv_export,
    write_json,
)


def test_formulas_are_neutralised_and_other_text_kept():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "+49 Trading", "-Minus", "@Home", "Plain", None],
                          "amount": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    safe = neutralise_formulas(frame)
    assert safe["name"].tolist()[:5] == ["'=HYPERLINK(\"x\")", "'+49 Trading", "'-Minus", "'@Home", "Plain"]
    assert pd.isna(safe["name"].iloc[5])
    assert safe["amount"].tolist() == frame["amount"].tolist()  # numbers untouched
    assert frame["name"].iloc[0].startswith("=")  # input not mutated


def test_csv_export_round_trip_keeps_quotes_commas_and_newlines(tmp_path):
    frame = pd.DataFrame({"name": ['Smith, "Sons" & Co', "Line\nbreak", "Ünïcødé"]})
    write_csv_export(frame, tmp_path / "out.csv")
    assert pd.read_csv(tmp_path / "out.csv", encoding="utf-8-sig")["name"].tolist() == frame["name"].tolist()


def test_bidirectional_controls_are_shown_as_code_points_in_text_and_csv(tmp_path):
    spoofed = "Acme Trading \u202egnp.exe"
    assert show_control_characters(spoofed) == "Acme Trading [U+202E]gnp.exe"
    assert show_control_characters("\u2066a\u2069 \u202ab\u202c") == "[U+2066]a[U+2069] [U+202A]b[U+202C]"
    hebrew = "Müller \u05e9\u05dc\u05d5\u05dd"
    assert show_control_characters(hebrew) == hebrew  # right-to-left text itself is kept
    frame = pd.DataFrame({"name": [spoofed, None], "amount": [1.0, 2.0]})
    assert safe_text_frame(frame)["name"].iloc[0] == "Acme Trading [U+202E]gnp.exe"
    write_csv_export(frame.assign(note=["=\u202e1+1", "x"]), tmp_path / "out.csv")
    text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert "\u202e" not in text and "Acme Trading [U+202E]gnp.exe" in text and "'=[U+202E]1+1" in text


def test_failed_write_keeps_the_last_good_output(tmp_path):
    target = tmp_path / "report.json"
    write_json({"version": 1}, target)
    with pytest.raises(TypeError):
        write_json({1j: "keys must be strings"}, target)
    assert target.read_text(encoding="utf-8").strip().endswith("}")
    assert '"version": 1' in target.read_text(encoding="utf-8")
    folder = tmp_path / "scores"
    with atomic_dir(folder) as tmp:
        (tmp / "a.txt").write_text("good")
    with pytest.raises(RuntimeError), atomic_dir(folder) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("stage failed")
    assert (folder / "a.txt").read_text() == "good"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp leftovers


def test_markdown_cells_cannot_break_a_table_or_inject_html():
    assert markdown_cell("Retail | Wholesale\n<img src=x onerror=alert(1)>") == (
        "Retail \\| Wholesale &lt;img src=x onerror=alert(1)&gt;")
    assert markdown_cell("Müller & Söhne") == "Müller &amp; Söhne"
    assert markdown_cell(3) == "3"


@pytest.mark.parametrize("read, kind", [(read_csv, "CSV"), (read_json, "JSON"), (read_parquet, "Parquet")])
def test_missing_or_unreadable_stage_outputs_are_data_errors_naming_the_file(tmp_path, read, kind):
    with pytest.raises(DataError, match=r"missing\.out.*file not found.*dvc repro"):
        read(tmp_path / "missing.out")
    broken = tmp_path / "broken.out"
    broken.write_bytes(b"\x00\xff{not: [valid")
    with pytest.raises(DataError, match=f"broken\\.out.*cannot be read as {kind}"):
        read(broken)


def test_outputs_get_the_permissions_of_a_plain_write_not_private_temporary_ones(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json({"a": 1}, tmp_path / "out.json")
        with atomic_dir(tmp_path / "run") as tmp:
            (tmp / "inside.txt").write_text("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o755


def test_other_control_characters_are_shown_too_but_tab_and_line_breaks_kept():
    assert show_control_characters("nul\x00bell\x07 GmbH\x7f\x9b") == "nul[U+0000]bell[U+0007] GmbH[U+007F][U+009B]"
    assert show_control_characters("a\tb\nc\rd") == "a\tb\nc\rd"
