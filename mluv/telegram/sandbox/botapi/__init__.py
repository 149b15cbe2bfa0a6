"""The Bot API methods the sandbox answers, over its state: synchronous and free of aiohttp.

Each method takes a `Call` (token + parameters as Telegram accepts them) and returns the `result` of
Telegram's answer, or raises `ApiError` carrying Telegram's exact status and description.
getUpdates is the one asynchronous method; `Sandbox` implements its waiting around `UpdateQueue`.

    calls.py     a call and its answer: `Params`, `Call`, `ApiError`, Telegram's error descriptions
    checks.py    the checks methods share: the target chat, text and parse mode, reply markup
    sending.py   sendMessage, sendPhoto, sendChatAction
    editing.py   editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage
    bot.py       getMe, commands, getChat, getFile, answerCallbackQuery and the accepted no-ops
    webhook.py   setWebhook, deleteWebhook, getWebhookInfo
    methods.py   `BotApi`: the method table over those families
"""
