"""The e-mail checks against a local DNS server on 127.0.0.1 (never the internet): a good domain, a bad
one, and a server that never answers."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from harness.audit import email
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.model import FAIL, PASS, UNTESTED
from harness.scenario import load_scenario
from harness.scenario.accounts import Credentials
from tests.helpers import REPO


def _txt_chunks(text: str) -> str:
    """A TXT rdata in zone syntax: strings of at most 255 bytes, as DNS requires."""
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


def _rsa_public_key_b64(bits: int, tmp: Path) -> str:
    """A real RSA public key (DER, base64), as a DKIM record's p= carries it."""
    key, pub = tmp / f"rsa{bits}.pem", tmp / f"rsa{bits}.der"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", str(key)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER", "-out", str(pub)],
        check=True,
        capture_output=True,
    )
    import base64

    return base64.b64encode(pub.read_bytes()).decode()


class LocalDns:
    """A UDP DNS server on 127.0.0.1 that answers TXT queries from a dict; NXDOMAIN for anything else.
    `silent` servers read queries and never answer (an unreachable resolver)."""

    def __init__(self, records: dict[str, list[str]], silent: bool = False) -> None:
        self.records = {name.lower().rstrip("."): texts for name, texts in records.items()}
        self.silent = silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.asked: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            self.asked.append(name)
            if self.silent:
                continue
            response = dns.message.make_response(query)
            texts = self.records.get(name)
            if texts is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and texts:
                response.answer.append(
                    dns.rrset.from_text(
                        question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, *[_txt_chunks(t) for t in texts]
                    )
                )
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    tmp = tmp_path_factory.mktemp("dkim")
    return {bits: _rsa_public_key_b64(bits, tmp) for bits in (512, 2048)}


@pytest.fixture(scope="module")
def zone(keys: dict[int, str]) -> Iterator[LocalDns]:
    many = " ".join(f"include:_spf{i}.heavy.test" for i in range(12))
    records = {
        # good: one SPF with -all through an include, a 2048-bit DKIM key, an enforcing DMARC with reports
        "good.test": ["v=spf1 include:_spf.mailer.test -all", "google-site-verification=abc"],
        "_spf.mailer.test": ["v=spf1 ip4:192.0.2.0/24 -all"],
        "s1._domainkey.good.test": [f"v=DKIM1; k=rsa; p={keys[2048]}"],
        "_dmarc.good.test": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@good.test"],
        # bad: +all, a 512-bit key, a revoked key, no DMARC at all
        "bad.test": ["v=spf1 a mx +all"],
        "s1._domainkey.bad.test": [f"v=DKIM1; k=rsa; p={keys[512]}"],
        "old._domainkey.bad.test": ["v=DKIM1; k=rsa; p="],
        # monitoring: ~all, p=none, pct
        "monitor.test": ["v=spf1 include:_spf.mailer.test ~all"],
        "_dmarc.monitor.test": ["v=DMARC1; p=none"],
        "partial.test": ["v=spf1 ?all"],
        "_dmarc.partial.test": ["v=DMARC1; p=reject; pct=50; rua=mailto:d@partial.test"],
        # two SPF records; too many lookups; an include with no SPF
        "twice.test": ["v=spf1 -all", "v=spf1 mx -all"],
        "heavy.test": [f"v=spf1 {many} -all"],
        **{f"_spf{i}.heavy.test": ["v=spf1 a -all"] for i in range(12)},
        "dangling.test": ["v=spf1 include:nothing-here.test -all"],
    }
    server = LocalDns(records)
    yield server
    server.close()


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(REPO / "scenarios/abuse.toml")


def _ctx(scenario, **settings) -> AuditContext:
    return AuditContext("http://127.0.0.1:9", scenario, Credentials(), AuditSettings(**settings))


def _by_check(results):
    return {r.check: r for r in results}


def test_no_domain_is_not_measurable(scenario) -> None:
    [result] = email.run(_ctx(scenario))
    assert result.status == UNTESTED and "[audit] domain" in result.note


