"""RFC 8288 ``Link`` headers for offset-paginated responses."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["build_pagination_link_header"]


def _query_items(value: object) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list | tuple):
        return [item for element in value for item in _query_items(element)]
    return [str(value)]


def build_pagination_link_header(
    url: str,
    *,
    page: int,
    page_size: int,
    pages: int,
    page_param: str = "page",
    size_param: str = "page_size",
    extra_params: Mapping[str, object] | None = None,
) -> str:
    """Build a ``Link`` header with ``first``, ``prev``, ``next`` and ``last`` relations.

    Each link is ``url`` with its query string kept, ``extra_params`` applied and the
    page and size parameters set. ``prev`` is left out on page 1 and ``next`` on the last
    page; past the last page, ``prev`` points at the last page.

    Example::

        response.headers["Link"] = build_pagination_link_header(
            str(request.url), page=page.page, page_size=page.page_size, pages=page.pages
        )

    Args:
        url: The URL of the current request.
        page: The current page, from 1.
        page_size: Items per page, from 1.
        pages: Number of pages; 0 yields an empty header value.
        page_param: Name of the page query parameter.
        size_param: Name of the page size query parameter.
        extra_params: Query parameters to set on every link, replacing any of the same
            name in ``url``; a list or tuple repeats the parameter, ``None`` removes
            it, booleans are written ``true`` / ``false``.

    Returns:
        The header value, e.g. ``<https://x/items?page=1&page_size=20>; rel="first", ...``.

    Raises:
        ValueError: ``page`` or ``page_size`` is below 1, ``pages`` is negative, or the
            two parameter names are empty or equal.
    """
    if page < 1 or page_size < 1 or pages < 0:
        raise ValueError(
            f"need page >= 1, page_size >= 1 and pages >= 0; got page={page}, "
            f"page_size={page_size}, pages={pages}"
        )
    if not page_param or not size_param or page_param == size_param:
        raise ValueError("page_param and size_param must be two different, non-empty names")
    if pages == 0:
        return ""

    parts = urlsplit(url)
    replaced = {page_param, size_param, *(extra_params or {})}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in replaced]
    for name, value in (extra_params or {}).items():
        if value is not None:
            query.extend((name, item) for item in _query_items(value))

    def link(target: int, rel: str) -> str:
        params = [*query, (page_param, str(target)), (size_param, str(page_size))]
        return f'<{urlunsplit(parts._replace(query=urlencode(params)))}>; rel="{rel}"'

    links = [link(1, "first")]
    if page > 1:
        links.append(link(min(page - 1, pages), "prev"))
    if page < pages:
        links.append(link(page + 1, "next"))
    links.append(link(pages, "last"))
    return ", ".join(links)
