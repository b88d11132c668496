"""sanitize_filename and validate_key: client names made safe, keys kept inside."""

from __future__ import annotations

import pytest

from tempest.utils.filenames import (
    InvalidKeyError,
    sanitize_filename,
    split_extension,
    validate_key,
)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("C:\\Users\\ana\\photo.png", "photo.png"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("...hidden.txt", "hidden.txt"),
        ("CON.txt", "_CON.txt"),
        ('what"is<this>?.txt', "what_is_this__.txt"),
        ("rés umé.pdf  ", "rés umé.pdf"),
    ],
)
def test_names_are_one_plain_component(raw: str | None, safe: str) -> None:
    assert sanitize_filename(raw) == safe


def test_nul_and_control_characters_are_dropped() -> None:
    assert sanitize_filename("evil\x00.png") == "evil.png"
    assert sanitize_filename("a\r\nb\x1b[31m.txt") == "ab[31m.txt"


def test_bidi_overrides_are_dropped() -> None:
    # "invoice\u202egnp.exe" shows as "invoiceexe.png" in a right-to-left override.
    assert sanitize_filename("invoice\u202egnp.exe") == "invoicegnp.exe"
    assert sanitize_filename("\u2066x\u2069\u200f.pdf") == "x.pdf"


def test_300_characters_are_cut_to_255_bytes_keeping_the_extension() -> None:
    name = sanitize_filename("a" * 300 + ".jpeg")
    assert len(name.encode()) == 255 and name.endswith(".jpeg")
    wide = sanitize_filename("ç" * 300 + ".pdf")  # two bytes each: cut on a character
    assert len(wide.encode()) <= 255 and wide.endswith(".pdf")
    assert wide.encode().decode() == wide


def test_split_extension() -> None:
    assert split_extension("archive.tar.gz") == ("archive.tar", "gz")
    assert split_extension(".env") == (".env", "")
    assert split_extension("notes.") == ("notes.", "")
    assert split_extension("x.not an ext") == ("x.not an ext", "")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../secret",
        "a/../../secret",
        "a/./b",
        "a//b",
        "a/",
        "..\\secret",
        "a\\..\\b",
        "C:secret",
        "%2e%2e/secret",
        "a%2Fb",
        "nul\x00byte",
        ".staging/x.part",
        "a/.hidden",
        "\uff0e\uff0e/secret",  # full-width dots
        "\u2024\u2024/secret",  # one-dot leaders
        "a\u2215..\u2215b",  # division slashes
        "rtl\u202e.txt",
        "x" * 1025,
    ],
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        validate_key(key)


@pytest.mark.parametrize("key", ["a.png", "avatars/3f2a.png", "2024/05/relatório final.pdf"])
def test_plain_keys_pass(key: str) -> None:
    assert validate_key(key) == key
