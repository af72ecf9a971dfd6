#!/usr/bin/env python3
"""Python protobuf's encode/decode cost for the sample export the Swift bench wrote.

    python_bench.py SAMPLE_BIN ITERATIONS STUB_DIR

Prints `python_encode_ns N`, `python_decode_ns N` and the backend in use.
"""
import sys
import time


def best_of_five(body, iterations):
    for _ in range(iterations // 10):
        body()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            body()
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    return best


def main():
    sample_path, iterations, stubs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.path.insert(0, stubs)
    from google.protobuf.internal import api_implementation
    from meshline.v1 import export_pb2

    data = open(sample_path, "rb").read()
    message = export_pb2.Export()
    message.ParseFromString(data)
    assert message.SerializeToString(deterministic=True) == data, "Python re-encodes the sample differently"

    encode = best_of_five(lambda: message.SerializeToString(), iterations)
    decode = best_of_five(lambda: export_pb2.Export.FromString(data), iterations)
    print(f"python_backend {api_implementation.Type()}")
    print(f"python_encode_ns {encode:.1f}")
    print(f"python_decode_ns {decode:.1f}")


if __name__ == "__main__":
    main()
