"""The thin-client library for Flannel."""
