"""The virtual clock (cloud/clock.py) and its control API (cloud/control.py)."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basegear.cli import main
from basegear.cloud.clock import ClockError, VirtualClock, parse_duration, parse_mode
from basegear.cloud.control import ControlClient
from basegear.errors import GearError
from basegear.testing import CloudClients


def test_manual_clock_stands_still_until_advanced() -> None:
    clock = VirtualClock("manual", start=1000.0)
    time.sleep(0.01)
    assert clock.now() == 1000.0
    assert clock.advance(90) == 1090.0
    assert clock.now() == 1090.0


def test_fast_clock_runs_n_times_real_speed() -> None:
    clock = VirtualClock("fast=100", start=0.0)
    time.sleep(0.05)
    assert 4.0 <= clock.now() < 60.0


def test_switching_mode_never_moves_time_back() -> None:
    clock = VirtualClock("real")
    before = clock.now()
    clock.set_mode("manual")
    frozen = clock.now()
    assert frozen >= before
    clock.set_mode("real")
    assert clock.now() >= frozen


def test_a_waiter_on_the_manual_clock_wakes_when_time_reaches_its_deadline() -> None:
    clock = VirtualClock("manual", start=0.0)
    woke: list[float] = []

    def wait() -> None:
        clock.sleep(120)  # two minutes of virtual time
        woke.append(clock.now())

    thread = threading.Thread(target=wait)
    thread.start()
    clock.advance(60)
    time.sleep(0.05)
    assert woke == []
    started = time.monotonic()
    clock.advance(60)
    thread.join(timeout=5)
    assert woke == [120.0]
    assert time.monotonic() - started < 1.0


def test_a_waker_returns_early_when_woken() -> None:
    clock = VirtualClock("manual", start=0.0)
    waker = clock.waker()
    threading.Timer(0.05, waker.wake).start()
    started = time.monotonic()
    waker.wait_until(3600)
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1.5h", 5400), ("2d", 172800), ("250ms", 0.25), ("7", 7)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@given(st.text(max_size=12))
def test_any_text_is_a_duration_or_a_clear_error(text: str) -> None:
    try:
        assert parse_duration(text) >= 0
    except ClockError as exc:
        assert "expected a number" in str(exc)


@pytest.mark.parametrize("text", ["slow", "fast=0", "fast=-2", "fast=x", ""])
def test_unknown_modes_are_refused(text: str) -> None:
    with pytest.raises(ClockError, match="expected real, manual or fast=N"):
        parse_mode(text)


def test_the_clock_over_http(local_cloud: CloudClients, manual_clock: VirtualClock) -> None:
    control = ControlClient(local_cloud.endpoint_url)
    before = control.clock()
    assert before["mode"] == "manual"
    after = control.clock(advance="5m")
    assert after["now"] == pytest.approx(before["now"] + 300)
    assert manual_clock.now() == pytest.approx(after["now"])


def test_gear_clock_advance(
    local_cloud: CloudClients, manual_clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    before = manual_clock.now()
    assert main(["clock", "advance", "30s", "--endpoint", local_cloud.endpoint_url]) == 0
    assert "manual clock" in capsys.readouterr().out
    assert manual_clock.now() == pytest.approx(before + 30)


def test_gear_clock_advance_refuses_a_bad_duration(
    local_cloud: CloudClients, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clock", "advance", "soon", "--endpoint", local_cloud.endpoint_url]) == 1
    err = capsys.readouterr().err
    assert "cannot read the duration 'soon'" in err
    assert "Traceback" not in err


def test_the_control_client_says_when_no_cloud_answers() -> None:
    with pytest.raises(GearError, match="no local cloud answers"):
        ControlClient("http://127.0.0.1:9").clock()


def test_control_requests_are_not_aws_requests(local_cloud: CloudClients) -> None:
    with pytest.raises(GearError, match="no such control path"):
        ControlClient(local_cloud.endpoint_url)._call("GET", "nothing")


def test_gear_up_refuses_an_unknown_clock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--clock", "slow"]) == 1
    err = capsys.readouterr().err
    assert "unknown clock 'slow': expected real, manual or fast=N" in err
    assert "Traceback" not in err
