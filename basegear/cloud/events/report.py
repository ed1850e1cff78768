"""``gear events``: the event source mappings of a running cloud as a table."""

from __future__ import annotations

from typing import Any

from basegear import console


def show_events(answer: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console.out()
    mappings = answer.get("EventSourceMappings", [])
    if not mappings:
        out.print("no event source mappings")
    else:
        table = Table(box=None, pad_edge=False)
        for column in ("source", "function", "state", "lag", "last result", "in flight", "done"):
            table.add_column(column, overflow="fold")
        for row in mappings:
            table.add_row(
                escape(_resource(row["EventSourceArn"])),
                escape(row["FunctionArn"].split(":function:", 1)[-1]),
                escape(row.get("State", "")),
                _lag(row),
                escape(str(row.get("LastProcessingResult", "-"))),
                str(row.get("BatchesInFlight", "-")),
                str(row.get("Processed", "-")),
            )
        out.print(table)
    pending = answer.get("AsyncInvocationsPending", 0)
    out.print(f"{console.plural(pending, 'asynchronous invocation')} waiting")


def _resource(arn: str) -> str:
    """``table/Orders/stream/…`` → ``Orders (stream)``; a queue ARN → the queue's name."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("table/"):
        return f"{resource.split('/')[1]} (stream)"
    return resource


def _lag(row: dict[str, Any]) -> str:
    lag = row.get("Lag")
    if lag is None:
        return "-"
    if ":sqs:" in row["EventSourceArn"]:
        return console.plural(int(lag), "message")
    return f"{float(lag):.1f} s"
