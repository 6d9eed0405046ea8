"""Typed fakes of external services (real HTTP servers on loopback), shared by all tests."""
