"""A local Telegram Bot API server: the real aiogram client talks to it unchanged (docs/sandbox.md).

async with run_sandbox(port=0) as url:
    bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
    async with SandboxClient(url) as sandbox:
        await sandbox.create_user(42, "Olga", language_code="uk")
"""

from mluv.telegram.sandbox.client import CountersRecord, MessageRecord, SandboxClient, SandboxError
from mluv.telegram.sandbox.config import FaultsConfig, LimitsConfig, SandboxConfig
from mluv.telegram.sandbox.core import SANDBOX_KEY, Sandbox
from mluv.telegram.sandbox.runner import main, run_sandbox, serve_sandbox
from mluv.telegram.sandbox.server import create_sandbox_app

__all__ = [
    "SANDBOX_KEY",
    "CountersRecord",
    "FaultsConfig",
    "LimitsConfig",
    "MessageRecord",
    "Sandbox",
    "SandboxClient",
    "SandboxConfig",
    "SandboxError",
    "create_sandbox_app",
    "main",
    "run_sandbox",
    "serve_sandbox",
]
