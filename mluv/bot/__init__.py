"""The Telegram bot (aiogram 3): small routers per feature, middlewares, and how updates arrive."""
