"""The REST API: parse HTTP, call the selectors (scoped reads) and the services (writes), render
JSON. Nothing here decides a rule: limits, reach, what changed and audit are the code the web
panel runs too. An object outside the caller's reach is a 404, exactly like one that does not
exist."""

from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils.cache import add_never_cache_headers
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as account_services
from accounts.models import Reseller, User
from accounts.selectors import reseller_list, user_list
from api import filters, serializers
from api import services as api_services
from api.authentication import APIKeyAuthentication
from api.exceptions import api_exception_handler
from api.idempotency import IdempotentCreateMixin
from api.models import APIKey
from api.origin import origin_of
from api.pagination import KeysetPagination
from api.parsers import BoundedJSONParser
from api.permissions import KeyAllowsMethod
from api.renderers import JSONRendererEscapingSurrogates, JSONWhateverAsked
from api.schema import ApiAutoSchema
from api.throttling import APIKeyRateThrottle
from audit.export import csv_lines
from audit.models import AuditEvent
from audit.selectors import audit_event_list
from domains import services
from domains.models import (
    Alias,
    AliasDomain,
    Domain,
    Mailbox,
    RelayRecipient,
    SenderGrant,
    TrashItem,
)
from domains.selectors import (
    alias_domain_list,
    alias_list,
    app_password_list,
    domain_list,
    mailbox_list,
    relay_recipient_list,
    scope_usage,
    sender_grant_list,
    trash_list,
)


class ApiMixin:
    authentication_classes = [APIKeyAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, KeyAllowsMethod]
    throttle_classes = [APIKeyRateThrottle]
    renderer_classes = [JSONRendererEscapingSurrogates]
    parser_classes = [BoundedJSONParser]
    schema = ApiAutoSchema()

    def get_exception_handler(self):
        return api_exception_handler


class ApiViewSet(ApiMixin, viewsets.GenericViewSet):
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id"]
    ordering = "id"
    read_serializer = None

    def get_serializer_class(self):
        return self.read_serializer

    def respond(self, obj, code=status.HTTP_200_OK) -> Response:
        """Represent `obj` as a fresh read through the scoped queryset (annotations included)."""
        fresh = self.get_queryset().get(pk=obj.pk)
        return Response(
            self.read_serializer(fresh, context=self.get_serializer_context()).data, code
        )

    def validated(self, serializer_class, *, partial=False, **kwargs) -> dict:
        serializer = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


# --- Domains ------------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.DomainCreateSerializer,
        responses={201: serializers.DomainSerializer},
    ),
    update=extend_schema(
        request=serializers.DomainUpdateSerializer, responses={200: serializers.DomainSerializer}
    ),
    partial_update=extend_schema(
        request=serializers.DomainUpdateSerializer, responses={200: serializers.DomainSerializer}
    ),
)
class DomainViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """Domains. Superadmins and resellers create and delete them; domain admins see theirs and
    may change the description."""

    queryset = Domain.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.DomainSerializer
    filterset_class = filters.DomainFilter
    ordering_fields = ["id", "name"]
    ordering = "name"

    def get_queryset(self):
        return domain_list(actor=self.request.user)

    def perform_create_request(self, request, *args, **kwargs):
        data = self.validated(serializers.DomainCreateSerializer)
        domain = services.domain_create(origin=origin_of(request), actor=request.user, **data)
        return self.respond(domain, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        domain = self.get_object()
        data = self.validated(serializers.DomainUpdateSerializer, partial=partial)
        services.domain_update(origin=origin_of(request), actor=request.user, domain=domain, **data)
        return self.respond(domain)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "confirm",
                OpenApiTypes.BOOL,
                OpenApiParameter.QUERY,
                required=False,
                description="true: delete the domain even with mailboxes, aliases or alias "
                "domains in it (they go with it). Without it such a domain answers 409.",
            )
        ],
        responses={
            204: None,
            409: serializers.DomainNotEmptySerializer,
        },
    )
    def destroy(self, request, *args, **kwargs):
        """Delete a domain: it goes to the trash (`/trash/`) with everything in it, restorable
        for MAILADMIN_TRASH_RETENTION_DAYS. One that still holds anything answers 409 with what
        would go, unless `?confirm=true`."""
        domain = self.get_object()
        # Only an explicit true confirms; anything else is asked again (409).
        confirm = request.query_params.get("confirm", "").lower() in ("true", "1")
        services.domain_delete(
            origin=origin_of(request), actor=request.user, domain=domain, confirm=confirm
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=serializers.VerifySerializer, responses={200: serializers.DomainSerializer}
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, *args, **kwargs):
        """Check the domain's TXT record now; a pending domain becomes live when it is there.
        Not there yet: 400 under `verification`, with what to publish."""
        domain = self.get_object()
        data = self.validated(serializers.VerifySerializer)
        services.domain_verify(
            origin=origin_of(request), actor=request.user, domain=domain, force=data["force"]
        )
        return self.respond(domain)


