"""Analytics: a Glue Data Catalog table over the raw archive, so Athena can query it at once.

The archive layout is written by ``shared/dal/archive.py``:
``raw/tenant=<t>/date=<YYYY-MM-DD>/hour=<HH>/<batch>.jsonl``. Partition projection derives the
partitions from that template, so there is no crawler and no ``MSCK REPAIR``; the tenant is an
*injected* partition, which makes every query name its tenant (tenant isolation, and Athena
scans only that tenant's prefix).
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

#: Columns of one archive line (see shared.dal.archive.S3RawArchive).
ARCHIVE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("message_key", "string", "Dedupe key tenant#thing#boot_id#seq; deduplicate on it (at-least-once archive)"),
    ("tenant_id", "string", "Tenant"),
    ("thing_name", "string", "Thing"),
    ("message_type", "string", "telemetry | position | event | ack"),
    ("device_ts_ms", "bigint", "Device time, UTC epoch ms"),
    ("arrival_ms", "bigint", "Platform arrival time, UTC epoch ms"),
    ("payload", "string", "The message exactly as the device sent it (JSON text)"),
)
ARCHIVE_PREFIX = "raw"


class Analytics(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, archive: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.database_name = f"voltops_{stage}"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="VoltOps raw device data (Athena)"
            ),
        )
        location = f"s3://{archive.bucket_name}/{ARCHIVE_PREFIX}/"
        self.table = glue.CfnTable(
            self,
            "RawArchiveTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name="raw_uplink",
                description="Every accepted uplink message, as received (LCM-DA-1)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "projection.enabled": "true",
                    "projection.tenant.type": "injected",
                    "projection.date.type": "date",
                    "projection.date.format": "yyyy-MM-dd",
                    "projection.date.range": "2025-01-01,NOW",
                    "projection.date.interval": "1",
                    "projection.date.interval.unit": "DAYS",
                    "projection.hour.type": "integer",
                    "projection.hour.range": "0,23",
                    "projection.hour.digits": "2",
                    "storage.location.template": location + "tenant=${tenant}/date=${date}/hour=${hour}/",
                },
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name="tenant", type="string"),
                    glue.CfnTable.ColumnProperty(name="date", type="string"),
                    glue.CfnTable.ColumnProperty(name="hour", type="string"),
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe"
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t, comment=c) for n, t, c in ARCHIVE_COLUMNS],
                ),
            ),
        )
        self.table.add_dependency(self.database)
