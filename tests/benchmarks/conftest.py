from tests.doubles.fixtures import ollama  # noqa: F401  (fixture)
