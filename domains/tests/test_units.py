"""Sizes read and written in binary units, in one place (domains.units)."""

import pytest
from django.core.exceptions import ValidationError

from domains.units import EIB, GIB, KIB, MIB, TIB, format_size, parse_size, percent_used


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("100", 100),
        ("512 MiB", 512 * MIB),
        ("512MiB", 512 * MIB),
        ("10 GiB", 10 * GIB),
        ("1.5 TiB", TIB + TIB // 2),
        ("2G", 2 * GIB),  # Dovecot's shorthand is binary too
        ("4 kib", 4 * KIB),
        (1024, 1024),
    ],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["1 GB", "10 MB", "lots", "1e5", "-1 GiB", "", "GiB"])
def test_parse_size_refuses_what_it_would_have_to_guess(text):
    with pytest.raises(ValidationError):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (KIB, "1 KiB"),
        (GIB, "1 GiB"),
        (GIB + GIB // 2, "1.5 GiB"),
        (16 * TIB, "16 TiB"),
        (8 * EIB, "8 EiB"),
    ],
)
def test_format_size(size, text):
    assert format_size(size) == text


def test_percent_used():
    assert percent_used(GIB, 4 * GIB) == 25.0
    assert percent_used(5 * GIB, 4 * GIB) == 125.0  # over quota shows as such
    assert percent_used(None, 4 * GIB) == 0.0
    assert percent_used(GIB, 0) is None  # unlimited
