"""Talking to Telegram: the Sender (rate-limited, idempotent delivery) and the local Bot API sandbox."""
