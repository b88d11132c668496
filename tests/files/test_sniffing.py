"""sniff_mime / sniff_file: formats told by their bytes; active content named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import tempest
import tempest.utils
from tempest.utils.sniffing import (
    extensions_for,
    find_active_content,
    sniff_file,
    sniff_mime,
    svg_has_script,
)
from tests.files import samples

KNOWN: list[tuple[Callable[[], bytes], str]] = [
    (samples.png, "image/png"),
    (samples.jpeg, "image/jpeg"),
    (samples.gif, "image/gif"),
    (samples.webp, "image/webp"),
    (samples.bmp, "image/bmp"),
    (samples.pdf, "application/pdf"),
    (samples.plain_zip, "application/zip"),
    (samples.mp4, "video/mp4"),
]


def test_it_is_exported_where_the_spec_lists_it() -> None:
    assert tempest.sniff_mime is sniff_mime
    assert tempest.utils.sniff_mime is sniff_mime


@pytest.mark.parametrize(("make", "mime"), KNOWN, ids=[mime for _, mime in KNOWN])
def test_each_format_is_told_by_its_bytes(make: Callable[[], bytes], mime: str) -> None:
    assert sniff_mime(make()) == mime


@pytest.mark.parametrize(
    ("folder", "mime"),
    [("word", samples.DOCX_TYPE), ("xl", samples.XLSX_TYPE), ("ppt", samples.PPTX_TYPE)],
)
def test_ooxml_is_told_apart_from_zip_by_its_central_directory(
    tmp_path: Path, folder: str, mime: str
) -> None:
    path = tmp_path / "document.bin"
    path.write_bytes(samples.ooxml(folder))
    assert sniff_mime(path.read_bytes()) == "application/zip"  # the prefix alone cannot
    assert sniff_file(path) == mime


def test_a_zip_with_content_types_but_no_office_folder_stays_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    path.write_bytes(samples.zip_of({"[Content_Types].xml": b"<Types/>", "other/x": b""}))
    assert sniff_file(path) == "application/zip"


def test_a_truncated_zip_is_a_zip_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.zip"
    path.write_bytes(samples.ooxml("word")[:40])
    assert sniff_file(path) == "application/zip"


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"<!DOCTYPE html><html><body>hi</body></html>", "text/html"),
        (b"\xef\xbb\xbf  \n<html><script>alert(1)</script>", "text/html"),
        (b"hello <script>alert(1)</script>", "text/html"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (b"<svg onload=alert(1)>", "image/svg+xml"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "application/x-msdownload"),
        (b"\x7fELF\x02\x01\x01\x00", "application/x-executable"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "application/x-mach-binary"),
        (b"#!/bin/sh\nrm -rf /\n", "text/x-shellscript"),
        (b"name,age\nana,31\n", "text/plain"),
        ("olá, mundo".encode(), "text/plain"),
    ],
)
def test_active_content_and_text_are_named(head: bytes, mime: str) -> None:
    assert sniff_mime(head) == mime


def test_unknown_binary_and_empty_input_are_none() -> None:
    assert sniff_mime(b"") is None
    assert sniff_mime(b"\x00\x01\x02\x03garbage\x00") is None


def test_a_bmp_needs_more_than_two_letters() -> None:
    assert sniff_mime(b"BM this is text, not a bitmap") == "text/plain"


def test_a_polyglot_pdf_carrying_html_is_found() -> None:
    polyglot = b"%PDF-1.7\n<html><body><script>alert(document.cookie)</script>"
    assert sniff_mime(polyglot) == "application/pdf"
    assert find_active_content(polyglot) == "<html"
    assert find_active_content(samples.pdf()) is None
    assert find_active_content(samples.png()) is None


def test_svg_script_is_found_even_split_between_chunks(tmp_path: Path) -> None:
    clean = tmp_path / "clean.svg"
    clean.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1"/></svg>')
    assert not svg_has_script(clean)
    dirty = tmp_path / "dirty.svg"
    dirty.write_bytes(b"<svg>" + b" " * 60 + b"<scr" + b"ipt>alert(1)</script></svg>")
    assert svg_has_script(dirty, chunk_size=64)
    handler = tmp_path / "handler.svg"
    handler.write_bytes(b'<svg><rect onclick = "x()"/></svg>')
    assert svg_has_script(handler)


def test_extensions_for_known_and_unknown_types() -> None:
    assert "jpg" in extensions_for("image/jpeg")
    assert extensions_for(samples.DOCX_TYPE) == ("docx",)
    assert extensions_for("application/x-unknown") == ()
