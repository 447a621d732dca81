"""The audit origin of an API request: the key that authenticated it (id and public label, never
the secret) and the client address, as the key's network check saw it (REMOTE_ADDR)."""

from audit.origin import Origin


def origin_of(request) -> Origin:
    key = getattr(request, "auth", None)
    key_id = getattr(key, "pk", None)
    return Origin.api(
        source_ip=request.META.get("REMOTE_ADDR"),
        api_key_id=key_id,
        api_key_label=str(key) if key_id else "",
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def web_origin_of(request) -> Origin:
    """The API-key pages are web pages (session login), not API calls."""
    return Origin.web(
        source_ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
