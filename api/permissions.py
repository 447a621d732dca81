from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.models import APIKey


class KeyAllowsMethod(BasePermission):
    """A read-only key may only read."""

    message = "This API key is read-only."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if isinstance(key, APIKey) and key.read_only:
            return request.method in SAFE_METHODS
        return True


class IsSuperadmin(BasePermission):
    message = "Only superadmins may do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_superadmin)
