"""Detection of file kinds, delimiters, number and date formats and size bands (pipeline/common/sniff.py)."""

import gzip
import zipfile

import pandas as pd
import pytest

from pipeline.common.sniff import (
    FormatError,
    NumberFormat,
    currencies,
    guess_delimiter,
    infer_date_format,
    infer_number_format,
    parse_band,
    sniff_file,
    to_datetimes,
    to_numbers,
)


@pytest.mark.parametrize(
    ("content", "kind", "encoding"),
    [
        (b"", "empty", None),
        (b"a,b\n1,2\n", "text", None),
        (b"\xef\xbb\xbfa,b\n", "text", "utf-8-sig"),
        ("a,b\n".encode("utf-16"), "text", "utf-16"),
        (b"PAR1\x15\x04", "parquet", None),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "xls", None),
        (b"%PDF-1.7\n", "pdf", None),
        (b"\x00\x01\x02\x03", "binary", None),
    ],
    ids=["empty", "text", "utf8_bom", "utf16_bom", "parquet", "xls", "pdf", "binary"],
)
def test_sniff_file_by_its_bytes(tmp_path, content, kind, encoding):
    path = tmp_path / "export.csv"  # the name never decides
    path.write_bytes(content)
    sniff = sniff_file(path)
    assert (sniff.kind, sniff.encoding) == (kind, encoding)


