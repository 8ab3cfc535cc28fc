"""The generative test over the whole gRPC API, in parts (tests/integration/test_api_fuzz.py)."""
