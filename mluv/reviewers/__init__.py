"""Reviewers that do I/O (the offline reviewer is pure and lives in mluv.domain.review)."""
