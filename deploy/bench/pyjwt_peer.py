"""The Python peer of the benchmarks: gunicorn + Flask + PyJWT (EdDSA) answering nginx's
auth_request like tokengate's /verify (204 with the user, or 401). Started by bench.py as
`gunicorn --workers <cores> --bind unix:SOCKET pyjwt_peer:app` with PEER_PUBLIC_KEY (base64url
Ed25519 public key), PEER_ISSUER and PEER_AUDIENCE in the environment."""
import base64
import os

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, request

RAW_KEY = os.environ["PEER_PUBLIC_KEY"]
KEY = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(RAW_KEY + "=" * (-len(RAW_KEY) % 4)))
ISSUER = os.environ.get("PEER_ISSUER", "tokengate")
AUDIENCE = os.environ.get("PEER_AUDIENCE", "tokengate")

app = Flask(__name__)


@app.get("/verify")
def verify():
    authorization = request.headers.get("Authorization", "")
    if not authorization.startswith("Bearer "):
        return "", 401
    try:
        claims = jwt.decode(authorization[7:], KEY, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER)
    except jwt.PyJWTError:
        return "", 401
    return "", 204, {"X-Auth-User": claims["sub"]}