def test_sniff_file_tells_gzip_zip_and_xlsx_apart(tmp_path):
    (tmp_path / "a.csv").write_bytes(gzip.compress(b"a,b\n1,2\n"))
    with zipfile.ZipFile(tmp_path / "b.csv", "w") as archive:
        archive.writestr("export.csv", "a,b\n")
    with zipfile.ZipFile(tmp_path / "c.dat", "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert sniff_file(tmp_path / "a.csv").kind == "gzip"
    assert sniff_file(tmp_path / "b.csv").kind == "zip"
    assert "export.csv" in sniff_file(tmp_path / "b.csv").description
    assert sniff_file(tmp_path / "c.dat").kind == "xlsx"


@pytest.mark.parametrize(
    ("sample", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1,5;2,5;3\n", ";"),  # decimal commas inside semicolon fields
        ("a\tb\n1\t2\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('name,city\n"Smith, John",Berlin\n', ","),  # a quoted comma is no delimiter
        ("id   amount  date\n1    10.5    2023-01-02\n", "whitespace"),
        ("a;b\n1;2\n3;", ";"),  # the cut-off last line is ignored
        ("amount\n10\n", ","),  # one column: nothing to split
    ],
)
def test_guess_delimiter(sample, delimiter):
    assert guess_delimiter(sample) == delimiter


@pytest.mark.parametrize(
    ("values", "number_format", "numbers"),
    [
        (["1.234,56", "7.790"], NumberFormat(",", "."), [1234.56, 7790.0]),
        (["1,234.50", "12,000", "987.00"], NumberFormat(".", ","), [1234.5, 12000.0, 987.0]),
        (["10,5", "3"], NumberFormat(",", None), [10.5, 3.0]),
        (["12", "-3"], NumberFormat(".", None), [12.0, -3.0]),
        (["1 234,50", "12\u00a0000,00"], NumberFormat(",", " "), [1234.5, 12000.0]),
        (["1'234.50", "2’000.00"], NumberFormat(".", "'"), [1234.5, 2000.0]),
        (["€ 1.234,50", "12,00 EUR", "-5,00 €"], NumberFormat(",", "."), [1234.5, 12.0, -5.0]),
        (["$1,200.00", "USD 3.50", "£7"], NumberFormat(".", ","), [1200.0, 3.5, 7.0]),
        (["1.234.567", "0,5"], NumberFormat(",", "."), [1234567.0, 0.5]),
        (["0.790", "12.5"], NumberFormat(".", None), [0.79, 12.5]),
    ],
)
def test_number_format_is_decided_by_the_values(values, number_format, numbers):
    assert infer_number_format(values) == number_format
    assert to_numbers(pd.Series(values), number_format).tolist() == numbers


def test_three_digits_after_one_separator_everywhere_is_ambiguous():
    with pytest.raises(FormatError) as error:
        infer_number_format(["7.790", "1.250", "12"])
    assert error.value.setting == "decimal"
    assert error.value.values == ("7.790", "1.250")
    assert infer_number_format(["7.790"], decimal=",") == NumberFormat(",", ".")  # a setting decides
    assert infer_number_format(["7.790"], decimal=".") == NumberFormat(".", None)


@pytest.mark.parametrize(
    ("values", "decimal", "thousands", "setting"),
    [
        (["1.5", "2,5"], None, None, "decimal"),  # mixed decimal marks
        (["1,234.5", "1 234.5"], None, None, "thousands"),  # two thousands separators
        (["10.5"], ",", None, "decimal"),  # contradicts a configured decimal comma
        (["1,234.50"], None, "", "thousands"),  # thousands none, but the values group
        (["12,000"], ".", "", "thousands"),
    ],
)
def test_contradictory_number_formats_are_refused(values, decimal, thousands, setting):
    with pytest.raises(FormatError) as error:
        infer_number_format(values, decimal=decimal, thousands=thousands)
    assert error.value.setting == setting


def test_to_numbers_marks_malformed_grouping_as_not_a_number():
    numbers = to_numbers(pd.Series(["1,23,456.0", "12,000", "abc", None]), NumberFormat(".", ","))
    assert numbers.isna().tolist() == [True, False, True, True]


@pytest.mark.parametrize(
    ("values", "dayfirst", "date_format"),
    [
        (["2023-01-02", "2023-01-03 10:00:00"], None, "ISO8601"),
        (["2023-01-02T10:00:00Z"], None, "ISO8601"),
        (["13/03/2023", "05/03/2023"], None, "%d/%m/%Y"),
        (["03/13/2023", "03/05/2023"], None, "%m/%d/%Y"),
        (["13.03.2023 08:30", "05.03.2023"], None, "%d.%m.%Y %H:%M"),
        (["13.03.23", "01.02.23"], None, "%d.%m.%y"),
        (["03/04/2023 10:00:15"], True, "%d/%m/%Y %H:%M:%S"),
        (["03/04/2023"], False, "%m/%d/%Y"),
        (["2023/03/04"], None, "%Y/%m/%d"),
    ],
)
def test_one_date_format_per_column(values, dayfirst, date_format):
    assert infer_date_format(values, dayfirst) == date_format


def test_to_datetimes_reads_values_with_and_without_time():
    stamps = to_datetimes(pd.Series(["13.03.2023 08:30", "05.03.2023"]), "%d.%m.%Y %H:%M")
    assert stamps.tolist() == [pd.Timestamp("2023-03-13 08:30"), pd.Timestamp("2023-03-05")]


@pytest.mark.parametrize(
    ("values", "dayfirst", "setting", "fragment"),
    [
        (["03/04/2023", "01/02/2023"], None, "dayfirst", "fits day-first and month-first"),
        (["13/03/2023", "03/13/2023"], None, "date_format", "only valid day-first and others only month-first"),
        (["03/13/2023"], True, "dayfirst", "contradict"),
        (["13/03/2023"], False, "dayfirst", "contradict"),
        (["10:30", "11:45"], None, "date_format", "times of day"),
        (["31.02.2023"], None, "date_format", "not dates"),
        (["yesterday"], None, "date_format", "not dates"),
        (["13/03/2023", "13.03.2023"], None, "date_format", "separators"),
        (["13/03/2023", "14/03/23"], None, "date_format", "years"),
    ],
)
def test_undecidable_dates_are_refused(values, dayfirst, setting, fragment):
    with pytest.raises(FormatError) as error:
        infer_date_format(values, dayfirst)
    assert error.value.setting == setting
    assert fragment in error.value.reason


@pytest.mark.parametrize(
    ("text", "band"),
    [
        ("1-9", (1.0, 9.0)),
        ("10-49", (10.0, 49.0)),
        ("250 - 999", (250.0, 999.0)),
        ("1000+", (1000.0, None)),
        (">1000", (1000.0, None)),
        ("<10", (0.0, 10.0)),
        ("1M-5M", (1e6, 5e6)),
        ("€1-5 Mio", (1e6, 5e6)),
        ("10k-50k", (1e4, 5e4)),
        ("42", None),
        ("large", None),
        ("50-10", None),
    ],
)
def test_parse_band(text, band):
    assert parse_band(text) == band


def test_currencies_name_symbols_and_codes_alike():
    assert currencies(["€ 1.234,56", "EUR 2", "3,00 €"]) == {"EUR"}
    assert currencies(["$1,200.00", "USD 3.50", "£7"]) == {"USD", "GBP"}
    assert currencies(["12.50", "-3"]) == set()
