"""BaseGear's CloudFormation for the local cloud: stacks, change sets and every resource type the
compiler emits, created through the service APIs with intrinsic functions resolved, in
dependency order, with rollback. Modules, in the order a request meets them:

    provider.py    the API actions (query protocol in, XML out)        query.py, shapes.py
    template.py    parse a template, parameters, capabilities          validation.py
    plan.py        conditions, Fn::If branches, dependency order       intrinsics.py, graph.py
    changeset.py   Add / Modify / Remove with Replacement
    engine.py      create / update / delete with rollback              stacks.py
    resources/     one handler module per resource family              clients.py
"""

from basegear.cloud.cloudformation.provider import CloudFormationProvider
from basegear.cloud.cloudformation.resources.custom import CustomSettings
from basegear.cloud.cloudformation.resources.mappings import EventSourceMappingStore

__all__ = ["CloudFormationProvider", "CustomSettings", "EventSourceMappingStore"]
