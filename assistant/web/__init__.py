"""The web app beside the answering core: the FastAPI app and its JSON API (``app``), the Gradio
chat (``chat_ui``, ``library_panel``), sign-in and roles (``auth``, ``signin``, ``users``), the
audit log (``audit``), embedding in intranet pages (``embed``), the guard's limits and headers
(``guard``), editors' uploads (``uploads``), the OpenAI-compatible endpoint (``openai_api``),
chat state shared by workers (``sessions``, ``database``) and the source viewer (``viewer``).

Nothing is imported here, so the CLI can use ``users`` or ``audit`` without loading Gradio.
"""
