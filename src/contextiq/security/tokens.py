"""Per-user bearer tokens (JWT) from an identity provider, verified with PyJWT.

HS256 with a shared secret, or RS256/ES256 with keys from a JWKS file (re-read when the file
changes, so the provider's key rotation needs no restart). `exp` and `sub` are required;
`alg: none` and any algorithm outside the configured family are refused by PyJWT itself.
"""

import re
from pathlib import Path
from typing import Any

import jwt

from contextiq.config import Settings

#: The same ids the API accepts anywhere else: a token cannot name a user the API could not.
#: Matched whole (`fullmatch`): `$` would also let a trailing newline through.
_SUBJECT = re.compile(r"[A-Za-z0-9_.:@\-]{1,128}")
ASYMMETRIC = ["RS256", "ES256"]
LEEWAY_SECONDS = 30


class TokenRejected(Exception):
    """The token is not valid here; the message says why, without echoing it."""


class TokenVerifier:
    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_file: Path | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> None:
        if (secret is None) == (jwks_file is None):
            raise ValueError("give a secret or a JWKS file")
        self.secret = secret
        self.jwks_file = jwks_file
        self.issuer = issuer
        self.audience = audience
        self._jwks: jwt.PyJWKSet | None = None
        self._jwks_mtime = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenVerifier | None":
        if settings.jwt_secret is None and settings.jwt_jwks_file is None:
            return None
        return cls(
            secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
            jwks_file=settings.jwt_jwks_file,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )

    def subject(self, token: str) -> str:
        """The user id the token speaks for; raises `TokenRejected`."""
        try:
            key, algorithms = self._key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected("the token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRejected("the token is from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected("the token is not valid") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
            raise TokenRejected("the token's subject is not a valid user id")
        return subject

    def _key(self, token: str) -> tuple[Any, list[str]]:
        if self.secret is not None:
            return self.secret, ["HS256"]
        keys = self._keys()
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            if len(keys.keys) != 1:
                raise jwt.InvalidTokenError("the token names no key id")
            jwk = keys.keys[0]
        else:
            try:
                jwk = keys[str(kid)]
            except KeyError as exc:
                raise jwt.InvalidTokenError("unknown key id") from exc
        # Only the key's own algorithm: PyJWT raises TypeError (a 500), not an error of its
        # own, for an EC key given to RS256 or an RSA key to ES256.
        if jwk.algorithm_name not in ASYMMETRIC:
            raise jwt.InvalidTokenError("the key's algorithm is not accepted")
        return jwk.key, [jwk.algorithm_name]

    def _keys(self) -> jwt.PyJWKSet:
        assert self.jwks_file is not None
        mtime = self.jwks_file.stat().st_mtime
        if self._jwks is None or mtime != self._jwks_mtime:
            self._jwks = jwt.PyJWKSet.from_json(self.jwks_file.read_text())
            self._jwks_mtime = mtime
        return self._jwks
