"""The local cloud: an AWS-compatible endpoint on 127.0.0.1 (see docs and DESIGN.md)."""
