"""The client address: forwarded headers count only from trusted proxies."""

from __future__ import annotations

import pytest

from tierline.platform.client_address import client_address, parse_networks
from tierline.platform.settings import Settings, SettingsError

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_address("198.51.100.7", "203.0.113.9", PROXIES) == "198.51.100.7"
    assert client_address("198.51.100.7", "203.0.113.9", ()) == "198.51.100.7"


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_address("10.1.2.3", "203.0.113.9", PROXIES) == "203.0.113.9"


def test_the_rightmost_untrusted_hop_wins_over_what_the_client_wrote() -> None:
    # The client wrote "1.2.3.4" itself; the proxy appended what it really saw.
    forwarded = "1.2.3.4, 203.0.113.9, 10.0.0.5"
    assert client_address("10.1.2.3", forwarded, PROXIES) == "203.0.113.9"


def test_malformed_entries_stop_the_walk() -> None:
    assert client_address("10.1.2.3", "203.0.113.9, nonsense", PROXIES) == "10.1.2.3"
    assert client_address("10.1.2.3", "[2001:db8::1]:443", PROXIES) == "2001:db8::1"
    assert client_address("10.1.2.3", "203.0.113.9:51000", PROXIES) == "203.0.113.9"


def test_only_proxies_forward_all_the_way() -> None:
    assert client_address("127.0.0.1", "10.0.0.1, 10.0.0.2", PROXIES) == "10.0.0.1"


def test_the_setting_is_validated() -> None:
    found = Settings._from_mapping({"TIERLINE_TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert found.trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(SettingsError, match=r"TIERLINE_TRUSTED_PROXIES: 'proxy\.local'"):
        Settings._from_mapping({"TIERLINE_TRUSTED_PROXIES": "proxy.local"})
