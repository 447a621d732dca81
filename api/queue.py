"""The Postfix queue of the mail hosts, for superadmins: summaries from the per-minute snapshots
(per host and summed), each host's live list, and actions recorded as outbox operations. The
rules are in mailhost.queue (validation, commands) and mailhost.queue_services."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.origin import origin_of
from api.permissions import IsSuperadmin
from api.views import ApiMixin
from mailhost import queue as mailqueue
from mailhost import queue_services
from mailhost.models import MailHost

FILTER_FIELDS = ("queue", "queue_id", "sender", "recipient", "sender_domain", "recipient_domain")


class DomainAgeSerializer(serializers.Serializer):
    domain = serializers.CharField()
    total = serializers.IntegerField()
    by_age = serializers.ListField(child=serializers.IntegerField(), required=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class QueueSummarySerializer(serializers.Serializer):
    taken_at = serializers.IntegerField(required=False, help_text="Unix time of the snapshot")
    messages = serializers.IntegerField()
    recipients = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    oldest_arrival = serializers.IntegerField(allow_null=True)
    by_queue = serializers.DictField(child=serializers.IntegerField())
    age_buckets = serializers.ListField(child=serializers.CharField(), help_text="Minutes")
    age_totals = serializers.ListField(child=serializers.IntegerField())
    age_by_queue = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField())
    )
    top_domains = DomainAgeSerializer(many=True)
    top_sender_domains = DomainAgeSerializer(many=True)
    top_reasons = ReasonSerializer(many=True)


class QueueHostSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_down = serializers.BooleanField()
    summary = QueueSummarySerializer(allow_null=True, help_text="Null: no snapshot yet")


class QueueOverviewSerializer(serializers.Serializer):
    hosts = QueueHostSerializer(many=True)
    total = QueueSummarySerializer()


class QueueFilterSerializer(serializers.Serializer):
    queue = serializers.ChoiceField(choices=mailqueue.QUEUE_NAMES, required=False)
    sender = serializers.CharField(required=False, max_length=254)
    recipient = serializers.CharField(required=False, max_length=254)
    sender_domain = serializers.CharField(required=False, max_length=253)
    recipient_domain = serializers.CharField(required=False, max_length=253)
    search = serializers.CharField(required=False, max_length=254)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Hold everything deferred for one recipient domain",
            value={
                "action": "hold",
                "filter": {"queue": "deferred", "recipient_domain": "example.net"},
            },
            request_only=True,
        ),
        OpenApiExample(
            "Delete one message",
            value={"action": "delete", "queue_id": "4Yk3Jd0wZqz9vLm"},
            request_only=True,
        ),
    ]
)
class QueueActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=mailqueue.ACTIONS)
    queue_id = serializers.CharField(required=False, allow_blank=True, max_length=40)
    filter = QueueFilterSerializer(required=False)


class QueueOperationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.CharField()
    host = serializers.CharField(source="host.name")
    args = serializers.JSONField()


class RecipientSerializer(serializers.Serializer):
    address = serializers.CharField()
    delay_reason = serializers.CharField()


class QueueMessageSerializer(serializers.Serializer):
    queue_name = serializers.CharField()
    queue_id = serializers.CharField()
    arrival_time = serializers.IntegerField()
    age_seconds = serializers.IntegerField()
    message_size = serializers.IntegerField()
    sender = serializers.CharField()
    recipients = RecipientSerializer(many=True)
    forced_expire = serializers.BooleanField()


class QueuePageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = QueueMessageSerializer(many=True)


class UnavailableSerializer(serializers.Serializer):
    detail = serializers.ListField(child=serializers.CharField())


class QueueView(ApiMixin, APIView):
    permission_classes = [*ApiMixin.permission_classes, IsSuperadmin]


def _host_entry(host: MailHost, snapshot) -> dict:
    return {
        "id": host.pk,
        "name": host.name,
        "is_down": host.is_down,
        "summary": queue_services.snapshot_as_summary(snapshot) if snapshot else None,
    }


class QueueOverviewView(QueueView):
    """Every host's newest queue snapshot and their sum."""

    @extend_schema(responses={200: QueueOverviewSerializer}, operation_id="queue_overview")
    def get(self, request):
        latest = queue_services.hosts_with_latest_snapshot()
        hosts = [_host_entry(h, s) for h, s in latest]
        total = mailqueue.merge_summaries([h["summary"] for h in hosts if h["summary"]])
        return Response(QueueOverviewSerializer({"hosts": hosts, "total": total}).data)


class QueueHostView(QueueView):
    """One host's newest queue snapshot."""

    @extend_schema(responses={200: QueueHostSerializer}, operation_id="queue_host")
    def get(self, request, pk: int):
        host = get_object_or_404(MailHost, pk=pk)
        snapshot = host.queue_snapshots.order_by("-taken_at").first()
        return Response(QueueHostSerializer(_host_entry(host, snapshot)).data)


class QueueMessagesView(QueueView):
    """One page of a host's live queue, asked of its worker; filters match as in the panel.
    503 when the host's worker does not answer."""

    @extend_schema(
        parameters=[
            *(OpenApiParameter(f, str, required=False) for f in (*FILTER_FIELDS, "search")),
            OpenApiParameter("page", int, required=False),
            OpenApiParameter("page_size", int, required=False, description="1 to 500"),
        ],
        responses={200: QueuePageSerializer, 503: UnavailableSerializer},
        operation_id="queue_messages",
    )
    def get(self, request, pk: int):
        host = get_object_or_404(MailHost, pk=pk)
        filters = {
            f: v for f in (*FILTER_FIELDS, "search") if (v := request.query_params.get(f, ""))
        }
        numbers = {}
        for name, default in (("page", 1), ("page_size", 50)):
            try:
                numbers[name] = int(request.query_params.get(name, default))
            except ValueError:
                return Response({name: ["A whole number."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            data = queue_services.queue_page_remote(host=host, filters=filters, **numbers)
        except queue_services.QueueUnavailable as exc:
            return Response({"detail": [str(exc)]}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(QueuePageSerializer(data).data)


class QueueActionView(QueueView):
    """Flush, hold, release, requeue or delete one message (`queue_id`) or every message a
    filter selects, as an operation run by the host's worker (202; follow it at
    /api/v1/operations/{id}/). Delete and the others need a queue id or a filter; flush without
    either flushes the whole queue."""

    @extend_schema(
        request=QueueActionSerializer,
        responses={202: QueueOperationSerializer},
        operation_id="queue_action",
    )
    def post(self, request, pk: int):
        host = get_object_or_404(MailHost, pk=pk)
        data = QueueActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        op = queue_services.queue_action_request(
            origin=origin_of(request),
            actor=request.user,
            host=host,
            action=data.validated_data["action"],
            queue_id=data.validated_data.get("queue_id", ""),
            filters=dict(data.validated_data.get("filter", {})),
        )
        return Response(QueueOperationSerializer(op).data, status=status.HTTP_202_ACCEPTED)
