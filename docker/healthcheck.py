"""Container health: the standard gRPC health check over mTLS.

Uses the health check's own client certificate, mounted as a secret apart from the
server's key (HEDUI_HEALTH_DIR to look elsewhere). That certificate names no configured
principal, so it can ask for health and nothing else. Exit 0 only when the server says
SERVING, which it does only while the audit log can be written.
"""

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

secrets = Path(os.environ.get("HEDUI_HEALTH_DIR", "/run/secrets"))
creds = grpc.ssl_channel_credentials(
    root_certificates=(secrets / "tls_ca").read_bytes(),
    private_key=(secrets / "healthcheck_key").read_bytes(),
    certificate_chain=(secrets / "healthcheck_cert").read_bytes(),
)
target = os.environ.get("HEDUI_HEALTH_TARGET", "localhost:50051")
with grpc.secure_channel(target, creds) as channel:
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        status = stub.Check(health_pb2.HealthCheckRequest(), timeout=3).status
    except grpc.RpcError:
        sys.exit(1)
sys.exit(0 if status == health_pb2.HealthCheckResponse.SERVING else 1)
