"""Source addresses: distinct clients on loopback."""

from harness.load.sources import SourceAddresses, is_loopback


def test_source_addresses_are_distinct_loopback_addresses() -> None:
    a, b = SourceAddresses(0), SourceAddresses(1)
    first = [a.next() for _ in range(600)]
    assert len(set(first)) == 600
    assert not set(first) & {b.next() for _ in range(600)}
    assert all(is_loopback(f"http://{ip}:80") for ip in first)
    assert is_loopback("http://localhost:8000") and is_loopback("http://[::1]:8000")
    assert not is_loopback("https://staging.example.com") and not is_loopback("http://10.0.0.5")
