"""The read-only pages: dashboard, list (pages, search, filters, sort), export, static files."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from tests.contrib.admin.conftest import (
    EXPORT_MAX_ROWS,
    REGULAR_PARTS,
    SPECIAL_PARTS,
    AdminClient,
    AdminEnv,
    links,
    row_ids,
)
from tests.contrib.admin.models import Kind

pytestmark = pytest.mark.anyio

LIST = "/m/admin_t_part/"
TOTAL = REGULAR_PARTS + len(SPECIAL_PARTS)


def names(env: AdminEnv, page: str) -> list[str]:
    by_id = {str(part.id): part.name for part in env.parts}
    return [by_id[value] for value in row_ids(page)]


def count_text(page: str) -> str:
    found = re.search(r'data-testid="count">([^<]*)</span>', page)
    assert found is not None
    return " ".join(found.group(1).split())


def expected(env: AdminEnv, key: str, descending: bool) -> list[str]:
    ordered = sorted(env.parts, key=lambda part: (getattr(part, key), part.id), reverse=descending)
    return [str(part.id) for part in ordered]


async def walk(admin: AdminClient, first: str) -> tuple[list[str], list[int], str]:
    """Follow "Next" from ``first``; return the ids, the page sizes and the last page."""
    ids: list[str] = []
    sizes: list[int] = []
    url = first
    for _ in range(10):
        page = await admin.get(url)
        assert page.status_code == 200, page.text
        found = row_ids(page.text)
        ids += found
        sizes.append(len(found))
        following = links(page.text, rel="next")
        if not following:
            return ids, sizes, page.text
        url = LIST + following[0]
    raise AssertionError("more pages than rows")


# -- dashboard ----------------------------------------------------------------------------


async def test_the_dashboard_counts_rows_and_shows_the_metrics(
    env: AdminEnv, admin: AdminClient
) -> None:
    page = await admin.get("/")
    assert page.status_code == 200
    text = page.text
    for slug, expected_count in (("admin_t_part", f"{TOTAL} rows"), ("admin_t_maker", "3 rows")):
        card = re.search(rf'data-model="{slug}">(.*?)</section>', text, re.S)
        assert card is not None
        assert f'<p class="count">{expected_count}</p>' in card.group(1)
        assert f'href="/admin/m/{slug}/new">New</a>' in card.group(1)
    assert 'data-testid="metrics"' in text and "CPU" in text and "Memory" in text
    assert "<title>Test admin</title>" in text
    assert 'href="https://shop.example">View site</a>' in text
    assert 'href="/admin/static/theme.css?v=' in text


async def test_the_metrics_panel_can_be_turned_off(new_client: Any) -> None:
    locked = new_client("/locked")
    assert (await locked.login()).status_code == 303
    page = await locked.get("/")
    assert page.status_code == 200
    assert 'data-testid="metrics"' not in page.text
    assert 'href="/locked/m/admin_t_gadget/new"' not in page.text  # can_create=False
    assert "View site" not in page.text  # no site_url


# -- list: pages --------------------------------------------------------------------------


async def test_keyset_pages_cover_every_row_once(env: AdminEnv, admin: AdminClient) -> None:
    first = await admin.get(LIST)
    assert count_text(first.text) == f"{TOTAL} rows"
    assert not links(first.text, rel="prev")
    ids, sizes, last = await walk(admin, LIST)
    assert sizes == [25, 25, TOTAL - 50]
    assert ids == expected(env, "created_at", True)  # newest first, ties by id
    assert not links(last, text="Last")
    # "Last" shows the last page_size rows; "Previous" from there: the same rows, in order.
    tail = await admin.get(LIST + links(first.text, text="Last")[0])
    assert row_ids(tail.text) == ids[-25:]
    assert not links(tail.text, rel="next")
    back: list[str] = row_ids(tail.text)
    page = tail.text
    while previous := links(page, rel="prev"):
        page = (await admin.get(LIST + previous[0])).text
        back = row_ids(page) + back
    assert back == ids
    assert links(page, rel="next") and not links(page, text="« First")


async def test_sorted_pages_by_a_listed_column(env: AdminEnv, admin: AdminClient) -> None:
    for direction in ("asc", "desc"):
        ids, sizes, _ = await walk(admin, f"{LIST}?sort=qty&dir={direction}")
        assert ids == expected(env, "qty", direction == "desc")
        assert sizes == [25, 25, TOTAL - 50]
    by_name, _, _ = await walk(admin, f"{LIST}?sort=name")
    assert by_name == expected(env, "name", False)  # dir defaults to asc
    page = await admin.get(LIST, params={"sort": "qty", "dir": "desc"})
    assert 'href="?sort=qty&amp;dir=asc" class="sort desc"' in page.text  # click flips it


async def test_a_cursor_from_another_sort_or_forged_is_refused(admin: AdminClient) -> None:
    page = await admin.get(LIST, params={"sort": "qty"})
    cursor = links(page.text, rel="next")[0]
    other = await admin.get(LIST + cursor.replace("sort=qty", "sort=name"))
    assert other.status_code == 400
    forged = await admin.get(LIST, params={"after": "not-a-cursor"})
    assert forged.status_code == 400
    assert "Something is not right" in forged.text


@pytest.mark.parametrize("page_number", ["0", "-1", "x", "1e3"])
async def test_a_bad_page_number_is_refused(admin: AdminClient, page_number: str) -> None:
    response = await admin.get(LIST, params={"page": page_number})
    assert response.status_code == 400
    assert "page must be a positive whole number." in response.text


async def test_a_list_page_costs_a_few_statements(env: AdminEnv, admin: AdminClient) -> None:
    env.statements.clear()
    page = await admin.get(LIST)
    assert page.status_code == 200
    # principal, page (with the makers' names joined), count (+ the estimate on PostgreSQL)
    assert len(env.statements) <= 4, env.statements


async def test_foreign_keys_show_the_related_label(env: AdminEnv, admin: AdminClient) -> None:
    page = (await admin.get(LIST, params={"q": "Part 0"})).text
    for maker in env.makers.values():
        assert str(maker.id) not in page
    cells = {
        match.group(1): re.findall(r"<td>\s*(.*?)\s*</td>", match.group(0), re.S)
        for match in re.finditer(r'name="ids" value="([^"]+)".*?</tr>', page, re.S)
    }
    by_name = {part.name: part for part in env.parts}
    assert cells[str(by_name["Part 00"].id)][-1] == "Acme"  # the last column: maker_id
    assert cells[str(by_name["Part 01"].id)][-1] == "Globex"
    assert cells[str(by_name["Part 03"].id)][-1] == "—"  # no maker


# -- list: search, filters, sort errors --------------------------------------------------


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("cotton", ["100% Cotton"]),
        ("COTTON", ["100% Cotton"]),
        ("%", ["100% Cotton"]),  # a literal percent sign, not "anything"
        ("_", ["snake_case bolt"]),  # a literal underscore
        ("zeta", ["Gizmo", "Zeta gear"]),  # sku ZETA-9 or name Zeta gear
        ("sku-00", [f"Part {i:02d}" for i in range(10)]),
        ("\\", []),
        ("  Part 07  ", ["Part 07"]),
    ],
)
async def test_search_matches_any_field_ignoring_case(
    env: AdminEnv, admin: AdminClient, q: str, found: list[str]
) -> None:
    page = await admin.get(LIST, params={"q": q})
    assert page.status_code == 200
    assert sorted(names(env, page.text)) == sorted(found)
    assert count_text(page.text) == f"{len(found)} matching"


@pytest.mark.parametrize(
    ("params", "matching"),
    [
        ({"filter_flag": "true"}, [f"Part {i:02d}" for i in range(0, 60, 2)]),
        ({"filter_flag": "no"}, [f"Part {i:02d}" for i in range(1, 60, 2)] + SPECIAL_PARTS),
        ({"filter_kind": "toy"}, [f"Part {i:02d}" for i in range(1, 60, 3)]),
        ({"filter_kind": "toy", "filter_flag": "1"}, [f"Part {i:02d}" for i in range(4, 60, 6)]),
        (
            {"filter_flag": "yes", "q": "part 0"},
            ["Part 00", "Part 02", "Part 04", "Part 06", "Part 08"],
        ),
        ({"filter_flag": "", "filter_kind": ""}, None),  # empty filters are ignored
    ],
)
async def test_filters_narrow_the_list(
    env: AdminEnv, admin: AdminClient, params: dict[str, str], matching: list[Any] | None
) -> None:
    wanted = [item[0] if isinstance(item, tuple) else item for item in matching or []]
    page = await admin.get(LIST, params=params)
    assert page.status_code == 200
    if matching is None:
        assert count_text(page.text) == f"{TOTAL} rows"
        return
    assert count_text(page.text) == f"{len(wanted)} matching"
    ids, _, _ = await walk(admin, LIST + "?" + "&".join(f"{k}={v}" for k, v in params.items()))
    by_id = {str(part.id): part.name for part in env.parts}
    assert sorted(by_id[value] for value in ids) == sorted(wanted)
    if "filter_kind" in params:
        assert f'<option value="{params["filter_kind"]}" selected>' in page.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter_qty": "3"}, "Cannot filter on &#39;qty&#39;; filters: flag, kind."),
        ({"filter_name": "x"}, "Cannot filter on &#39;name&#39;"),
        ({"filter_kind": "robot"}, "&#39;robot&#39; is not a valid value for kind."),
        ({"filter_flag": "maybe"}, "&#39;maybe&#39; is not a valid value for flag."),
        ({"sort": "created_at"}, "Cannot sort by &#39;created_at&#39;; sortable columns: "),
        ({"sort": "name; DROP TABLE admin_t_part"}, "Cannot sort by"),
        ({"sort": "qty desc, (SELECT 1)"}, "Cannot sort by"),
        ({"sort": "id"}, "Cannot sort by &#39;id&#39;"),
        ({"sort": "qty", "dir": "sideways"}, "dir must be asc or desc."),
    ],
)
async def test_bad_filters_and_sorts_are_refused_before_any_sql(
    env: AdminEnv, admin: AdminClient, params: dict[str, str], message: str
) -> None:
    env.statements.clear()
    response = await admin.get(LIST, params=params)
    assert response.status_code == 400
    assert message in response.text
    assert env.statements == []
    env.statements.clear()
    export = await admin.get(LIST + "export.csv", params=params)
    assert export.status_code == 400
    assert env.statements == []


async def test_the_error_page_names_the_sortable_columns(admin: AdminClient) -> None:
    response = await admin.get(LIST, params={"sort": "created_at"})
    assert "sortable columns: flag, kind, maker_id, name, qty, sku." in response.text


# -- export -------------------------------------------------------------------------------


def csv_rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


async def test_export_csv_has_every_column_and_stops_at_the_cap(
    env: AdminEnv, admin: AdminClient
) -> None:
    response = await admin.get(LIST + "export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="admin_t_part.csv"'
    header = response.text.splitlines()[0].split(",")
    assert header == [
        "id",
        "is_active",
        "created_at",
        "updated_at",
        "name",
        "sku",
        "kind",
        "flag",
        "qty",
        "maker_id",
    ]
    rows = csv_rows(response.text)
    assert len(rows) == EXPORT_MAX_ROWS < TOTAL
    assert [row["id"] for row in rows] == expected(env, "created_at", True)[:EXPORT_MAX_ROWS]


async def test_export_follows_search_filter_and_sort(env: AdminEnv, admin: AdminClient) -> None:
    params = {"filter_kind": "toy", "sort": "qty", "dir": "desc"}
    rows = csv_rows((await admin.get(LIST + "export.csv", params=params)).text)
    assert [int(row["qty"]) for row in rows] == sorted(range(1, 60, 3), reverse=True)
    assert {row["kind"] for row in rows} == {"toy"}
    response = await admin.get(LIST + "export.json", params={"q": "ZETA", "sort": "name"})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == 'attachment; filename="admin_t_part.json"'
    data = response.json()
    assert [item["name"] for item in data] == ["Gizmo", "Zeta gear"]
    gizmo = next(part for part in env.parts if part.name == "Gizmo")
    assert data[0] == {
        "id": str(gizmo.id),
        "is_active": True,
        "created_at": data[0]["created_at"],
        "updated_at": data[0]["updated_at"],
        "name": "Gizmo",
        "sku": "ZETA-9",
        "kind": "spare",
        "flag": False,
        "qty": 107,
        "maker_id": None,
    }
    assert data[0]["created_at"].startswith("2024-05-01T12:00:00")
    part = next(part for part in env.parts if part.name == "Part 00")
    (exported,) = (await admin.get(LIST + "export.json", params={"q": "Part 00"})).json()
    assert exported["maker_id"] == str(part.maker_id) and exported["kind"] == Kind.tool.name


async def test_export_csv_defuses_formulas(admin: AdminClient) -> None:
    rows = csv_rows((await admin.get(LIST + "export.csv", params={"q": "x-", "sort": "sku"})).text)
    assert [row["name"] for row in rows] == [
        "100% Cotton",
        "snake_case bolt",
        "'=1+2",
        "'+7",
        "'-3 dash",
        "'@SUM(A1)",
        "Zeta gear",
    ]
    assert [row["qty"] for row in rows] == [str(100 + k) for k in range(7)]


async def test_only_csv_and_json_exports_exist(admin: AdminClient) -> None:
    response = await admin.get(LIST + "export.xml")
    assert response.status_code == 404
    assert "Exports are export.csv and export.json." in response.text


# -- autocomplete -------------------------------------------------------------------------


async def test_autocomplete_lists_matching_rows(env: AdminEnv, admin: AdminClient) -> None:
    page = await admin.get(
        "/m/admin_t_maker/autocomplete", params={"q": "GLO", "field": "maker_id"}
    )
    assert page.status_code == 200
    assert f'data-value="{env.makers["Globex"].id}" data-label="Globex"' in page.text
    assert "Acme" not in page.text
    empty = await admin.get("/m/admin_t_maker/autocomplete", params={"q": "<b>zz"})
    assert "Nothing matches “&lt;b&gt;zz”." in empty.text


# -- static files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type", "marker"),
    [
        ("admin.css", "text/css; charset=utf-8", "--admin-primary"),
        ("admin.js", "text/javascript; charset=utf-8", "data-confirm"),
        ("htmx.min.js", "text/javascript; charset=utf-8", "htmx"),
    ],
)
async def test_static_files_are_served_with_an_etag(
    anonymous: AdminClient, name: str, media_type: str, marker: str
) -> None:
    response = await anonymous.get(f"/static/{name}")  # no sign-in needed
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert marker in response.text
    etag = response.headers["etag"]
    assert response.headers["x-content-type-options"] == "nosniff"
    again = await anonymous.get(f"/static/{name}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    stale = await anonymous.get(f"/static/{name}", headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200


async def test_theme_css_carries_the_theme(anonymous: AdminClient, new_client: Any) -> None:
    response = await anonymous.get("/static/theme.css")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.text == (
        ":root {\n  --admin-primary: #0f766e;\n  --admin-font-family: 'Inter', sans-serif;\n"
        "  --admin-radius: 6px;\n}\n"
    )
    plain = await new_client("/locked").get("/static/theme.css")  # a site without a theme
    assert plain.status_code == 200 and plain.text == ""


@pytest.mark.parametrize("name", ["nope.css", "..%2Fviews.py", "admin.CSS", "VENDORED.txt"])
async def test_unknown_static_files_are_404(anonymous: AdminClient, name: str) -> None:
    response = await anonymous.get(f"/static/{name}")
    assert response.status_code == 404


async def test_a_first_page_holding_every_match_is_not_counted(
    env: AdminEnv, admin: AdminClient
) -> None:
    env.statements.clear()
    page = await admin.get("/m/admin_t_maker/")  # three makers: one page
    assert page.status_code == 200
    assert not [sql for sql in env.statements if "count(" in sql.lower()], env.statements
    assert "reltuples" not in " ".join(env.statements)
    shown = len(row_ids(page.text))
    assert re.search(rf'data-testid="count">\s*{shown} rows?', page.text), page.text


async def test_autocomplete_reads_the_search_box_of_its_field(admin: AdminClient) -> None:
    page = await admin.get(
        "/m/admin_t_maker/autocomplete", params={"field": "maker_id", "maker_id__search": "glo"}
    )
    assert page.status_code == 200
    assert "Globex" in page.text and "Initech" not in page.text
