"""The panel users' password backend: Django's ModelBackend, plus an audit event when the login
replaced the stored hash (Django rehashes on a successful check when the hasher or its cost
differs from the first of PASSWORD_HASHERS)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from accounts import services
from audit.origin import Origin


class AdminBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        model = get_user_model()
        if username is None:
            username = kwargs.get(model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            model().set_password(password)  # the same work as for a real user (timing)
            return None
        before = user.password
        if not (user.check_password(password) and self.user_can_authenticate(user)):
            return None
        if user.password != before:
            origin = None
            if request is not None:
                # The login page's request: a web login (the core reads plain META values).
                origin = Origin.web(
                    source_ip=request.META.get("REMOTE_ADDR"),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            services.user_password_rehashed(user=user, old_hash=before, origin=origin)
        return user
