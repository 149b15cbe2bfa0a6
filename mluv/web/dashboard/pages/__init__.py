"""The dashboard's sections by area: each module loads its data (mluv.web.dashboard.loader) and renders it.

A section is an HTML fragment that the page's script re-fetches every few seconds, so the same function
renders the first view and every update; mluv.web.dashboard.sections names them and groups them in pages.
"""
