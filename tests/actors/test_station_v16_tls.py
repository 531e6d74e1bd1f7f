"""fleet's OCPP 1.6 station under security profiles 2 and 3 against fleet's CSMS over real
``wss://`` on 127.0.0.1 (1.6 security whitepaper: Basic auth over TLS; TLS with a client
certificate), and a new AuthorizationKey: the station reconnects over wss with it.

Certificates come from ``trustme`` (a throw-away CA per test), as in ``tests/test_tls.py``.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import trustme
from waiting import wait_state, wait_until

from fleet.actors.csms import open_csms
from fleet.actors.station import open_station
from fleet.net.transport import client_ssl_context, server_ssl_context
from fleet.ocpp import v16
from fleet.profiles import RetryBackoff, Security, SessionGenerator, StationProfile

pytestmark = pytest.mark.timeout(30)

OLD, NEW = "old-password-16-0001", "new-password-16-0002"


def profile(security: Security) -> StationProfile:
    return StationProfile(ocpp_version="1.6", sessions=SessionGenerator(enabled=False), ping_interval=0,
                          retry_backoff=RetryBackoff(wait_minimum=1, repeat_times=1, random_range=0),
                          security=security)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, str]:
    """A CA, the CSMS's certificate for 127.0.0.1, and a station certificate with CN = SP3-16."""
    ca = trustme.CA()
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "server", "SP3-16")}
    ca.cert_pem.write_to_path(files["ca"])
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(files["server"])
    ca.issue_cert("SP3-16", common_name="SP3-16").private_key_and_cert_chain_pem.write_to_path(files["SP3-16"])
    return {name: str(path) for name, path in files.items()}


async def security_profile_key(csms: object, station_id: str) -> str:
    answer = await csms.call(station_id, v16.GetConfigurationRequest(key=["SecurityProfile"]))  # type: ignore[attr-defined]
    value: str = answer.configuration_key[0].value
    return value


async def test_profile_2_basic_auth_over_tls_and_a_new_authorization_key(pki: dict[str, str]) -> None:
    async with open_csms(port=0, ssl_context=server_ssl_context(pki["server"]), auth={"SP2-16": OLD}) as csms:
        assert csms.url.startswith("wss://127.0.0.1:")
        async with open_station("SP2-16", csms.url, profile=profile(Security(profile=2, password=OLD)),
                                ssl_context=client_ssl_context(pki["ca"])) as station:
            await wait_state(station, "available")
            assert await security_profile_key(csms, "SP2-16") == "2"
            # the CSMS sets the station's AuthorizationKey: from now on only the new one gets in
            csms.set_station_password("SP2-16", NEW)
            answer = await csms.call("SP2-16", v16.ChangeConfigurationRequest(key="AuthorizationKey", value=NEW))
            assert answer.status == v16.ConfigurationStatus.ACCEPTED
            # the station reconnects over wss with the new password (the old one would be refused: 401)
            await wait_until(lambda: station.snapshot().counters.connects == 2)
            await wait_state(station, "available")
            assert station.password == NEW and csms.is_connected("SP2-16")
            assert await security_profile_key(csms, "SP2-16") == "2"
            await wait_until(lambda: (csms.station("SP2-16").messages.get(  # type: ignore[union-attr]
                "SecurityEventNotification") == 1))
            # the key is write-only: GetConfiguration does not show it
            keys = await csms.call("SP2-16", v16.GetConfigurationRequest(key=["AuthorizationKey"]))
            assert all(k.value in (msgspec.UNSET, "") for k in keys.configuration_key)
        assert csms.statistics().refused.get("401") is None
        # a station still holding the old password is refused
        async with open_station("SP2-16", csms.url, profile=profile(Security(profile=2, password=OLD)),
                                ssl_context=client_ssl_context(pki["ca"])) as stale:
            await wait_until(lambda: csms.statistics().refused.get("401", 0) >= 1)
            assert stale.snapshot().state != "available"


async def test_profile_3_tls_with_a_client_certificate(pki: dict[str, str]) -> None:
    async with open_csms(port=0, ssl_context=server_ssl_context(pki["server"], client_ca=pki["ca"])) as csms:
        assert csms.client_certificates_required
        async with open_station("SP3-16", csms.url, profile=profile(Security(profile=3, password=None)),
                                ssl_context=client_ssl_context(pki["ca"], pki["SP3-16"])) as station:
            await wait_state(station, "available")
            assert await security_profile_key(csms, "SP3-16") == "3"
            await wait_until(lambda: (csms.station("SP3-16").messages.get(  # type: ignore[union-attr]
                "StatusNotification", 0) >= 2))
            record = csms.station("SP3-16")
            assert record is not None and record.ocpp_version == "1.6" and record.registration_status == "Accepted"
