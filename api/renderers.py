"""The API's JSON renderer."""

from rest_framework.renderers import JSONRenderer


class JSONRendererEscapingSurrogates(JSONRenderer):
    """JSON as DRF writes it (UTF-8, characters as they are), except when the data holds a lone
    surrogate (`"\\ud800"` sent by a client and echoed in an error message), which UTF-8 cannot
    encode: that answer is written with \\u escapes instead of failing with a 500."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True
            return super().render(data, accepted_media_type, renderer_context)


class CSVRenderer(JSONRendererEscapingSurrogates):
    """Lets a client asking for text/csv reach the CSV export; the export streams its own body,
    so this renders only the errors (as JSON)."""

    media_type = "text/csv"
    format = "csv"
