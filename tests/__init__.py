"""The test suite (a package, so test files import shared helpers as ``tests.conftest``)."""
