"""Where a deploy goes: the local endpoint and its sources, dummy credentials whatever the
environment holds, and boto3's errors translated at one boundary."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from basegear.cloud.record import CloudRecord, write_record
from basegear.deploy.target import (
    DUMMY_CREDENTIAL,
    ENDPOINT_VARIABLE,
    LOCAL_ENDPOINT,
    aws_errors,
    local_target,
)
from basegear.errors import GearError


def test_the_default_is_the_local_cloud_on_4566(tmp_path: Path) -> None:
    assert local_target("eu-west-1", environ={}, record_dir=tmp_path).endpoint_url == LOCAL_ENDPOINT


def test_a_running_gear_up_is_found_by_its_record(tmp_path: Path) -> None:
    write_record(tmp_path, CloudRecord(os.getpid(), "http://127.0.0.1:4999", ("svc",), None))

    assert local_target("eu-west-1", environ={}, record_dir=tmp_path).endpoint_url == (
        "http://127.0.0.1:4999"
    )


def test_a_stale_record_is_ignored(tmp_path: Path) -> None:
    write_record(tmp_path, CloudRecord(2**22 + 1, "http://127.0.0.1:4999", ("svc",), None))

    assert local_target("eu-west-1", environ={}, record_dir=tmp_path).endpoint_url == LOCAL_ENDPOINT


def test_the_environment_may_only_name_a_loopback_endpoint(tmp_path: Path) -> None:
    loopback = {ENDPOINT_VARIABLE: "http://localhost:4700/"}
    remote = {ENDPOINT_VARIABLE: "http://10.1.2.3:4566"}

    assert local_target("eu-west-1", environ=loopback, record_dir=tmp_path).endpoint_url == (
        "http://localhost:4700"
    )
    with pytest.raises(GearError) as refused:
        local_target("eu-west-1", environ=remote, record_dir=tmp_path)
    assert "not on this machine" in refused.value.message
    assert "--endpoint http://10.1.2.3:4566" in (refused.value.hint or "")
    explicit = local_target("eu-west-1", "http://10.1.2.3:4566", environ=remote)
    assert explicit.endpoint_url == "http://10.1.2.3:4566"


def test_an_endpoint_must_be_a_url() -> None:
    with pytest.raises(GearError) as refused:
        local_target("eu-west-1", "127.0.0.1:4566")
    assert refused.value.hint == "e.g. http://127.0.0.1:4566"


def test_local_clients_use_dummy_credentials_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile real]\nregion = ap-south-1\n")
    monkeypatch.setenv("AWS_PROFILE", "real")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://elsewhere.example")

    client = local_target("eu-west-1", "http://127.0.0.1:4566").client("s3")

    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == (DUMMY_CREDENTIAL, DUMMY_CREDENTIAL)
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.region_name == "eu-west-1"


def test_no_cloud_listening_is_a_gear_error_with_a_hint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = local_target("eu-west-1", f"http://127.0.0.1:{port}")

    with pytest.raises(GearError) as failed, aws_errors(target, "listing stacks"):
        target.client("cloudformation").list_stacks()

    assert failed.value.message == f"listing stacks: no answer from http://127.0.0.1:{port}"
    assert "gear up" in (failed.value.hint or "")
