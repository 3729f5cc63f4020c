"""Pagination shared by every list endpoint."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """``?page=N`` with an optional ``?page_size=`` up to 100."""

    page_size_query_param = "page_size"
    max_page_size = 100
