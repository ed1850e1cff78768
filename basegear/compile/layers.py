"""``layers`` → ``AWS::Lambda::LayerVersion`` ``<Layer>LambdaLayer``, its permissions for other
accounts and the outputs naming it, as the Serverless Framework v3 compiles them
(lib/plugins/aws/package/compile/layers.js) with one deliberate difference for ``retain``.

``retain: true`` keeps every published version. The Serverless Framework does it by appending a
hash of the layer to its logical ID, so that each change is a new resource and the old one,
dropped from the template, survives through DeletionPolicy Retain — but then the
``!Ref <Layer>LambdaLayer`` that functions use names nothing. BaseGear keeps the plain logical ID
and sets both DeletionPolicy and UpdateReplacePolicy to Retain: a layer version is immutable, so
a change replaces it, and UpdateReplacePolicy Retain keeps the replaced version (CloudFormation
User Guide, "UpdateReplacePolicy attribute"). Same versions kept, and the reference still works.
A stack moving over from the Framework drops its hashed layer resource, which its own
DeletionPolicy Retain keeps.
"""

from __future__ import annotations

import re

from basegear.compile.context import Context, Json
from basegear.compile.naming import DEPLOYMENT_BUCKET, export_name, layer_id, normalized
from basegear.model import Layer
from basegear.package.artifact import REQUIREMENTS_LAYER, Artifact

RETAINED = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def compile_layers(context: Context) -> None:
    for key, layer in context.service.layers.items():
        _compile_layer(context, key, layer, context.artifacts.layers[key])
    # serverless-python-requirements with `layer: true`: the requirements in a layer of their
    # own, `PythonRequirementsLambdaLayer`, which functions reference with !Ref.
    requirements = context.artifacts.requirements_layer
    if requirements is not None:
        _compile_layer(context, REQUIREMENTS_LAYER, requirements.layer, requirements.artifact)


def layer_keys(context: Context) -> dict[str, str]:
    """Layer key by logical ID, to follow a function's ``!Ref <Layer>LambdaLayer``."""
    keys = {layer_id(key): key for key in context.service.layers}
    if context.artifacts.requirements_layer is not None:
        keys[layer_id(REQUIREMENTS_LAYER)] = REQUIREMENTS_LAYER
    return keys


def _compile_layer(context: Context, key: str, layer: Layer, artifact: Artifact) -> None:
    s3_key = artifact.s3_key(context.service.service, context.stage)
    properties: dict[str, Json] = {
        "Content": {"S3Bucket": {"Ref": DEPLOYMENT_BUCKET}, "S3Key": s3_key},
        "LayerName": layer.name or key,
    }
    if layer.description:
        properties["Description"] = layer.description
    if layer.license_info:
        properties["LicenseInfo"] = layer.license_info
    if layer.compatible_runtimes:
        properties["CompatibleRuntimes"] = layer.compatible_runtimes
    if layer.compatible_architectures:
        properties["CompatibleArchitectures"] = layer.compatible_architectures
    retained = RETAINED if layer.retain else {}
    logical_id = context.template.add(
        layer_id(key), "AWS::Lambda::LayerVersion", properties, **retained
    )
    for account in layer.allowed_accounts or []:
        # Lambda API reference, AddLayerVersionPermission: the principal is an account ID, an
        # account's root ARN, or * for every account.
        context.template.add(
            _permission_id(key, account),
            "AWS::Lambda::LayerVersionPermission",
            {
                "Action": "lambda:GetLayerVersion",
                "LayerVersionArn": {"Ref": logical_id},
                "Principal": account,
            },
            **retained,
        )
    _output(
        context, f"{logical_id}QualifiedArn", {"Ref": logical_id}, "Current Lambda layer version"
    )
    _output(context, f"{logical_id}Hash", artifact.sha256, "Current Lambda layer hash")
    _output(context, f"{logical_id}S3Key", s3_key, "Current Lambda layer S3Key")


def _permission_id(key: str, account: str) -> str:
    """``<Layer><account>LambdaLayerPermission``, ``*`` spelled ``Wild`` as in the Serverless
    Framework; an account's ARN keeps only its letters and digits, so the ID stays valid."""
    principal = re.sub(r"[^0-9A-Za-z]", "", account.replace("*", "Wild"))
    return f"{normalized(key)}{principal}LambdaLayerPermission"


def _output(context: Context, name: str, value: Json, description: str) -> None:
    export = export_name(context.service.service, context.stage, name)
    context.template.output(name, value, description, export=export)
