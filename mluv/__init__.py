"""Mluv: the backend of Mluv.Me (Telegram bot for practising written Czech)."""

__version__ = "0.1.0"

from mluv import aiogram_lazy

# Before anything imports aiogram: its models are then built on first use (~100 MB less per process).
aiogram_lazy.install()
