"""Reads a Prometheus text exposition on stdin with the real parser (Debian's
python3-prometheus-client) and prints one `name{label=value,...} value` line per sample, labels
sorted, so the C++ test can compare. Exits non-zero when the text does not parse."""
import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
        print(f"{sample.name}{{{labels}}} {sample.value:g}")
