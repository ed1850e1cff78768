"""Artifacts and the template into the deployment bucket.

Keys are content-addressed (``basegear/<service>/<stage>/<sha256[:16]>/<zip>``, see
``package/artifact.py``), so a key already in the bucket holds exactly that zip and is not sent
again; one listing of the service's prefix tells which are there. The template goes beside them
and CloudFormation reads it by URL: a compiled template easily passes the 51,200 bytes that
``TemplateBody`` accepts, and ``TemplateURL`` takes up to 1 MB ("CloudFormation quotas") — the
Serverless Framework deploys the same way."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from basegear.build import Build
from basegear.deploy.target import Target, aws_errors
from basegear.package import Artifact

TEMPLATE_NAME = "compiled-cloudformation-template.json"


@dataclass(frozen=True)
class Uploaded:
    sent: int  # objects uploaded
    kept: int  # objects already in the bucket
    bytes_sent: int
    template_url: str


def prefix(service: str, stage: str) -> str:
    return f"basegear/{service}/{stage}/"


def artifact_files(built: Build, service: str, stage: str) -> dict[str, Path]:
    """Every zip of the build by its S3 key (functions sharing a zip appear once)."""
    artifacts = built.package.artifacts
    every: list[Artifact] = [*artifacts.functions.values(), *artifacts.layers.values()]
    if artifacts.requirements_layer is not None:
        every.append(artifacts.requirements_layer.artifact)
    return {artifact.s3_key(service, stage): artifact.path for artifact in every}


def template_key(service: str, stage: str, body: bytes) -> str:
    return f"{prefix(service, stage)}{hashlib.sha256(body).hexdigest()[:16]}/{TEMPLATE_NAME}"


def upload(target: Target, bucket: str, built: Build, service: str, stage: str) -> Uploaded:
    """Send what the bucket lacks of ``built``'s zips and template; the template's URL."""
    s3 = target.client("s3")
    body = built.template_file.read_bytes()
    files = artifact_files(built, service, stage)
    template = template_key(service, stage, body)
    with aws_errors(target, f"listing the deployment bucket {bucket}"):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix(service, stage)
        )
        present = {item["Key"] for page in pages for item in page.get("Contents", [])}
    sent = kept = size = 0
    for key, path in sorted(files.items()):
        if key in present:
            kept += 1
            continue
        data = path.read_bytes()
        with aws_errors(target, f"uploading {path.name} to {bucket}"):
            s3.put_object(Bucket=bucket, Key=key, Body=data)
        sent, size = sent + 1, size + len(data)
    if template in present:
        kept += 1
    else:
        with aws_errors(target, f"uploading the template to {bucket}"):
            s3.put_object(Bucket=bucket, Key=template, Body=body, ContentType="application/json")
        sent, size = sent + 1, size + len(body)
    return Uploaded(sent, kept, size, object_url(target, bucket, template))


def object_url(target: Target, bucket: str, key: str) -> str:
    """The path-style URL of an object on the target's S3 endpoint, as TemplateURL takes it."""
    endpoint = target.client("s3").meta.endpoint_url.rstrip("/")
    return f"{endpoint}/{bucket}/{quote(key)}"
