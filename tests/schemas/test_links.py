from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tempest.schemas import build_pagination_link_header

BASE = "https://api.example.com/api/users"
LINK = re.compile(r'<([^>]*)>; rel="([a-z]+)"')


def parse(header: str) -> dict[str, list[tuple[str, str]]]:
    """Map each rel to its URL's query pairs, checking the header's exact shape."""
    links = LINK.findall(header)
    assert ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links) == header
    result = {}
    for url, rel in links:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE
        result[rel] = parse_qsl(parts.query, keep_blank_values=True)
    return result


def pages_of(header: str) -> dict[str, int]:
    return {rel: int(dict(query)["page"]) for rel, query in parse(header).items()}


def test_first_page_has_no_prev() -> None:
    header = build_pagination_link_header(BASE, page=1, page_size=20, pages=3)
    assert pages_of(header) == {"first": 1, "next": 2, "last": 3}
    assert list(parse(header)) == ["first", "next", "last"]


def test_middle_page_has_all_four_in_order() -> None:
    header = build_pagination_link_header(BASE, page=2, page_size=20, pages=3)
    assert list(parse(header)) == ["first", "prev", "next", "last"]
    assert pages_of(header) == {"first": 1, "prev": 1, "next": 3, "last": 3}


def test_last_page_has_no_next() -> None:
    header = build_pagination_link_header(BASE, page=3, page_size=20, pages=3)
    assert pages_of(header) == {"first": 1, "prev": 2, "last": 3}


def test_a_single_page_has_first_and_last_only() -> None:
    header = build_pagination_link_header(BASE, page=1, page_size=20, pages=1)
    assert pages_of(header) == {"first": 1, "last": 1}


def test_no_pages_gives_an_empty_header() -> None:
    assert build_pagination_link_header(BASE, page=1, page_size=20, pages=0) == ""


def test_past_the_last_page_prev_points_at_the_last_page() -> None:
    header = build_pagination_link_header(BASE, page=9, page_size=20, pages=3)
    assert pages_of(header) == {"first": 1, "prev": 3, "last": 3}


def test_the_exact_format() -> None:
    header = build_pagination_link_header(f"{BASE}?q=a", page=2, page_size=10, pages=2)
    assert header == (
        f'<{BASE}?q=a&page=1&page_size=10>; rel="first", '
        f'<{BASE}?q=a&page=1&page_size=10>; rel="prev", '
        f'<{BASE}?q=a&page=2&page_size=10>; rel="last"'
    )


def test_existing_query_parameters_are_kept_and_page_params_replaced() -> None:
    url = f"{BASE}?name=ana+maria&tag=a&tag=b&empty=&page=2&page_size=5"
    header = build_pagination_link_header(url, page=2, page_size=50, pages=4)
    for query in parse(header).values():
        assert query[:4] == [("name", "ana maria"), ("tag", "a"), ("tag", "b"), ("empty", "")]
        assert [pair for pair in query if pair[0] == "page_size"] == [("page_size", "50")]
        assert len([pair for pair in query if pair[0] == "page"]) == 1


def test_custom_parameter_names() -> None:
    header = build_pagination_link_header(
        f"{BASE}?offset=3", page=3, page_size=10, pages=5, page_param="p", size_param="limit"
    )
    first = dict(parse(header)["first"])
    assert first == {"offset": "3", "p": "1", "limit": "10"}


def test_extra_params_are_baked_into_every_link() -> None:
    header = build_pagination_link_header(
        f"{BASE}?sort=id&drop=me&keep=1",
        page=1,
        page_size=20,
        pages=2,
        extra_params={"sort": "name", "drop": None, "ascending": False, "tag": ["a", "b"], "n": 3},
    )
    for query in parse(header).values():
        assert query[:1] == [("keep", "1")]
        assert ("drop", "me") not in query
        assert ("sort", "name") in query
        assert ("sort", "id") not in query
        assert ("ascending", "false") in query
        assert [value for name, value in query if name == "tag"] == ["a", "b"]
        assert ("n", "3") in query


def test_special_characters_are_encoded() -> None:
    header = build_pagination_link_header(
        BASE, page=1, page_size=20, pages=2, extra_params={"q": 'a>b, "c"; d'}
    )
    assert dict(parse(header)["next"])["q"] == 'a>b, "c"; d'


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page": 0, "page_size": 20, "pages": 3},
        {"page": -1, "page_size": 20, "pages": 3},
        {"page": 1, "page_size": 0, "pages": 3},
        {"page": 1, "page_size": 20, "pages": -1},
    ],
)
def test_out_of_range_numbers_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="need page >= 1"):
        build_pagination_link_header(BASE, **kwargs)


@pytest.mark.parametrize(
    ("page_param", "size_param"), [("page", "page"), ("", "page_size"), ("page", "")]
)
def test_parameter_names_must_differ_and_not_be_empty(page_param: str, size_param: str) -> None:
    with pytest.raises(ValueError, match="two different, non-empty names"):
        build_pagination_link_header(
            BASE, page=1, page_size=20, pages=2, page_param=page_param, size_param=size_param
        )
