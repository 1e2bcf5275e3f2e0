"""Casebook's assistant: retrieval, answering, chat, settings, CLI and web app."""

from assistant.answers import NOT_IN_LIBRARY, Answer, Citation
from assistant.engine import Casebook
from assistant.settings import Settings

__all__ = ["NOT_IN_LIBRARY", "Answer", "Casebook", "Citation", "Settings"]
