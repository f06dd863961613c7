"""Events: the platform's EventBridge bus (AlarmRaised, AlarmCleared, ... as flows land) with an archive."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from constructs import Construct


class Events(Construct):
    """A custom bus, so platform events never mix with the account's default bus."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"voltops-{stage}-events")
        # The archive makes every event replayable (a new consumer, a fixed bug) for a year.
        self.archive = self.bus.archive(
            "Archive",
            description=f"VoltOps {stage}: every event on the platform bus, for replay",
            event_pattern=events.EventPattern(account=[Aws.ACCOUNT_ID]),
            retention=Duration.days(365),
        )
