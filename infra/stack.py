"""VoltOpsStack: composes one construct per concern; holds no resources of its own.

Context read here (all optional): ``notification_sender`` (the SES sender address, default the
Settings default), for voice calls through Amazon Connect all of ``voice_connect_instance_id``,
``voice_contact_flow_id``, ``voice_source_phone`` (unset: no voice channel and no Connect
permission), ``console_dist`` (the built operator console, default ``console/dist``: the synth
fails with a hint to build it when it has no ``index.html``) and ``console_tiles`` (a map tile
URL template for the console, e.g. ``https://{s}.tiles.example.com/{z}/{x}/{y}.png``; unset: the
console's offline base map).
"""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.constructs.alarms import Alarms
from infra.constructs.analytics import Analytics
from infra.constructs.api import Api, chalice_routes
from infra.constructs.console import Console, console_dist
from infra.constructs.events import Events
from infra.constructs.ingest import INGEST_SERVICE, Ingest
from infra.constructs.iot import Iot
from infra.constructs.lambda_defaults import DEFAULT_LAYER_DIR, LambdaFactory
from infra.constructs.monitoring import Monitoring
from infra.constructs.notifications import NotificationChannels, Notifications
from infra.constructs.storage import Storage

#: Stage names end up in resource names of several services (IoT rule names allow only
#: letters, digits and underscores), so keep them short and plain.
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9]{1,11}$")


class VoltOpsStack(Stack):
    """Storage, events, ingest, IoT, alarms, notifications, API and monitoring of one stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        layer_dir: Path = DEFAULT_LAYER_DIR,
        ingest_reserved_concurrency: int | None = None,
        api_reserved_concurrency: int | None = None,
        **kwargs: object,
    ) -> None:
        if not STAGE_PATTERN.match(stage):
            raise ValueError(f"stage {stage!r} must match {STAGE_PATTERN.pattern}")
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        Tags.of(self).add("project", "voltops")
        Tags.of(self).add("stage", stage)

        storage = Storage(self, "Storage", stage=stage)
        self.analytics = Analytics(self, "Analytics", stage=stage, archive=storage.archive)
        lambdas = LambdaFactory(self, "Lambdas", stage=stage, key=storage.key, layer_dir=layer_dir)
        platform_events = Events(self, "Events", stage=stage)
        ingest = Ingest(
            self,
            "Ingest",
            storage=storage,
            bus=platform_events.bus,
            lambdas=lambdas,
            reserved_concurrency=ingest_reserved_concurrency,
        )
        iot = Iot(self, "Iot", stage=stage, key=storage.key, streams=ingest.streams)
        channels = NotificationChannels.from_context(self.node)
        notifications = Notifications(
            self,
            "Notifications",
            stage=stage,
            storage=storage,
            bus=platform_events.bus,
            lambdas=lambdas,
            channels=channels,
        )
        alarms = Alarms(
            self,
            "Alarms",
            stage=stage,
            storage=storage,
            bus=platform_events.bus,
            stream=ingest.stream,
            lambdas=lambdas,
            channels=channels,
        )
        api = Api(
            self,
            "Api",
            stage=stage,
            storage=storage,
            bus=platform_events.bus,
            device_policy=iot.device_policy,
            lambdas=lambdas,
            routes=chalice_routes(),
            reserved_concurrency=api_reserved_concurrency,
        )
        tiles = self.node.try_get_context("console_tiles")
        console = Console(
            self,
            "Console",
            stage=stage,
            storage=storage,
            api=api,
            lambdas=lambdas,
            dist=console_dist(self.node.try_get_context("console_dist")),
            tiles=str(tiles) if tiles else None,
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            stage=stage,
            key=storage.key,
            ingest_function=ingest.function,
            ingest_service=INGEST_SERVICE,
            ingest_dlq=ingest.dlq,
            rule_error_queue=iot.error_queue,
            api_function=api.function,
            api=api.api,
            alarm_consumer=alarms.consumer,
            alarm_consumer_dlq=alarms.dlq,
            notification_function=notifications.function,
            notification_queue=notifications.queue,
            notification_dlq=notifications.dlq,
            timers_function=alarms.timers,
        )

        self.storage, self.ingest, self.iot, self.api = storage, ingest, iot, api
        self.events, self.monitoring = platform_events, monitoring
        self.alarms, self.notifications = alarms, notifications
        self.console = console

        CfnOutput(self, "ApiUrl", value=api.api.url_for_path("/v1"))
        CfnOutput(self, "ConsoleUrl", value=console.url)
        CfnOutput(self, "ConsoleMqttAuthorizer", value=console.authorizer_name)
        CfnOutput(self, "UserPoolId", value=api.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=api.client.user_pool_client_id)
        CfnOutput(self, "DevicePolicyName", value=iot.device_policy.ref)
        CfnOutput(self, "UplinkStreamName", value=ingest.stream.stream_name)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
        for kind, thing_type in iot.thing_types.items():
            CfnOutput(self, f"ThingType{kind.value.title().replace('_', '')}", value=thing_type.ref)
