"""The bypass techniques' request changes."""

from harness.load.bypass import IP_HEADERS, path_variants, spoofed_ip


def test_path_variants_spell_the_same_path() -> None:
    variants = path_variants("/api/chat")
    assert variants == {
        "trailing-slash": "/api/chat/",
        "upper-case": "/API/CHAT",
        "double-slash": "/api//chat",
        "percent-encoded": "/api%2Fchat",
    }
    assert len(IP_HEADERS) == 5


def test_spoofed_addresses_are_documentation_addresses() -> None:
    assert all(spoofed_ip().startswith("203.0.113.") for _ in range(50))
