"""Notification channels on AWS: e-mail (SES), SMS (SNS) and voice calls (Amazon Connect).

:class:`AwsChannels` implements :class:`shared.domain.notifications.ports.Channels`. boto3
clients come from cached factories (never built at import); tests reset them with
:func:`reset_clients`. Against a moto server (``AWS_ENDPOINT_URL``) SES and SNS run as in AWS;
moto has no Connect outbound calls, so the local stack records voice calls in its outbox only
(``infra/local/outbox.py``).

Errors: throttling and service faults become ``Unavailable`` (the domain retries the delivery);
every other refusal becomes :class:`DeliveryRejected` (recorded as failed, not retried).
Voice without a configured Connect instance raises :class:`ChannelNotConfigured`. In the AWS
China regions there is no Amazon Connect: the production provider there is Alibaba Cloud
Voice Messaging Service (``SingleCallByTts``), an adapter with the same ``call`` signature
(see ``docs/notifications.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from shared.contracts.notifications import Language, NotificationView
from shared.domain.errors import Unavailable
from shared.domain.notifications.ports import ChannelNotConfigured, DeliveryRef, DeliveryRejected
from shared.settings import Settings, get_settings

#: Provider error codes that mean "try again later" (everything else is a refusal).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "ThrottledException",
        "TooManyRequestsException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalErrorException",
        "InternalServiceException",
        "KMSThrottlingException",
        "KMSThrottling",
        "RequestTimeout",
    }
)
CHARSET = "UTF-8"


@cache
def ses_client() -> Any:
    s = get_settings()
    return boto3.client("ses", region_name=s.region, endpoint_url=s.aws_endpoint_url)


@cache
def sns_client() -> Any:
    s = get_settings()
    return boto3.client("sns", region_name=s.region, endpoint_url=s.aws_endpoint_url)


@cache
def connect_client() -> Any:
    s = get_settings()
    return boto3.client("connect", region_name=s.region, endpoint_url=s.aws_endpoint_url)


def reset_clients() -> None:
    ses_client.cache_clear()
    sns_client.cache_clear()
    connect_client.cache_clear()


@contextmanager
def provider_errors(channel: str) -> Iterator[None]:
    """Map boto3 failures of one channel to ``Unavailable`` (transient) or ``DeliveryRejected``."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "unknown"
        message = str(error.get("Message", ""))
        if code in TRANSIENT_CODES:
            raise Unavailable(f"{channel} provider is busy ({code}); retry shortly", code=f"{channel}_busy") from exc
        raise DeliveryRejected(
            f"{channel} provider refused the message: {code} {message}".strip(),
            code=f"{channel}_rejected",
            details={"provider_code": code},
        ) from exc
    except BotoCoreError as exc:
        raise Unavailable(f"{channel} provider unreachable ({type(exc).__name__})", code=f"{channel}_busy") from exc


def client_token(key: str) -> str:
    """A provider idempotency token for a delivery key (Connect allows 500 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()


class AwsChannels:
    """SES e-mail, SNS SMS (transactional) and Amazon Connect outbound voice calls."""

    def __init__(
        self,
        ses: Callable[[], Any] = ses_client,
        sns: Callable[[], Any] = sns_client,
        connect: Callable[[], Any] = connect_client,
        settings: Callable[[], Settings] = get_settings,
    ) -> None:
        self._ses = ses
        self._sns = sns
        self._connect = connect
        self._settings = settings

    def send_email(self, to: str, subject: str, text: str, *, ref: DeliveryRef) -> str:
        with provider_errors("email"):
            response = self._ses().send_email(
                Source=self._settings().notification_sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": subject, "Charset": CHARSET},
                    "Body": {"Text": {"Data": text, "Charset": CHARSET}},
                },
            )
        return str(response["MessageId"])

    def send_sms(self, to: str, text: str, *, ref: DeliveryRef) -> str:
        with provider_errors("sms"):
            response = self._sns().publish(
                PhoneNumber=to,
                Message=text,
                MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
            )
        return str(response["MessageId"])

    def call(self, to: str, speech: str, language: Language, *, ref: DeliveryRef) -> str:
        s = self._settings()
        if not (s.voice_connect_instance_id and s.voice_contact_flow_id and s.voice_source_phone):
            raise ChannelNotConfigured(
                "voice calls are not configured: set VOICE_CONNECT_INSTANCE_ID, VOICE_CONTACT_FLOW_ID and "
                "VOICE_SOURCE_PHONE (Amazon Connect); in the China regions use the Alibaba Cloud VMS adapter "
                "(docs/notifications.md)",
                code="voice_not_configured",
            )
        with provider_errors("voice"):
            response = self._connect().start_outbound_voice_contact(
                InstanceId=s.voice_connect_instance_id,
                ContactFlowId=s.voice_contact_flow_id,
                SourcePhoneNumber=s.voice_source_phone,
                DestinationPhoneNumber=to,
                ClientToken=client_token(ref.key),
                # The contact flow reads these: a "Set voice" block on $.Attributes.language and a
                # text-to-speech "Play prompt" of $.Attributes.message (repeated, then hang up).
                Attributes={"message": speech, "language": language.value},
            )
        return str(response["ContactId"])

    def in_app(self, notification: NotificationView) -> None:
        """In AWS the inbox item and the console push are the in-app delivery: nothing more to do."""


def default_channels() -> AwsChannels:
    """The production channels (the local stack wraps them with its outbox recorder)."""
    return AwsChannels()
