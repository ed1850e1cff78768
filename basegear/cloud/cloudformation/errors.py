"""The errors of the local CloudFormation, in two families.

    CloudFormationError                 an API call is refused: the caller gets an AWS error
    ├── ValidationError                 400 ValidationError (most refusals, as AWS sends them)
    ├── AlreadyExistsError              400 AlreadyExistsException
    ├── InsufficientCapabilitiesError   400 InsufficientCapabilitiesException
    ├── ChangeSetNotFoundError          404 ChangeSetNotFound
    └── InvalidChangeSetStatusError     400 InvalidChangeSetStatus
    ResourceError                       one resource could not be created, updated or deleted:
    │                                   the stack records a *_FAILED event with ``reason``
    └── TemplateError                   an intrinsic function could not be resolved
                                        ("Template error: …")

Error codes and HTTP statuses are those of the CloudFormation API reference (botocore's
``cloudformation/2010-05-15/service-2.json``, shapes marked ``exception``)."""

from __future__ import annotations


class CloudFormationError(Exception):
    code = "ValidationError"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(CloudFormationError):
    pass


class AlreadyExistsError(CloudFormationError):
    code = "AlreadyExistsException"


class InsufficientCapabilitiesError(CloudFormationError):
    code = "InsufficientCapabilitiesException"


class ChangeSetNotFoundError(CloudFormationError):
    code = "ChangeSetNotFound"
    status = 404


class InvalidChangeSetStatusError(CloudFormationError):
    code = "InvalidChangeSetStatus"


class ResourceError(Exception):
    """A resource operation failed; ``reason`` is what the *_FAILED event says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemplateError(ResourceError):
    """An intrinsic function could not be resolved. AWS words these "Template error: …"."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Template error: {message}")
