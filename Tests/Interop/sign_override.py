#!/usr/bin/env python3
"""Signs an override in Python, as a connector in another language would.

    sign_override.py WORKDIR TENANT EXPORT_ID BASE_VERSION ISSUED_AT_UNIX_MS

Generates an Ed25519 key pair (the `cryptography` package), builds an
OverrideChange that makes merchant:python-signer the owner, signs
b"meshline-override-v1\\n" + change.SerializeToString(deterministic=True), writes
the OverrideRequest to WORKDIR/override.bin and prints the raw public key as
"public_key BASE64".
"""
import base64
import sys
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import stubs


def main():
    work, tenant, export_id, base_version, issued_at = sys.argv[1:6]
    stubs.generate(f"{work}/stubs")
    from meshline.v1 import common_pb2, export_pb2, registry_pb2

    change = export_pb2.OverrideChange(
        tenant_id=tenant,
        export_id=export_id,
        base_version=int(base_version),
        owning_party=common_pb2.Party(role=common_pb2.PARTY_ROLE_MERCHANT, name="python-signer"),
        justification="the merchant's own team ships this order (signed in Python)",
        signer_key_id="python-key",
        issued_at_unix_ms=int(issued_at),
        nonce=str(uuid.uuid4()),
    )
    key = Ed25519PrivateKey.generate()
    signature = key.sign(b"meshline-override-v1\n" + change.SerializeToString(deterministic=True))
    request = registry_pb2.OverrideRequest(override=export_pb2.SignedOverride(change=change, signature=signature))
    with open(f"{work}/override.bin", "wb") as out:
        out.write(request.SerializeToString())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    print("public_key " + base64.b64encode(raw).decode())


if __name__ == "__main__":
    main()
