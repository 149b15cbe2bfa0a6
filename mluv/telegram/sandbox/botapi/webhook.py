"""setWebhook, deleteWebhook and getWebhookInfo: the webhook's settings in the state. Delivery to the
webhook is the pusher's (delivery.py), told of every change through `on_webhook_change`."""

from __future__ import annotations

import re
from collections.abc import Callable

from mluv.telegram.sandbox.botapi.calls import Call, Described, bad_request
from mluv.telegram.sandbox.state import JSON, SandboxState
from mluv.telegram.sandbox.updates import UpdateQueue

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class WebhookMethods:
    """The webhook's methods; `queue` for drop_pending_updates, allowed_updates and the pending count."""

    def __init__(
        self, state: SandboxState, queue: UpdateQueue, on_webhook_change: Callable[[], None]
    ) -> None:
        self.state = state
        self.queue = queue
        self._on_webhook_change = on_webhook_change

    def set_webhook(self, call: Call) -> Described:
        params = call.params
        url = params.string("url") or ""
        if not url:
            # Telegram: setWebhook with an empty url removes the webhook.
            return self.delete_webhook(call)
        if not url.startswith(("https://", "http://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.string("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.decoded("allowed_updates", invalid="can't parse allowed updates JSON object")
        webhook = self.state.webhook
        if (
            webhook.url == url
            and webhook.secret_token == secret
            and webhook.max_connections == max_connections
        ):
            description = "Webhook is already set"
        else:
            description = "Webhook was set"
        if params.flag("drop_pending_updates"):
            self.queue.clear()
        webhook.url, webhook.secret_token, webhook.max_connections = url, secret, max_connections
        webhook.last_error_date = webhook.last_error_message = None
        if isinstance(allowed, list):
            webhook.allowed_updates = [str(kind) for kind in allowed]
            self.queue.set_allowed(webhook.allowed_updates)
        self._on_webhook_change()
        return Described(True, description)

    def delete_webhook(self, call: Call) -> Described:
        webhook = self.state.webhook
        description = "Webhook was deleted" if webhook.url else "Webhook is already deleted"
        if call.params.flag("drop_pending_updates"):
            self.queue.clear()
        webhook.url, webhook.secret_token = "", None
        webhook.last_error_date = webhook.last_error_message = None
        self._on_webhook_change()
        return Described(True, description)

    def get_webhook_info(self, call: Call) -> JSON:
        return self.state.webhook.to_api(len(self.queue))
