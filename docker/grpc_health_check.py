#!/usr/bin/env python3
"""gRPC health probe for the image's HEALTHCHECK (grpc.health.v1.Health/Check).

    grpc_health_check.py [--addr HOST:PORT] [--service NAME] [--timeout SECONDS]

Exit 0 when the server answers SERVING, 1 otherwise (NOT_SERVING while loading or draining,
unreachable, timeout). The messages are encoded by hand (HealthCheckRequest is one string field,
HealthCheckResponse one enum field) so that only python3-grpcio is needed, not generated stubs
or grpcio-health-checking.
"""
import argparse
import sys

import grpc

_SERVING = 1  # grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING


def _encode_request(service):
    """HealthCheckRequest{service = 1}: tag 0x0a, varint length, UTF-8 bytes."""
    data = service.encode("utf-8")
    out = bytearray()
    if data:
        out.append(0x0A)
        n = len(data)
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        out += data
    return bytes(out)


def _decode_status(data):
    """HealthCheckResponse{status = 1}: the varint after tag 0x08; 0 (UNKNOWN) when absent."""
    i, status = 0, 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x07 != 0:  # only varint fields are expected; anything else ends the scan
            break
        value, shift = 0, 0
        while i < len(data):
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if tag >> 3 == 1:
            status = value
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:50051")
    parser.add_argument("--service", default="")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    with grpc.insecure_channel(args.addr) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda x: x,
            response_deserializer=lambda x: x,
        )
        try:
            response = check(_encode_request(args.service), timeout=args.timeout)
        except grpc.RpcError as e:
            print(f"health: {args.addr}: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    status = _decode_status(response)
    names = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
    print(f"health: {args.addr}: {names.get(status, status)}")
    return 0 if status == _SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
