"""The ``gear`` commands that talk to a running local cloud's control API (``/_gear/…``,
``cloud/control.py``): ``gear clock``, ``gear events``, ``gear redrive`` and ``gear token``.
They join the ``gear`` group when ``basegear.cli`` is imported; errors are shown there."""

from __future__ import annotations

import sys
from typing import Any

import click

from basegear import console
from basegear.cli import _endpoint_option, gear
from basegear.errors import GearError


def _control(endpoint: str | None) -> Any:
    from basegear.cloud.control import ControlClient
    from basegear.deploy import local_target

    url = local_target("us-east-1", endpoint).endpoint_url
    assert url is not None
    return ControlClient(url)


@gear.group(help="The local cloud's clock.")
def clock() -> None:
    pass


@clock.command("advance", help="Move a manual (or any) clock forward, e.g. 30s, 5m, 2h.")
@click.argument("duration")
@_endpoint_option
def clock_advance(duration: str, endpoint: str | None) -> None:
    answer = _control(endpoint).clock(advance=duration)
    console.show_valid(f"{answer['time']} ({answer['mode']} clock)", label="now")


@clock.command("show", help="The local cloud's time and clock mode.")
@_endpoint_option
def clock_show(endpoint: str | None) -> None:
    answer = _control(endpoint).clock()
    console.show_valid(f"{answer['time']} ({answer['mode']} clock)", label="now")


@gear.command(help="The event source mappings with their lag, last result and batches in flight.")
@_endpoint_option
def events(endpoint: str | None) -> None:
    from basegear.cloud.events.report import show_events

    show_events(_control(endpoint).events())


@gear.command(
    help="Send a dead-letter or on-failure queue's messages back to their function or source "
    "queue (QUEUE: name, URL or ARN)."
)
@click.argument("queue")
@_endpoint_option
def redrive(queue: str, endpoint: str | None) -> None:
    answer = _control(endpoint).redrive(queue)
    console.show_valid(
        f"{console.plural(answer['moved'], 'message')} from {answer['queue']} to "
        f"{answer['to']}"
        + (f"; {answer['failed']} failed again and stay" if answer.get("failed") else ""),
        label="redriven",
    )


@gear.command(
    help="Print a token signed by the running cloud's own issuer, which its API Gateway "
    "Cognito and JWT authorizers accept (CLAIM: KEY=VALUE, e.g. sub=u1 or "
    "iss=https://cognito-idp.eu-west-1.amazonaws.com/POOL_ID)."
)
@click.argument("claims", nargs=-1, metavar="[CLAIM]...")
@_endpoint_option
def token(claims: tuple[str, ...], endpoint: str | None) -> None:
    given: dict[str, object] = {}
    for claim in claims:
        key, sep, value = claim.partition("=")
        if not sep or not key:
            raise GearError(f"cannot read the claim {claim!r}: expected KEY=VALUE")
        given[key] = value
    sys.stdout.write(_control(endpoint).token(given) + "\n")
