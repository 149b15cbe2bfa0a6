// Mluv jobs dashboard: re-fetch the page's sections every few seconds and send actions with fetch.
// Every section is server-rendered HTML; without this script the pages and forms still work.
(() => {
  "use strict";

  const INTERVAL_MS = 2000;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const live = document.getElementById("live");
  const toast = document.getElementById("toast");
  const shown = new Map();
  let busy = false;
  let again = false;
  let toastTimer = null;

  function sections() {
    return Array.from(document.querySelectorAll("[data-fragment]"));
  }

  function setLive(ok, text) {
    if (!live) return;
    live.classList.toggle("stale", !ok);
    live.querySelector("span").textContent = text;
  }

  function toLogin() {
    location.href = "/dashboard/login?next=" + encodeURIComponent(location.pathname + location.search);
  }

  async function refresh() {
    const elements = sections();
    if (document.hidden || elements.length === 0) return;
    if (busy) {
      again = true; // an action finished while a refresh was in flight: refresh once more after it
      return;
    }
    busy = true;
    const params = new URLSearchParams(location.search);
    params.delete("notice");
    params.set("names", elements.map((el) => el.dataset.fragment).join(","));
    params.set("path", location.pathname);
    try {
      const response = await fetch("/dashboard/fragments?" + params.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 401) return toLogin();
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      for (const el of elements) {
        const html = data.fragments[el.dataset.fragment];
        if (html === undefined || shown.get(el) === html) continue;
        // Do not replace a section while someone types into it.
        const active = document.activeElement;
        if (active && el.contains(active) && active.matches("input, textarea")) continue;
        const open = new Set(
          Array.from(el.querySelectorAll("details[open][data-key]"), (d) => d.dataset.key),
        );
        const picked = new Set(
          Array.from(el.querySelectorAll("input[type=checkbox][data-key]:checked"), (i) => i.dataset.key),
        );
        el.innerHTML = html;
        shown.set(el, html);
        for (const details of el.querySelectorAll("details[data-key]")) {
          if (open.has(details.dataset.key)) details.open = true;
        }
        // Ticked dead letters stay ticked across a refresh (the bulk Retry / Discard form).
        for (const box of el.querySelectorAll("input[type=checkbox][data-key]")) {
          if (picked.has(box.dataset.key)) box.checked = true;
        }
      }
      setLive(true, "live · " + new Date().toLocaleTimeString([], { hour12: false }));
    } catch (error) {
      setLive(false, "offline, retrying");
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  function showToast(message, ok) {
    if (!toast) return;
    toast.textContent = message;
    toast.classList.toggle("bad", !ok);
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      toast.hidden = true;
    }, 5000);
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form.action")) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
        credentials: "same-origin",
      });
      if (response.status === 401) return toLogin();
      const data = await response.json().catch(() => ({ ok: false, message: "HTTP " + response.status }));
      showToast(data.message, Boolean(data.ok));
    } catch (error) {
      showToast("The dashboard cannot be reached.", false);
    } finally {
      if (button) button.disabled = false;
      refresh();
    }
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  setInterval(refresh, INTERVAL_MS);
  refresh();
})();
