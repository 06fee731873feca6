from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages (`next`, `previous`, `results`), stable under inserts; `?page_size=` up to 500."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500
