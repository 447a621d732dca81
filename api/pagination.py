from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    """Keyset pagination over an indexed, unique ordering: page 2000 costs what page 1 does, and
    there is no COUNT(*) over 100k rows."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
