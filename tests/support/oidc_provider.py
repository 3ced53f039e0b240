"""A real OpenID Connect provider for the tests, served on 127.0.0.1 from a background thread.

Built from authlib's server components: Flask's ``AuthorizationServer`` with the authorization
code grant, the ``OpenIDCode`` extension (ID tokens) and PKCE (``CodeChallenge``), clients and
codes in memory, an RS256 key generated at start, discovery and JWKS endpoints. ``/authorize``
approves at once as ``provider.user``, so a test scripts the whole browser dance with httpx.

``provider.misbehave`` makes the next ID tokens wrong in one way each (issuer, audience, expiry,
nonce, e-mail verification, signing key, algorithm), to prove the relying party refuses them.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, Response, jsonify, request
from joserfc.jwk import Key, KeySet, OctKey, RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

SCOPES = ("openid", "email", "profile")


@dataclass
class IdpUser:
    """Who ``/authorize`` signs in as."""

    sub: str = "user-1"
    email: str = "alice@acme.example"
    email_verified: Any = True
    name: str = "Alice Example"
    groups: list[str] = field(default_factory=lambda: ["tl-planners"])


@dataclass
class Misbehaviour:
    """Ways to make the issued ID tokens wrong (all off by default)."""

    wrong_issuer: bool = False
    wrong_audience: bool = False
    extra_audience: str | None = None  # a second audience and no ``azp``
    expired: bool = False
    issued_in_future: bool = False
    bad_nonce: bool = False
    unknown_key: bool = False  # signed by a key the JWKS does not publish
    hs256_with_secret: bool = False  # the classic "use the client secret as HMAC key" forgery
    alg_none: bool = False  # unsigned token
    no_id_token: bool = False

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, None if f.name == "extra_audience" else False)


@dataclass
class RegisteredClient(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    auth_method: str = "client_secret_basic"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class IssuedCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: IdpUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def provider(self) -> OidcTestProvider:
        return self.server.provider  # type: ignore[no-any-return]

    def save_authorization_code(self, code: str, req: Any) -> None:
        data = req.payload.data
        self.provider.codes[code] = IssuedCode(
            code=code,
            client_id=req.client.client_id,
            redirect_uri=req.payload.redirect_uri,
            scope=req.scope,
            user=req.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: RegisteredClient) -> IssuedCode | None:
        item = self.provider.codes.get(code)
        return item if item is not None and item.client_id == client.client_id else None

    def delete_authorization_code(self, item: IssuedCode) -> None:
        self.provider.codes.pop(item.code, None)

    def authenticate_user(self, item: IssuedCode) -> IdpUser:
        return item.user


class StrictPkce(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 for every client, confidential ones too (as RFC 9700 recommends)."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class IdTokens(OpenIDCode):  # type: ignore[misc]
    """Issues the ID token, honouring the provider's misbehaviour switches."""

    def __init__(self, provider: OidcTestProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    @property
    def bad(self) -> Misbehaviour:
        return self.provider.misbehave

    def exists_nonce(self, nonce: str, req: Any) -> bool:
        return any(c.nonce == nonce for c in self.provider.codes.values())

    def get_client_algorithm(self, client: RegisteredClient) -> str:
        return "HS256" if self.bad.hs256_with_secret else "RS256"

    def _signing_key(self, client: RegisteredClient) -> Key:
        if self.bad.hs256_with_secret:
            return OctKey.import_key(client.client_secret.encode())
        return self.provider.rogue_key if self.bad.unknown_key else self.provider.key

    def resolve_client_private_key(self, client: RegisteredClient) -> Key:
        return self._signing_key(client)

    def get_encode_header(self, client: RegisteredClient) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": self.get_client_algorithm(client)}
        kid = self._signing_key(client).kid
        if kid and not self.bad.hs256_with_secret:
            header["kid"] = kid
        return header

    def get_client_claims(self, client: RegisteredClient) -> dict[str, Any]:
        now = int(time.time())
        audience = ["someone-else"] if self.bad.wrong_audience else [client.client_id]
        if self.bad.extra_audience:
            audience.append(self.bad.extra_audience)
        iat = now - 7200 if self.bad.expired else now + 3600 if self.bad.issued_in_future else now
        return {
            "iss": "http://evil.example" if self.bad.wrong_issuer else self.provider.issuer,
            "aud": audience,
            "iat": iat,
            "exp": iat + (3600 if not self.bad.expired else 600),
        }

    def get_authorization_code_claims(self, authorization_code: IssuedCode) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        if self.bad.bad_nonce:
            claims["nonce"] = "not-the-nonce-you-sent"
        return claims

    def generate_user_info(self, user: IdpUser, scope: str) -> UserInfo:
        return UserInfo(
            sub=user.sub,
            email=user.email,
            email_verified=user.email_verified,
            name=user.name,
            groups=list(user.groups),
        )

    def encode_id_token(self, token: dict[str, Any], req: Any) -> str:
        encoded: str = super().encode_id_token(token, req)
        if not self.bad.alg_none:
            return encoded
        # Re-issue the same claims unsigned: header {"alg": "none"} and an empty signature.
        claims = encoded.split(".")[1]
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        return f"{header}.{claims}."

    def process_token(self, grant: Any, response: Any) -> Any:
        token = super().process_token(grant, response)
        if self.bad.no_id_token:
            token.pop("id_token", None)
        return token


class OidcTestProvider:
    """The provider: start() serves it on a free loopback port, stop() ends it."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": "rogue-key", "use": "sig"})
        self.retired_keys: list[RSAKey] = []
        self.clients: dict[str, RegisteredClient] = {}
        self.codes: dict[str, IssuedCode] = {}
        self.user = IdpUser()
        self.misbehave = Misbehaviour()
        self.auth_methods = ["client_secret_basic", "client_secret_post"]
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.discovery_hits = 0
        self.jwks_hits = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # -- test controls ---------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        if self._server is None:
            raise RuntimeError("the test provider is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    def register_client(
        self, redirect_uri: str, auth_method: str = "client_secret_basic"
    ) -> RegisteredClient:
        client = RegisteredClient(
            client_id="tl-" + secrets.token_hex(6),
            client_secret=secrets.token_urlsafe(24),
            redirect_uris=[redirect_uri],
            auth_method=auth_method,
        )
        self.clients[client.client_id] = client
        return client

    def reset(self) -> None:
        self.user = IdpUser()
        self.misbehave.reset()
        self.auth_methods = ["client_secret_basic", "client_secret_post"]
        self.authorize_requests.clear()
        self.token_requests.clear()

    def rotate_key(self) -> None:
        """Start signing with a new key; the old one stays published (as providers do)."""
        self.retired_keys.append(self.key)
        kid = f"test-key-{len(self.retired_keys) + 1}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})

    def jwks(self) -> dict[str, Any]:
        keys = KeySet([self.key, *self.retired_keys])
        return dict(keys.as_dict(private=False))

    # -- server ------------------------------------------------------------------------------------

    def start(self) -> OidcTestProvider:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oidc-test-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def _build_app(self) -> Flask:
        app = Flask("oidc-test-provider")
        server = AuthorizationServer(
            app, query_client=self.clients.get, save_token=lambda token, req: None
        )
        server.provider = self
        server.register_grant(CodeGrant, [IdTokens(self), StrictPkce(required=True)])
        self._routes(app, server)
        return app

    def _routes(self, app: Flask, server: AuthorizationServer) -> None:
        @app.get("/.well-known/openid-configuration")
        def discovery() -> Response:
            self.discovery_hits += 1
            return jsonify(self.discovery_document())

        @app.get("/jwks")
        def jwks() -> Response:
            self.jwks_hits += 1
            return jsonify(self.jwks())

        @app.get("/authorize")
        def authorize() -> Any:
            self.authorize_requests.append(dict(request.args))
            try:
                grant = server.get_consent_grant(end_user=self.user)
            except OAuth2Error as error:
                return server.handle_error_response(request, error)
            return server.create_authorization_response(grant=grant, grant_user=self.user)

        @app.post("/token")
        def token() -> Any:
            sent = dict(request.form)
            sent["_authorization"] = "basic" if request.authorization else "none"
            self.token_requests.append(sent)
            return server.create_token_response()

    def discovery_document(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name", "groups"],
        }


def decode_segment(token: str, index: int) -> dict[str, Any]:
    """One part of a compact JWT as JSON, without verifying anything (for assertions)."""
    part = token.split(".")[index]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data
