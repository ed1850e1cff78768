"""The deployment bucket that holds the service's zips, as the Serverless Framework creates it
(``ServerlessDeploymentBucket``, encrypted, reachable over TLS only)."""

from __future__ import annotations

from basegear.compile.context import Context
from basegear.compile.naming import DEPLOYMENT_BUCKET, DEPLOYMENT_BUCKET_POLICY, export_name


def compile_deployment_bucket(context: Context) -> None:
    template = context.template
    template.sections["Description"] = (
        f"The AWS CloudFormation template for the {context.service.service} service"
    )
    template.add(
        DEPLOYMENT_BUCKET,
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            }
        },
    )
    bucket_arn = {"Fn::GetAtt": [DEPLOYMENT_BUCKET, "Arn"]}
    # Deny plain-HTTP access: S3 User Guide, "Enforcing encryption in transit".
    template.add(
        DEPLOYMENT_BUCKET_POLICY,
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": DEPLOYMENT_BUCKET},
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "s3:*",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Resource": [
                            {"Fn::Join": ["", [bucket_arn, "/*"]]},
                            bucket_arn,
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": False}},
                    }
                ]
            },
        },
    )
    output = "ServerlessDeploymentBucketName"
    export = export_name(context.service.service, context.stage, output)
    template.output(output, {"Ref": DEPLOYMENT_BUCKET}, export=export)