@extend_schema_view(
    create=extend_schema(
        request=serializers.AliasDomainCreateSerializer,
        responses={201: serializers.AliasDomainSerializer},
    ),
    update=extend_schema(
        request=serializers.AliasDomainUpdateSerializer,
        responses={200: serializers.AliasDomainSerializer},
    ),
    partial_update=extend_schema(
        request=serializers.AliasDomainUpdateSerializer,
        responses={200: serializers.AliasDomainSerializer},
    ),
)
class AliasDomainViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """Alias domains: every address of the target answers under the alias name too."""

    queryset = AliasDomain.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.AliasDomainSerializer
    filterset_class = filters.AliasDomainFilter
    ordering_fields = ["id", "name"]
    ordering = "name"

    def get_queryset(self):
        return alias_domain_list(actor=self.request.user).order_by("name")

    def perform_create_request(self, request, *args, **kwargs):
        data = self.validated(serializers.AliasDomainCreateSerializer)
        alias_domain = services.alias_domain_create(
            origin=origin_of(request), actor=request.user, **data
        )
        return self.respond(alias_domain, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        alias_domain = self.get_object()
        data = self.validated(serializers.AliasDomainUpdateSerializer, partial=partial)
        if "active" in data:
            services.alias_domain_update(
                origin=origin_of(request),
                actor=request.user,
                alias_domain=alias_domain,
                active=data["active"],
            )
        return self.respond(alias_domain)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.alias_domain_delete(
            origin=origin_of(request), actor=request.user, alias_domain=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=serializers.VerifySerializer, responses={200: serializers.AliasDomainSerializer}
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, *args, **kwargs):
        """As for domains: check the alias domain's own TXT record now."""
        alias_domain = self.get_object()
        data = self.validated(serializers.VerifySerializer)
        services.alias_domain_verify(
            origin=origin_of(request),
            actor=request.user,
            alias_domain=alias_domain,
            force=data["force"],
        )
        return self.respond(alias_domain)


# --- Mailboxes ----------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.MailboxCreateSerializer,
        responses={201: serializers.MailboxSerializer},
    ),
    update=extend_schema(
        request=serializers.MailboxUpdateSerializer, responses={200: serializers.MailboxSerializer}
    ),
    partial_update=extend_schema(
        request=serializers.MailboxUpdateSerializer, responses={200: serializers.MailboxSerializer}
    ),
)
class MailboxViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """Mailboxes. Passwords are write-only: a plaintext `password` (hashed here) or a ready
    `password_hash` with its `{SCHEME}` prefix."""

    queryset = Mailbox.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.MailboxSerializer
    filterset_class = filters.MailboxFilter
    ordering_fields = ["id", "address"]
    ordering = "address"

    def get_queryset(self):
        return mailbox_list(actor=self.request.user).prefetch_related("forwards")

    def perform_create_request(self, request, *args, **kwargs):
        data = self.validated(serializers.MailboxCreateSerializer)
        mailbox = services.mailbox_create(origin=origin_of(request), actor=request.user, **data)
        return self.respond(mailbox, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        mailbox = self.get_object()
        data = self.validated(serializers.MailboxUpdateSerializer, partial=partial)
        password = {k: data.pop(k) for k in ("password", "password_hash") if k in data}
        with transaction.atomic():
            services.mailbox_update(
                origin=origin_of(request), actor=request.user, mailbox=mailbox, **data
            )
            if password:
                services.mailbox_set_password(
                    origin=origin_of(request), actor=request.user, mailbox=mailbox, **password
                )
        return self.respond(mailbox)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        """Delete a mailbox: it goes to the trash (`/trash/`) with its forwards, grants, app
        passwords and what pointed at it, its Maildir archived; restorable for
        MAILADMIN_TRASH_RETENTION_DAYS."""
        services.mailbox_delete(
            origin=origin_of(request), actor=request.user, mailbox=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=serializers.MailboxRenameSerializer, responses={200: serializers.MailboxSerializer}
    )
    @action(detail=True, methods=["post"])
    def rename(self, request, *args, **kwargs):
        """A new address in the same domain. The Maildir moves on the mail hosts; until then
        `maildir_busy` is true and mail for it waits (4xx) in the sender's queue."""
        mailbox = self.get_object()
        data = self.validated(serializers.MailboxRenameSerializer)
        services.mailbox_rename(
            origin=origin_of(request), actor=request.user, mailbox=mailbox, address=data["address"]
        )
        return self.respond(mailbox)

    # App passwords: one protocol each (imap, pop3, smtp), for mail programs, never the panel.
    # The list is not paginated: a mailbox holds at most MAILADMIN_MAX_APP_PASSWORDS (20).
    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: serializers.AppPasswordSerializer(many=True)},
        description="The mailbox's app passwords (never their secrets).",
    )
    @extend_schema(
        methods=["POST"],
        request=serializers.AppPasswordCreateSerializer,
        responses={201: serializers.AppPasswordCreatedSerializer},
        description="A new app password; its secret is in this response only (no-store).",
    )
    @action(detail=True, methods=["get", "post"], url_path="app-passwords")
    def app_passwords(self, request, *args, **kwargs):
        mailbox = self.get_object()
        if request.method == "GET":
            rows = app_password_list(actor=request.user, mailbox=mailbox)
            return Response(serializers.AppPasswordSerializer(rows, many=True).data)
        data = self.validated(serializers.AppPasswordCreateSerializer)
        app_password, secret = services.app_password_create(
            origin=origin_of(request), actor=request.user, mailbox=mailbox, **data
        )
        app_password.password = secret
        response = Response(
            serializers.AppPasswordCreatedSerializer(app_password).data,
            status=status.HTTP_201_CREATED,
        )
        add_never_cache_headers(response)  # the only response that holds the secret
        return response

    @extend_schema(request=None, responses={204: None}, description="Revoke an app password.")
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"app-passwords/(?P<app_password_pk>[0-9]+)",
        url_name="app-password",
    )
    def app_password_revoke(self, request, *args, app_password_pk=None, **kwargs):
        mailbox = self.get_object()
        app_password = (
            app_password_list(actor=request.user, mailbox=mailbox)
            .filter(pk=app_password_pk)
            .first()
        )
        if app_password is None:
            raise exceptions.NotFound()
        services.app_password_delete(
            origin=origin_of(request), actor=request.user, app_password=app_password
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuotaUsageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Quota usage per mailbox as Dovecot last reported it (zero until it has)."""

    queryset = Mailbox.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.QuotaUsageSerializer
    filterset_class = filters.QuotaUsageFilter
    ordering_fields = ["id", "address"]
    ordering = "address"

    def get_queryset(self):
        return mailbox_list(actor=self.request.user)


# --- Aliases ------------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.AliasCreateSerializer, responses={201: serializers.AliasSerializer}
    ),
    update=extend_schema(
        request=serializers.AliasUpdateSerializer, responses={200: serializers.AliasSerializer}
    ),
    partial_update=extend_schema(
        request=serializers.AliasUpdateSerializer, responses={200: serializers.AliasSerializer}
    ),
)
class AliasViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """Aliases (`user@domain`, or `@domain` for a catch-all) with a list of recipients."""

    queryset = Alias.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.AliasSerializer
    filterset_class = filters.AliasFilter
    ordering_fields = ["id", "address"]
    ordering = "address"

    def get_queryset(self):
        return alias_list(actor=self.request.user)

    def perform_create_request(self, request, *args, **kwargs):
        data = self.validated(serializers.AliasCreateSerializer)
        alias = services.alias_create(origin=origin_of(request), actor=request.user, **data)
        return self.respond(alias, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        alias = self.get_object()
        data = self.validated(serializers.AliasUpdateSerializer, partial=partial)
        services.alias_update(origin=origin_of(request), actor=request.user, alias=alias, **data)
        return self.respond(alias)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.alias_delete(
            origin=origin_of(request), actor=request.user, alias=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Relay recipients ---------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.RelayRecipientCreateSerializer,
        responses={201: serializers.RelayRecipientSerializer},
    ),
)
class RelayRecipientViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """Recipients a relay or backup domain accepts on port 25; a domain with
    `relay_accept_all` accepts every address and needs none."""

    queryset = RelayRecipient.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.RelayRecipientSerializer
    filterset_class = filters.RelayRecipientFilter
    ordering_fields = ["id", "address"]
    ordering = "address"

    def get_queryset(self):
        return relay_recipient_list(actor=self.request.user)

    def perform_create_request(self, request, *args, **kwargs):
        data = self.validated(serializers.RelayRecipientCreateSerializer)
        recipient = services.relay_recipient_create(
            origin=origin_of(request), actor=request.user, address=data["address"]
        )
        return self.respond(recipient, status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.relay_recipient_delete(
            origin=origin_of(request), actor=request.user, recipient=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Sender identities --------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.SenderIdentityCreateSerializer,
        responses={201: serializers.SenderIdentitySerializer},
    ),
)
class SenderIdentityViewSet(
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiViewSet,
):
    """Extra addresses a mailbox may use as MAIL FROM (its own address and the aliases pointing
    to it are implied). `@domain` grants every address of the domain."""

    queryset = SenderGrant.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.SenderIdentitySerializer
    filterset_class = filters.SenderIdentityFilter

    def get_queryset(self):
        return sender_grant_list(actor=self.request.user)

    def perform_create_request(self, request, *args, **kwargs):
        data = self.validated(serializers.SenderIdentityCreateSerializer)
        grant = services.sender_grant_create(origin=origin_of(request), actor=request.user, **data)
        return self.respond(grant, status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.sender_grant_delete(
            origin=origin_of(request), actor=request.user, grant=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Resellers ----------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.ResellerCreateSerializer,
        responses={201: serializers.ResellerSerializer},
    ),
    update=extend_schema(
        request=serializers.ResellerWriteSerializer, responses={200: serializers.ResellerSerializer}
    ),
    partial_update=extend_schema(
        request=serializers.ResellerWriteSerializer, responses={200: serializers.ResellerSerializer}
    ),
)
class ResellerViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """Resellers and their resource pools. Superadmins manage them; a reseller sees its own."""

    queryset = Reseller.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.ResellerSerializer
    filterset_class = filters.ResellerFilter
    ordering_fields = ["id", "name"]
    ordering = "name"

    def get_queryset(self):
        return reseller_list(actor=self.request.user)

    def _ensure_superadmin(self):
        if not self.request.user.is_superadmin:
            raise exceptions.PermissionDenied("Only superadmins manage resellers.")

    def perform_create_request(self, request, *args, **kwargs):
        self._ensure_superadmin()
        data = self.validated(serializers.ResellerCreateSerializer)
        reseller = account_services.reseller_create(
            origin=origin_of(request), actor=request.user, **data
        )
        return self.respond(reseller, status.HTTP_201_CREATED)

    def update(self, request, *args, partial=False, **kwargs):
        reseller = self.get_object()
        self._ensure_superadmin()
        data = self.validated(serializers.ResellerWriteSerializer, partial=partial)
        account_services.reseller_update(
            origin=origin_of(request), actor=request.user, reseller=reseller, **data
        )
        return self.respond(reseller)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


# --- Panel users --------------------------------------------------------------------------------

# Examples the docs page can send as they are: the generated ones ("string", `reseller: 0`)
# would be refused. Domains are the caller's own, so the create example names none.
USER_EXAMPLE = OpenApiExample(
    "A domain admin (add your domains' names)",
    value={"username": "ana", "email": "ana@example.com", "role": "domainadmin", "domains": []},
    request_only=True,
)
USER_UPDATE_EXAMPLE = OpenApiExample("Deactivate", value={"active": False}, request_only=True)
PASSWORD_EXAMPLE = OpenApiExample("Generate one", value={}, request_only=True)


@extend_schema_view(
    create=extend_schema(
        request=serializers.UserCreateSerializer,
        responses={201: serializers.UserCreatedSerializer},
        examples=[USER_EXAMPLE],
        description="Create a panel user. Without `password` a strong one is generated and "
        "returned once, in this response only.",
    ),
    partial_update=extend_schema(
        request=serializers.UserUpdateSerializer,
        responses={200: serializers.UserSerializer},
        examples=[USER_UPDATE_EXAMPLE],
    ),
    reset_password=extend_schema(
        request=serializers.UserPasswordSerializer,
        responses={200: serializers.UserPasswordSetSerializer},
        examples=[PASSWORD_EXAMPLE],
    ),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Panel users. Superadmins manage everyone; a reseller sees its pool's people and manages
    its domain admins; a domain admin manages nobody. Creates take no Idempotency-Key: the
    answer may hold a generated password, which is never stored to be replayed."""

    queryset = User.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.UserSerializer
    filterset_class = filters.UserFilter
    ordering_fields = ["id", "username"]
    ordering = "username"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return user_list(actor=self.request.user)

    def create(self, request, *args, **kwargs):
        data = self.validated(serializers.UserCreateSerializer)
        generated = "password" not in data
        password = account_services.generate_password() if generated else data.pop("password")
        user = account_services.user_create(
            origin=origin_of(request), actor=request.user, password=password, **data
        )
        body = serializers.UserCreatedSerializer(
            _fresh_user(user), context=self.get_serializer_context()
        ).data
        body["password"] = password if generated else None
        response = Response(body, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)
        return response

    def partial_update(self, request, *args, **kwargs):
        user = self.get_object()
        data = self.validated(serializers.UserUpdateSerializer, partial=True)
        account_services.user_update(
            origin=origin_of(request), actor=request.user, user=user, **data
        )
        return self.respond(user)

    def destroy(self, request, *args, **kwargs):
        account_services.user_delete(
            origin=origin_of(request), actor=request.user, user=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request, *args, **kwargs):
        """Set a new password: the one sent, or a generated one returned once."""
        user = self.get_object()
        data = self.validated(serializers.UserPasswordSerializer)
        password = account_services.user_set_password(
            origin=origin_of(request), actor=request.user, user=user, password=data.get("password")
        )
        body = {
            "id": user.pk,
            "username": user.username,
            "password": None if "password" in data else password,
        }
        response = Response(serializers.UserPasswordSetSerializer(body).data)
        add_never_cache_headers(response)
        return response


def _fresh_user(user):
    """The created user with its domains, for the 201 (a reseller may read its new admin)."""
    return User.objects.prefetch_related("managed_domains").get(pk=user.pk)


# --- The caller ---------------------------------------------------------------------------------


class MeView(ApiMixin, APIView):
    """Who the caller is: role, the reseller pool with its limits and usage, and the key used."""

    @extend_schema(responses={200: serializers.MeSerializer}, operation_id="me_retrieve")
    def get(self, request):
        user = request.user
        reseller = None
        if user.is_reseller:  # a pool's domain admins see their domains, not the pool
            reseller = reseller_list(actor=user).filter(pk=user.reseller_id).first()
        key = request.auth if isinstance(request.auth, APIKey) else None
        role = "superadmin" if user.is_superadmin else user.role
        data = {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "role": role,
            "reseller": reseller,
            "usage": scope_usage(actor=user),
            "api_key": {
                "id": key.pk,
                "prefix": key.display_prefix,
                "read_only": key.read_only,
                "expires_at": key.expires_at,
            }
            if key
            else None,
        }
        return Response(serializers.MeSerializer(data).data)


# --- API keys -----------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.APIKeyCreateSerializer,
        responses={201: serializers.APIKeyCreatedSerializer},
        description="Create a key for yourself. The full key is in the response, and only there.",
    ),
    revoke=extend_schema(request=None, responses={200: serializers.APIKeySerializer}),
)
class APIKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiViewSet,
):
    """Your API keys (superadmins see everyone's). The secret is never shown after creation."""

    queryset = APIKey.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.APIKeySerializer
    filterset_class = filters.APIKeyFilter
    ordering_fields = ["id", "created"]
    ordering = "-id"

    def get_queryset(self):
        qs = APIKey.objects.select_related("user")
        if not self.request.user.is_superadmin:
            qs = qs.filter(user=self.request.user)
        return qs.order_by("-id")

    def create(self, request, *args, **kwargs):
        data = self.validated(serializers.APIKeyCreateSerializer)
        via = request.auth if isinstance(request.auth, APIKey) else None
        key, full = api_services.api_key_create(
            origin=origin_of(request), actor=request.user, user=request.user, via_key=via, **data
        )
        key.key = full
        body = serializers.APIKeyCreatedSerializer(key, context=self.get_serializer_context()).data
        response = Response(body, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)  # the only response that holds the secret
        return response

    def destroy(self, request, *args, **kwargs):
        api_services.api_key_delete(
            origin=origin_of(request), actor=request.user, key=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def revoke(self, request, *args, **kwargs):
        key = api_services.api_key_revoke(
            origin=origin_of(request), actor=request.user, key=self.get_object()
        )
        return self.respond(key)


# --- Audit trail --------------------------------------------------------------------------------


class AuditPagination(KeysetPagination):
    ordering = ("-created", "-id")


def _audit_events(request):
    """The caller's events under the query's filters (audit.selectors); a bad filter is a 400."""
    params = serializers.AuditFilterSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return audit_event_list(
        actor=request.user,
        who=params.validated_data.get("actor", ""),
        **{k: v for k, v in params.validated_data.items() if k != "actor"},
    )


@extend_schema_view(
    list=extend_schema(parameters=[serializers.AuditFilterSerializer]),
)
class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """The audit trail, read-only: every change through the panel, the API, the CLI or the
    system, with who, from where, with which key, and each field's before and after. Scoped like
    everything else: a reseller reads the events about its own tenants (whoever acted), a domain
    admin those about its domains."""

    queryset = AuditEvent.objects.none()  # for the schema; get_queryset() scopes
    read_serializer = serializers.AuditEventSerializer
    pagination_class = AuditPagination
    filter_backends = []

    def get_queryset(self):
        if self.action == "retrieve":
            return audit_event_list(actor=self.request.user)
        return _audit_events(self.request)


class AuditExportView(ApiMixin, APIView):
    """The same filtered, scoped list as CSV, streamed (one header line, then a line an event,
    newest first)."""

    content_negotiation_class = JSONWhateverAsked
    filtered_export = True  # api.schema documents its 400

    @extend_schema(
        parameters=[serializers.AuditFilterSerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        operation_id="audit_events_export",
    )
    def get(self, request):
        response = StreamingHttpResponse(
            csv_lines(_audit_events(request)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response


# --- The trash ------------------------------------------------------------------------------


@extend_schema_view(
    destroy=extend_schema(
        description="Delete the item for good now (its Maildirs are purged on the mail hosts)."
    )
)
class TrashViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ApiViewSet
):
    """Deleted domains and mailboxes, restorable until `purge_after`; their names and addresses
    are kept for their owner meanwhile. A reseller sees its own; a domain admin the mailboxes of
    its domains."""

    queryset = TrashItem.objects.none()
    read_serializer = serializers.TrashItemSerializer
    ordering_fields = ["id", "deleted_at"]
    ordering = "-id"

    def get_queryset(self):
        return trash_list(actor=self.request.user)

    def destroy(self, request, *args, **kwargs):
        services.trash_purge(origin=origin_of(request), actor=request.user, item=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: serializers.TrashRestoredSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, *args, **kwargs):
        """Put it back with everything that went with it, under the ids it had. 409 when its
        name was taken meanwhile (`name`/`address`) or its domain is gone (`domain`); 400 under
        the limit's field when it no longer fits the limits."""
        item = self.get_object()
        restored = services.trash_restore(origin=origin_of(request), actor=request.user, item=item)
        body = {"kind": item.kind, "id": restored.pk, "name": item.name}
        return Response(serializers.TrashRestoredSerializer(body).data)


class NotFoundView(ApiMixin, APIView):
    """Unknown paths under /api/v1/: a JSON 404 whatever the method."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    schema = None

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.NotFound()

    def get(self, request, *args, **kwargs):
        raise exceptions.NotFound()
