"""The API's JSON renderer."""

from rest_framework.negotiation import BaseContentNegotiation
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


class JSONWhateverAsked(BaseContentNegotiation):
    """For a view that writes its own body (the CSV export): a client asking for text/csv is
    not refused with a 406, and an error is JSON, as everywhere else in the API."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
