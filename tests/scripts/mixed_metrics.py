"""Test script: valid, malformed and non-finite metric lines mixed with ordinary output."""
print("##trainq {\"epoch\": 1, \"loss\": 0.9, \"accuracy\": 0.5, \"lr\": 0.01}", flush=True)
print("##trainq {this is not json", flush=True)
print("##trainq {\"loss\": 0.3}", flush=True)
print("##trainq {\"epoch\": 2, \"loss\": NaN, \"accuracy\": Infinity, \"f1_score\": 0.7}", flush=True)
print("plain line", flush=True)
