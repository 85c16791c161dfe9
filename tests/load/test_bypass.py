"""The bypass techniques' request changes."""

from harness.load.bypass import spoofed_ip


def test_spoofed_addresses_are_documentation_addresses() -> None:
    assert all(spoofed_ip().startswith("203.0.113.") for _ in range(50))
