"""Load tests and the benchmark that measures Flannel's claims side by side."""
