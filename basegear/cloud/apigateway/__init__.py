"""API Gateway served locally: every deployed stage of a REST API (v1) or HTTP API (v2) of the
local cloud answers HTTP requests as API Gateway would.

Modules, in the order a request meets them:

- ``provider``: ``ExecuteApiProvider``, the ``execute-api`` service — finds the API and stage
  from the URL, routes, runs the method request checks and the integration;
- ``stages``: what a stage serves, read once from the API Gateway API and cached until the
  API changes (``ApiGatewayWrites`` empties the cache on every write);
- ``paths``: resource paths and route keys matched most specific first;
- ``access``: API keys and Cognito/JWT authorizers; ``tokens``: the cloud's token issuer;
- ``proxy_events``: Lambda proxy events and responses, payload formats 1.0 and 2.0;
- ``integrations``: AWS service, Lambda (non-proxy) and MOCK integrations with mapping
  templates (``vtl``) and integration responses chosen by selection pattern.
"""

from basegear.cloud.apigateway.provider import ExecuteApiProvider
from basegear.cloud.apigateway.stages import ApiGatewayWrites, StageCache
from basegear.cloud.apigateway.tokens import TokenIssuer

__all__ = ["ApiGatewayWrites", "ExecuteApiProvider", "StageCache", "TokenIssuer"]
