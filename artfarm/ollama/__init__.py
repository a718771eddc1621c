"""Ollama, the local server that runs the vision reviewer's model."""

from artfarm.ollama.client import OllamaClient, OllamaTimeouts
from artfarm.ollama.errors import OllamaError, OllamaModelMissing, OllamaRefused, OllamaTimeout, OllamaUnreachable
from artfarm.ollama.health import OllamaCheck, check_ollama
from artfarm.ollama.models import ChatMessage, ChatOptions, ChatRequest, ChatResponse, TagsResponse

__all__ = ["OllamaClient", "OllamaTimeouts", "OllamaError", "OllamaModelMissing", "OllamaRefused", "OllamaTimeout",
           "OllamaUnreachable", "OllamaCheck", "check_ollama", "ChatMessage", "ChatOptions", "ChatRequest",
           "ChatResponse", "TagsResponse"]