@pytest.mark.e2e
def test_good_domain_passes(scenario, zone: LocalDns) -> None:
    results = _by_check(email.run(_ctx(scenario, domain="good.test", dkim_selectors=("s1",), dns_server=zone.address)))
    assert {r.row for r in results.values()} == {"email_auth"}
    assert [results[c].status for c in ("SPF", "DKIM", "DMARC")] == [PASS, PASS, PASS], results
    assert "2048 bits" in results["DKIM"].evidence[0]
    assert any("SPF DNS lookups: 1 " in e for e in results["SPF"].evidence)


@pytest.mark.e2e
def test_bad_domain_fails_each_record(scenario, zone: LocalDns) -> None:
    results = _by_check(
        email.run(_ctx(scenario, domain="bad.test", dkim_selectors=("s1", "old", "gone"), dns_server=zone.address))
    )
    spf, dkim, dmarc = results["SPF"], results["DKIM"], results["DMARC"]
    assert spf.status == FAIL and any("+all" in f for f in spf.findings)
    assert dkim.status == FAIL
    text = " | ".join(dkim.findings)
    assert "512-bit RSA key" in text and "revoked" in text and "no DKIM record for selector gone" in text
    assert dmarc.status == FAIL and "no DMARC record" in dmarc.findings[0]


@pytest.mark.e2e
def test_softfail_passes_with_note_and_p_none_is_a_finding(scenario, zone: LocalDns) -> None:
    results = _by_check(email.run(_ctx(scenario, domain="monitor.test", dns_server=zone.address)))
    assert results["SPF"].status == PASS and "~all" in results["SPF"].note
    assert results["DKIM"].status == UNTESTED and "dkim_selectors" in results["DKIM"].note
    dmarc = results["DMARC"]
    assert dmarc.status == FAIL and "monitoring only, not enforced" in dmarc.findings[0]
    assert "rua" in dmarc.note


@pytest.mark.e2e
def test_neutral_all_and_partial_pct_fail(scenario, zone: LocalDns) -> None:
    results = _by_check(email.run(_ctx(scenario, domain="partial.test", dns_server=zone.address)))
    assert results["SPF"].status == FAIL and "?all" in results["SPF"].findings[0]
    assert results["DMARC"].status == FAIL and "pct=50" in results["DMARC"].findings[0]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("domain", "words"),
    [
        ("twice.test", "2 SPF records"),
        ("heavy.test", "more than 10 DNS lookups"),
        ("dangling.test", "include:nothing-here.test has no SPF record"),
        ("missing.test", "no SPF record at missing.test"),
    ],
)
def test_spf_structure_findings(scenario, zone: LocalDns, domain: str, words: str) -> None:
    spf = _by_check(email.run(_ctx(scenario, domain=domain, dns_server=zone.address)))["SPF"]
    assert spf.status == FAIL and any(words in f for f in spf.findings), spf.findings


def test_an_unreachable_dns_server_is_asked_once_and_not_measurable(scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    silent = LocalDns({}, silent=True)
    monkeypatch.setattr(email, "DNS_TIMEOUT_S", 0.3)
    try:
        results = email.run(_ctx(scenario, domain="good.test", dkim_selectors=("s1",), dns_server=silent.address))
    finally:
        silent.close()
    assert [r.status for r in results] == [UNTESTED] * 3
    assert "did not answer within 0.3 s" in results[0].note
    assert len(silent.asked) <= 2  # one unanswered query (dnspython may retry it once), then none more


@pytest.mark.e2e
def test_rsa_key_bits_reads_spki_and_bare_keys(keys: dict[int, str]) -> None:
    import base64

    assert email.rsa_key_bits(keys[2048]) == 2048
    assert email.rsa_key_bits(keys[512]) == 512
    assert email.rsa_key_bits("not base64!") is None
    # a bare PKCS#1 RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }
    n = (1 << 1023) | 1
    body = b"\x02\x81\x81\x00" + n.to_bytes(128, "big") + b"\x02\x03\x01\x00\x01"
    der = b"\x30\x81" + bytes([len(body)]) + body
    assert email.rsa_key_bits(base64.b64encode(der).decode()) == 1024


def test_parse_tags() -> None:
    assert email.parse_tags("v=DKIM1; k=rsa; p=AB CD") == {"v": "DKIM1", "k": "rsa", "p": "ABCD"}
