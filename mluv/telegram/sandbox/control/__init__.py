"""The control API under /_sandbox/: learners, injected updates, recorded messages, counters, limits,
faults, the simulator and reset, as JSON ({"ok": true, "result": ...} or {"ok": false, "error": ...});
plus a small HTML page at /_sandbox/ to look around and chat as a learner (docs/sandbox.md lists them).

    protocol.py    the JSON answers, reading a request's body, path and query
    chats.py       learners, groups, chats and their flags, recorded messages
    updates.py     updates injected as a learner, redelivery, pending updates, callback answers
    behaviour.py   counters, limits, faults, the simulator, reset
    page.py        the overview and the HTML page with its forms
    routes.py      every route on the aiohttp application
"""
