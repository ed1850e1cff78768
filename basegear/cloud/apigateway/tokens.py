"""The local cloud's token issuer: RS256 JSON Web Tokens (RFC 7519, RFC 7515) signed with an RSA
key of this cloud, and their verification for API Gateway's JWT and Cognito user pool
authorizers.

Real Cognito tokens cannot be checked offline, so locally an authorizer trusts what this issuer
signs, with the claims the authorizer checks on AWS (API Gateway developer guide, "Controlling
access to HTTP APIs with JWT authorizers": the signature against the issuer's public key,
``iss`` equal to the configured issuer, ``aud`` or ``client_id`` among the configured audiences,
``exp`` in the future and ``nbf``/``iat`` not in it). A token names the issuer it stands for in
``iss`` — a user pool's ``https://cognito-idp.<region>.amazonaws.com/<pool id>`` or an HTTP API
authorizer's Issuer — so the same token works locally and in tests as a real one would on AWS.

``TokenIssuer.jwks()`` is the key set (RFC 7517) a client can verify tokens with.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from basegear.errors import GearError

LOCAL_ISSUER = "https://basegear.localhost/issuer"
"""``iss`` of a token whose claims name none."""
DEFAULT_LIFETIME = 3600.0


class TokenError(GearError):
    """A token that an authorizer refuses; ``expired`` tells API Gateway's two answers apart."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class TokenIssuer:
    """One cloud's signing key (made on first use: RSA key generation takes ~50 ms).
    ``clock`` gives the time tokens are issued and checked at (the cloud's virtual clock)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, private_key_pem: bytes | None = None
    ) -> None:
        self._clock = clock
        self._key: rsa.RSAPrivateKey | None = None
        if private_key_pem is not None:
            loaded = serialization.load_pem_private_key(private_key_pem, password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise GearError("the token issuer's key is not an RSA private key")
            self._key = loaded

    @property
    def key(self) -> rsa.RSAPrivateKey:
        if self._key is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._key

    @property
    def key_id(self) -> str:
        numbers = self.key.public_key().public_numbers()
        digest = hashes.Hash(hashes.SHA256())
        digest.update(numbers.n.to_bytes(256, "big"))
        return _b64(digest.finalize())[:16]

    def private_key_pem(self) -> bytes:
        """The key, to keep it with the cloud's state (tokens then survive a restart)."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.key_id,
                    "n": _int_b64(numbers.n),
                    "e": _int_b64(numbers.e),
                }
            ]
        }

    def issue_token(self, claims: Mapping[str, Any], *, lifetime: float = DEFAULT_LIFETIME) -> str:
        """A signed token with ``claims``; ``iss`` (default :data:`LOCAL_ISSUER`), ``iat``,
        ``exp`` (``lifetime`` seconds on), ``jti`` and ``token_use`` ("id") are added where
        the claims leave them out."""
        now = int(self._clock())
        body: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": str(uuid.uuid4()),
            "token_use": "id",
            **claims,
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        signing_input = (
            f"{_b64(json.dumps(header, separators=(',', ':')).encode())}."
            f"{_b64(json.dumps(body, separators=(',', ':')).encode())}"
        )
        signature = self.key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64(signature)}"

    def verify(
        self,
        token: str,
        *,
        issuers: tuple[str, ...],
        audiences: tuple[str, ...] = (),
        scopes: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """The claims of a token this issuer signed for one of ``issuers`` (any, if empty),
        for one of ``audiences`` (``aud``, or an access token's ``client_id``; any, if
        empty), unexpired on the cloud's clock and, if ``scopes`` are given, with one of them
        in its ``scope`` claim. Raises :class:`TokenError`."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("the token is not a JWT (three dot-separated parts)")
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except ValueError as exc:
            raise TokenError("the token's parts are not base64url JSON") from exc
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenError("the token's header or claims are not JSON objects")
        if header.get("alg") != "RS256":
            raise TokenError(f"the token is signed with {header.get('alg')!r}, not RS256")
        try:
            self.key.public_key().verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise TokenError("the token's signature is not the local issuer's") from exc
        self._check_claims(claims, issuers, audiences, scopes)
        return claims

    def _check_claims(
        self,
        claims: Mapping[str, Any],
        issuers: tuple[str, ...],
        audiences: tuple[str, ...],
        scopes: tuple[str, ...],
    ) -> None:
        now = self._clock()
        if issuers and claims.get("iss") not in issuers:
            raise TokenError(f"the token's issuer {claims.get('iss')!r} is not {list(issuers)}")
        if audiences:
            aud = claims.get("aud", claims.get("client_id"))
            named = aud if isinstance(aud, list) else [aud]
            if not any(item in audiences for item in named):
                raise TokenError(f"the token's audience {aud!r} is not among {list(audiences)}")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now:
            raise TokenError("the token has expired", expired=True)
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf > now:
            raise TokenError("the token is not valid yet")
        if scopes:
            granted = str(claims.get("scope", "")).split()
            if not any(scope in granted for scope in scopes):
                raise TokenError(f"the token grants none of the scopes {list(scopes)}")
