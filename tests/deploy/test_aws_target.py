"""``--target aws``: only when asked for, with credentials found the AWS CLI's way, and a clear
error (exit 1, no traceback) when there are none. Nothing here sends a request: the AWS
endpoints are only read from the clients, and instance-metadata lookups are switched off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from deploy_helpers import PROJECTS

from basegear.cli import main
from basegear.deploy.target import aws_target, resolve_target
from basegear.errors import GearError

PROJECT = PROJECTS / "deploy-table"


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment without any AWS credential source (and no instance-metadata lookup)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.mark.parametrize("command", ["deploy", "plan", "prune"])
def test_no_credentials_is_said_plainly(
    no_aws: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    extra = ["--keep", "2"] if command == "prune" else ["--out", str(tmp_path / "out")]

    assert main([command, str(PROJECT), "--target", "aws", *extra]) == 1

    err = capsys.readouterr().err
    assert "--target aws: no AWS credentials found for the default profile; looked in " in err
    assert "hint: configure them (aws configure, or aws sso login --profile NAME)" in err
    assert "nothing was deployed" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before building anything


def test_an_unknown_profile_is_named(no_aws: pytest.MonkeyPatch) -> None:
    with pytest.raises(GearError) as refused:
        aws_target("eu-west-1", "nope")

    assert refused.value.message == (
        "the AWS profile 'nope' is not in ~/.aws/config or ~/.aws/credentials"
    )


def test_a_profile_and_its_credentials_are_used(no_aws: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "no-credentials").write_text(
        "[team]\naws_access_key_id = AKIATEAMKEY\naws_secret_access_key = team-secret\n"
    )
    no_aws.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")  # ignored by --target aws

    target = aws_target("eu-west-1", "team")

    client = target.client("cloudformation")
    assert client.meta.endpoint_url == "https://cloudformation.eu-west-1.amazonaws.com"
    assert client._request_signer._credentials.access_key == "AKIATEAMKEY"
    assert (target.local, target.where) == (False, "AWS (eu-west-1, profile team)")


def test_aws_is_never_the_default_and_options_must_agree(no_aws: pytest.MonkeyPatch) -> None:
    no_aws.setenv("AWS_ACCESS_KEY_ID", "AKIAENVKEY")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")

    local = resolve_target("local", "eu-west-1", endpoint="http://127.0.0.1:4999")
    assert local.local and local.endpoint_url == "http://127.0.0.1:4999"
    with pytest.raises(GearError) as profile:
        resolve_target("local", "eu-west-1", profile="team")
    assert profile.value.message.startswith("--profile team is for --target aws")
    assert profile.value.hint == "to deploy to AWS with that profile: --target aws --profile team"
    with pytest.raises(GearError) as endpoint:
        resolve_target("aws", "eu-west-1", endpoint="http://127.0.0.1:4566")
    assert endpoint.value.message.startswith("--endpoint is for the local cloud")
    assert resolve_target("aws", "eu-west-1").where == "AWS (eu-west-1)"
