from rest_framework import exceptions, pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages (`next`, `previous`, `results`), stable under inserts; `?page_size=` up to 500."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        # DRF answers a malformed cursor with 404; it is a bad input, so 400 with the field named.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise exceptions.ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc
