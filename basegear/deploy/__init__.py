"""``gear deploy``: a service into a CloudFormation-speaking cloud (the local cloud by default,
AWS with ``--target aws``), through the CloudFormation API and boto3 only; the two targets
differ only in endpoint and credentials. ``Deployer.deploy`` runs one line per stage:

    build        load serverless.yml, package the zips, compile the template   basegear.build
    stack        the stack exists with its deployment bucket: a new stack is
                 first created with only the bucket, as the Serverless
                 Framework creates its "core" stack                              stack.py
    upload       zips and template to the bucket; keys already there skipped    upload.py
    change set   from the template's URL (TemplateBody stops at 51,200 bytes)   stack.py
    plan         added / modified / replaced / removed, as a table               plan.py
    guard        no stateful resource replaced or deleted unless allowed         guard.py
    execute      run the change set, following the stack's events               stack.py
    protect      a new stack of stateful resources only: termination protection guard.py
    versions     each versioned function published, aliases to its newest
                 version (every page of ListVersionsByFunction)                  versions.py
    outputs      the stack's outputs and resources

``Deployer.plan`` (``gear plan``) stops after the guard and deletes the change set; ``gear
prune`` (``versions.prune``) deletes old function and layer versions. "No updates are to be
performed" is success. The stack is ``<service>-<stage>`` (or
``provider.stackName``), functions ``<service>-<stage>-<key>`` (or their ``name``), as the
compiler names them. ``target.py`` says where the calls go and translates boto3's errors;
``functions.py`` invokes deployed functions and reads their logs (``gear invoke``, ``gear logs``).
"""

from basegear.deploy.deployer import Deployer, DeployOptions, DeployResult, PlanResult
from basegear.deploy.guard import PlanRefusedError
from basegear.deploy.report import ConsoleReport
from basegear.deploy.target import Target, aws_target, local_target, resolve_target

__all__ = [
    "ConsoleReport",
    "DeployOptions",
    "DeployResult",
    "Deployer",
    "PlanRefusedError",
    "PlanResult",
    "Target",
    "aws_target",
    "local_target",
    "resolve_target",
]
