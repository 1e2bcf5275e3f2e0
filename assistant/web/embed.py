"""Embedding the chat in another intranet page: ``/embed.js`` opens it in a panel.

An intranet page adds one tag, ``<script src="https://HOST/casebook/embed.js" defer></script>``,
and gets an "Ask Casebook" button that opens the chat in a framed panel; or it frames the chat
itself with ``<iframe src="https://HOST/casebook/" title="Casebook"></iframe>``. Either way the
page's origin must be listed in ``--allowed-origins`` (CSP ``frame-ancestors``), or the browser
refuses to show the frame. The script finds Casebook's address from its own ``src``, so it works
under any sub-path, and it carries no token: sign-in happens inside the frame.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

SCRIPT = """(() => {
  "use strict";
  const me = document.currentScript;
  if (!me || !me.src) { return; }
  const root = new URL("./", me.src).href;
  const label = me.dataset.label || "Ask Casebook";
  const init = () => {
    const button = document.createElement("button");
    button.type = "button";
    button.id = "casebook-embed-button";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "casebook-embed-panel");
    Object.assign(button.style, {
      position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483000",
      padding: "10px 18px", border: "0", borderRadius: "20px", background: "#005eb8",
      color: "#fff", font: "600 15px/1.2 system-ui, sans-serif", cursor: "pointer",
      boxShadow: "0 2px 8px rgba(0, 0, 0, 0.3)",
    });
    const panel = document.createElement("div");
    panel.id = "casebook-embed-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Casebook");
    Object.assign(panel.style, {
      position: "fixed", right: "20px", bottom: "72px", zIndex: "2147483000",
      width: "min(460px, calc(100vw - 40px))", height: "min(700px, calc(100vh - 100px))",
      background: "#fff", border: "1px solid #b0b0b0", borderRadius: "8px",
      boxShadow: "0 4px 24px rgba(0, 0, 0, 0.3)", overflow: "hidden",
    });
    let frame = null;
    button.addEventListener("click", () => {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.src = root;
        frame.title = "Casebook";
        frame.style.cssText = "width: 100%; height: 100%; border: 0;";
        panel.appendChild(frame);
      }
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", String(!panel.hidden));
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !panel.hidden) { button.click(); button.focus(); }
    });
    document.body.append(panel, button);
  };
  if (document.body) { init(); } else { document.addEventListener("DOMContentLoaded", init); }
})();
"""


def router() -> APIRouter:
    """Return the router serving ``/embed.js``."""
    api = APIRouter()

    @api.get("/embed.js", include_in_schema=False)
    def embed_script() -> Response:
        return Response(
            SCRIPT,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"},
        )

    return api
