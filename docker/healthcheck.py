"""Container health: the standard gRPC health check over mTLS.

Uses the PKI mounted at /etc/hedui/pki (HEDUI_PKI to override) with the client
certificate of HEDUI_HEALTH_SYSTEM (default local-case-system). Exit 0 only when the
server says SERVING, which it does only while the audit log can be written.
"""

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

pki = Path(os.environ.get("HEDUI_PKI", "/etc/hedui/pki"))
system = os.environ.get("HEDUI_HEALTH_SYSTEM", "local-case-system")
creds = grpc.ssl_channel_credentials(
    root_certificates=(pki / "ca.pem").read_bytes(),
    private_key=(pki / "clients" / f"{system}.key").read_bytes(),
    certificate_chain=(pki / "clients" / f"{system}.pem").read_bytes(),
)
target = os.environ.get("HEDUI_HEALTH_TARGET", "localhost:50051")
with grpc.secure_channel(target, creds) as channel:
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        status = stub.Check(health_pb2.HealthCheckRequest(), timeout=3).status
    except grpc.RpcError:
        sys.exit(1)
sys.exit(0 if status == health_pb2.HealthCheckResponse.SERVING else 1)
