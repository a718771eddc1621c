from tests.doubles.fixtures import client, ollama, page_ctx  # noqa: F401  (fixtures)
