"""Per-user tokens: a user reads and writes only as itself; bad tokens get 401, never access."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from contextiq.security.audit import user_pseudonym
from tests.conftest import embedded_settings
from tests.security.conftest import (
    AUDIENCE,
    ISSUER,
    JWT_SECRET,
    OTHER,
    USER,
    Secured,
    bearer,
    token,
)

EVENT = {"user_id": USER, "content_id": "content_0001", "interaction_type": "like"}


def _part(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _unsigned(claims: dict[str, object]) -> str:
    return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}."


def test_a_token_acts_only_for_its_user(secured: Secured) -> None:
    client, own, other = secured.client, bearer(token(USER)), bearer(token(OTHER))
    assert client.get(f"/api/v1/user-profile/{USER}", headers=own).status_code == 200
    assert client.get(f"/api/v1/user-profile/{OTHER}", headers=own).status_code == 403
    params = {"user_id": USER}
    assert client.get("/api/v1/recommendations", params=params, headers=own).status_code == 200
    assert client.get("/api/v1/recommendations", params=params, headers=other).status_code == 403
    assert client.post("/api/v1/interact", json=EVENT, headers=own).status_code == 202
    response = client.post("/api/v1/interact", json=EVENT, headers=other)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/users/{USER}/export", headers=own).status_code == 200
    assert client.get(f"/api/v1/users/{OTHER}/export", headers=own).status_code == 403


def test_a_token_merges_a_session_into_its_user_only(secured: Secured) -> None:
    """A token is its user: it never acts as an anonymous session, and merges only into itself."""
    client, own = secured.client, bearer(token(USER))
    session = {"session_id": "token-visitor"}
    visit = {**EVENT, "user_id": None, **session}
    assert client.post("/api/v1/interact", json=visit, headers=own).status_code == 403
    assert client.get("/api/v1/recommendations", params=session, headers=own).status_code == 403
    app = bearer(secured.client_key)
    assert client.post("/api/v1/interact", json=visit, headers=app).status_code == 202
    assert client.get("/api/v1/recommendations", params=session, headers=app).status_code == 200
    merge = client.post(f"/api/v1/users/{OTHER}/merge", json=session, headers=own)
    assert merge.status_code == 403
    merge = client.post(f"/api/v1/users/{USER}/merge", json=session, headers=own)
    assert merge.status_code == 200
    assert merge.json()["moved"] == 1


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("expired", lambda: token(USER, expires_in=-120)),
        ("wrong audience", lambda: token(USER, aud="someone-else")),
        ("wrong issuer", lambda: token(USER, iss="https://evil.example/")),
        (
            "wrong secret",
            lambda: jwt.encode(
                {"sub": USER, "iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 60},
                "another-secret-of-at-least-32-bytes!",
                algorithm="HS256",
            ),
        ),
        (
            "alg none",
            lambda: _unsigned(
                {"sub": USER, "iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 60}
            ),
        ),
        (
            "no expiry",
            lambda: jwt.encode(
                {"sub": USER, "iss": ISSUER, "aud": AUDIENCE}, JWT_SECRET, algorithm="HS256"
            ),
        ),
        ("bad subject", lambda: token("robert'); DROP TABLE users;--")),
        ("subject with a trailing newline", lambda: token(f"{USER}\n")),
        ("garbage", lambda: "not.a.token"),
    ],
)
def test_bad_tokens_are_401(secured: Secured, name: str, credential: object) -> None:
    assert callable(credential)
    response = secured.client.get(f"/api/v1/user-profile/{USER}", headers=bearer(credential()))
    assert response.status_code == 401, name
    assert response.json()["error"]["code"] == "unauthorized"


def test_only_bearer_is_accepted_in_authorization(secured: Secured) -> None:
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert secured.client.get("/api/v1/content", headers=basic).status_code == 401


@pytest.fixture(scope="module")
def jwks_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, object]]]:
    root = tmp_path_factory.mktemp("jwks")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = []
    for kid, alg, algorithm, key in (
        ("rsa-1", "RS256", RSAAlgorithm, rsa_key),
        ("ec-1", "ES256", ECAlgorithm, ec_key),
    ):
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
    jwks_file = root / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": keys}))
    settings: Settings = embedded_settings(
        root, auth_required=True, jwt_jwks_file=jwks_file, jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    )
    bootstrap(settings, lambda _: None, demo_items=30, demo_users=5)
    with TestClient(create_app(settings)) as client:
        yield client, {"rsa": rsa_key, "ec": ec_key, "file": jwks_file}


def _signed(key: object, alg: str, kid: str, **claims: object) -> str:
    payload = {"sub": USER, "iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 60, **claims}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})  # type: ignore[arg-type]


def test_tokens_signed_with_keys_from_a_jwks_file(
    jwks_server: tuple[TestClient, dict[str, object]],
) -> None:
    client, keys = jwks_server
    url = f"/api/v1/user-profile/{USER}"
    for key, alg, kid in ((keys["rsa"], "RS256", "rsa-1"), (keys["ec"], "ES256", "ec-1")):
        assert client.get(url, headers=bearer(_signed(key, alg, kid))).status_code == 200, alg
    assert client.get(url, headers=bearer(_signed(keys["rsa"], "RS256", "nope"))).status_code == 401
    # A JWKS server never accepts HS256 "signed" with the public key (algorithm confusion).
    public = (
        keys["rsa"]
        .public_key()
        .public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    claims = {"sub": USER, "iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 60}
    signing_input = f"{_part({'alg': 'HS256', 'kid': 'rsa-1'})}.{_part(claims)}"
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert client.get(url, headers=bearer(forged)).status_code == 401


def test_a_token_whose_algorithm_is_not_its_keys_is_401(
    jwks_server: tuple[TestClient, dict[str, object]],
) -> None:
    """ES256 under an RSA key's id (or RS256 under an EC key's) is refused, not a 500."""
    client, keys = jwks_server
    url = f"/api/v1/user-profile/{USER}"
    for key, alg, kid in ((keys["ec"], "ES256", "rsa-1"), (keys["rsa"], "RS256", "ec-1")):
        response = client.get(url, headers=bearer(_signed(key, alg, kid)))
        assert response.status_code == 401, (alg, kid)
        assert response.json()["error"]["code"] == "unauthorized"


def test_settings_refuse_a_short_secret_or_both_key_sources(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        embedded_settings(tmp_path, jwt_secret="short")
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    with pytest.raises(ValueError, match="not both"):
        embedded_settings(tmp_path, jwt_secret=JWT_SECRET, jwt_jwks_file=jwks)


def test_the_audit_log_names_a_token_by_its_pseudonym(secured: Secured) -> None:
    """The log outlives an erasure: a token's subject is no more named than a target is."""
    client, admin = secured.client, bearer(secured.admin_key)
    subject = "audited-token-user"
    assert (
        client.get(f"/api/v1/users/{subject}/export", headers=bearer(token(subject))).status_code
        == 200
    )
    assert client.delete(f"/api/v1/users/{subject}", headers=admin).status_code == 200
    entries = client.get("/api/v1/audit", headers=admin).json()["entries"]
    export = next(e for e in entries if e["action"] == "GET /api/v1/users/{user_id}/export")
    assert export["actor"] == export["target"] == user_pseudonym(subject)
    assert subject not in str(entries)
    mine = client.get("/api/v1/audit", params={"actor": user_pseudonym(subject)}, headers=admin)
    assert [e["action"] for e in mine.json()["entries"]] == [export["action"]]
