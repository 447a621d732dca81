"""Mail hosts, their operations and archived Maildirs (superadmins only; everyone else gets
403 on every route). Writes call mailhost.services, which record outbox operations."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from api.origin import origin_of
from api.permissions import IsSuperadmin, KeyAllowsMethod
from api.views import ApiViewSet
from mailhost import selectors, services
from mailhost.models import ArchivedMaildir, MailHost, Operation


class HostSerializer(serializers.ModelSerializer):
    is_down = serializers.BooleanField(read_only=True)
    queue = serializers.CharField(read_only=True)
    pending_count = serializers.IntegerField(read_only=True)
    failed_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = MailHost
        fields = [
            "id",
            "name",
            "role",
            "postfix_version",
            "dovecot_version",
            "postfix_dir",
            "dovecot_conf",
            "vmail_root",
            "last_heartbeat",
            "registered_at",
            "is_down",
            "queue",
            "pending_count",
            "failed_count",
        ]
        read_only_fields = fields


class OperationSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "kind",
            "host",
            "host_id",
            "args",
            "mailbox_address",
            "state",
            "attempts",
            "last_error",
            "output",
            "created",
            "dispatched_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class OperationBatchSerializer(serializers.Serializer):
    operations = OperationSerializer(many=True, help_text="One per host the work goes to.")


class ArchiveSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ArchivedMaildir
        fields = ["id", "address", "host", "path", "archived_at", "purge_after"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample("Check and reload", value={"push_config": False}, request_only=True),
        OpenApiExample(
            "Write the configuration, then check and reload",
            value={"push_config": True},
            request_only=True,
        ),
    ]
)
class ReloadSerializer(serializers.Serializer):
    push_config = serializers.BooleanField(
        default=False, help_text="Write the configuration `mailconfig` renders first."
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample("Every mailbox", value={}, request_only=True),
        OpenApiExample("One mailbox", value={"address": "bob@example.com"}, request_only=True),
    ]
)
class QuotaRecalcSerializer(serializers.Serializer):
    address = serializers.CharField(
        required=False, max_length=320, help_text="One mailbox; omit for every mailbox."
    )


class SuperadminViewSet(ApiViewSet):
    permission_classes = [IsAuthenticated, IsSuperadmin, KeyAllowsMethod]

    def operations(self, ops) -> Response:
        fresh = selectors.operation_list().filter(pk__in=[op.pk for op in ops])
        data = {"operations": OperationSerializer(fresh, many=True).data}
        return Response(data, status.HTTP_202_ACCEPTED)

    def operation(self, op) -> Response:
        fresh = selectors.operation_list().get(pk=op.pk)
        return Response(OperationSerializer(fresh).data, status.HTTP_202_ACCEPTED)


class HostViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SuperadminViewSet):
    """Mail hosts as their workers registered them; `is_down` when silent past the threshold."""

    queryset = MailHost.objects.none()
    read_serializer = HostSerializer
    ordering_fields = ["id", "name"]
    ordering = "name"

    def get_queryset(self):
        return selectors.host_list()

    @extend_schema(request=ReloadSerializer, responses={202: OperationBatchSerializer})
    @action(detail=True, methods=["post"])
    def reload(self, request, *args, **kwargs):
        """Check, then reload Postfix and Dovecot on this host (a failed check reloads
        nothing; the operation's `last_error` has the tool's words)."""
        host = self.get_object()
        data = self.validated(ReloadSerializer)
        return self.operations(
            services.reload_request(
                origin=origin_of(request),
                actor=request.user,
                host=host,
                push_config=data["push_config"],
            )
        )

    @extend_schema(request=ReloadSerializer, responses={202: OperationBatchSerializer})
    @action(detail=False, methods=["post"], url_path="reload-all")
    def reload_all(self, request, *args, **kwargs):
        """The same on every registered host: one operation each."""
        data = self.validated(ReloadSerializer)
        return self.operations(
            services.reload_request(
                origin=origin_of(request),
                actor=request.user,
                host=None,
                push_config=data["push_config"],
            )
        )

    @extend_schema(request=QuotaRecalcSerializer, responses={202: OperationBatchSerializer})
    @action(detail=False, methods=["post"], url_path="quota-recalc")
    def quota_recalc(self, request, *args, **kwargs):
        """`doveadm quota recalc` for one mailbox or all, on every host that stores mail."""
        data = self.validated(QuotaRecalcSerializer)
        address = data.get("address")
        return self.operations(
            services.quota_recalc_request(
                origin=origin_of(request), actor=request.user, address=address
            )
        )


class OperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SuperadminViewSet):
    """Mail-host operations (the outbox): filter with `?state=failed`; retry a failed one."""

    queryset = Operation.objects.none()
    read_serializer = OperationSerializer
    ordering_fields = ["id", "created"]
    ordering = "-id"

    def get_queryset(self):
        state = self.request.query_params.get("state") or None
        if state is not None and state not in Operation.State.values:
            raise serializers.ValidationError(
                {"state": [f"One of: {', '.join(Operation.State.values)}."]}
            )
        return selectors.operation_list(state=state)

    @extend_schema(request=None, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, *args, **kwargs):
        """Send a failed (or stuck) operation again. Finished ones answer 409."""
        op = self.get_object()
        if op.state == Operation.State.DONE:
            return Response(
                {"state": ["This operation has finished; it cannot be retried."]},
                status=status.HTTP_409_CONFLICT,
            )
        return self.operation(
            services.operation_retry(origin=origin_of(request), actor=request.user, operation=op)
        )


class ArchiveViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SuperadminViewSet):
    """Deleted mailboxes' Maildirs, kept until `purge_after`; restore into the mailbox that now
    has the address."""

    queryset = ArchivedMaildir.objects.none()
    read_serializer = ArchiveSerializer
    ordering_fields = ["id", "purge_after"]
    ordering = "-id"

    def get_queryset(self):
        return selectors.archive_list()

    @extend_schema(request=None, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request, *args, **kwargs):
        return self.operation(
            services.archive_restore(
                origin=origin_of(request), actor=request.user, archive=self.get_object()
            )
        )
