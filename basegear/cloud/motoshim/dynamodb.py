"""moto's DynamoDB (``moto/dynamodb/models``): read, never replaced.

When moto holds a Lambda event source mapping for a table (``Table.lambda_event_source_mappings``,
filled by moto's ``CreateEventSourceMapping``), every item write invokes the function
synchronously inside the write (``StreamShard.add``). The gateway answers DynamoDB on its event
loop for speed; a function invoked there whose handler calls the local cloud back would wait
for a loop that waits for it. So the gateway asks :func:`holds_event_source_mappings` before
answering a write inline, and sends the write to its thread pool when moto holds a mapping in
that account and region. (BaseGear's own pollers serve mappings; moto holds one only when a
client created it through moto's API.)
"""

from __future__ import annotations

PATCHED: tuple[tuple[str, str], ...] = ()
READ = (
    ("moto.dynamodb.models", "dynamodb_backends"),
    ("moto.dynamodb.models.table", "Table"),  # .lambda_event_source_mappings, set in __init__
)


def holds_event_source_mappings(account: str, region: str) -> bool:
    """Whether any table of moto's in ``account`` and ``region`` has a Lambda mapping."""
    from moto.dynamodb.models import dynamodb_backends

    regions = dynamodb_backends.get(account)
    if regions is None or region not in regions:
        return False
    tables = regions[region].tables
    return any(table.lambda_event_source_mappings for table in list(tables.values()))
