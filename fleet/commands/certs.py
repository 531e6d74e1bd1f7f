"""``fleet certs``: a test CA, a CSMS certificate and station certificates for security
profiles 2 and 3, without openssl (:mod:`fleet.net.pki`)."""

from __future__ import annotations

import argparse
import sys

from ..exit_codes import OK, USAGE
from .checks import positive_int

HELP = "make a test CA, a CSMS certificate and station certificates (CN = station id) for security profiles 2 and 3"
EXAMPLE = "fleet certs pki --station CS001 --station CS002"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR",
                        help="where to write them (made if missing; a CA already there is reused, and certificates "
                             "already there are kept, so stations can be added later)")
    parser.add_argument("--station", action="append", default=[], metavar="ID",
                        help="a station to make a client certificate for (repeatable)")
    parser.add_argument("--fleet", metavar="F",
                        help="also every station of this fleet file or profile (with --stations: rescaled to N)")
    parser.add_argument("--stations", type=positive_int, metavar="N", help="stations of --fleet")
    parser.add_argument("--host", action="append", default=[], metavar="NAME",
                        help="a name or address the CSMS is reached by, besides localhost, 127.0.0.1 and ::1 "
                             "(repeatable; the first is the certificate's CN)")
    parser.add_argument("--days", type=positive_int, default=365, metavar="D", help="validity in days (default 365)")


def _fleet_station_ids(source: str, stations: int | None) -> list[str]:
    from ..run.fleetfile import load_fleet_or_profile

    plan = load_fleet_or_profile(source, stations).with_overrides(stations=stations)
    return [spec.station_id for spec in plan.stations()]


def main(args: argparse.Namespace) -> int:
    from ..net.pki import PkiError, issue
    from ..run.fleetfile import FleetError

    if args.stations is not None and not args.fleet:
        print("fleet certs: --stations N goes with --fleet F (the stations of that fleet)", file=sys.stderr)
        return USAGE
    try:
        station_ids = list(dict.fromkeys([*args.station, *(_fleet_station_ids(args.fleet, args.stations)
                                                              if args.fleet else [])]))
        issued = issue(args.directory, station_ids, names=tuple(args.host), days=args.days)
    except (FleetError, PkiError) as exc:
        print(f"fleet certs: {exc}", file=sys.stderr)
        return USAGE
    made = len(issued.created)
    print(f"fleet certs: {made} certificate(s) made, {len(issued.kept)} kept, in {args.directory} "
          "(for testing only)")
    for path in issued.created:
        print(f"  made {path}")
    first = next(iter(issued.stations), "CS001")
    cert, key = issued.stations.get(first, (f"{args.directory}/stations/{first}.pem",
                                            f"{args.directory}/stations/{first}.key"))
    print(f"""
security profile 2 (TLS, Basic auth):
  fleet csms --port 9443 --tls-cert {issued.csms_cert} --tls-key {issued.csms_key} --auth-file stations.toml
  fleet station wss://127.0.0.1:9443/ocpp {first} --ca {issued.ca_cert} --password <its password>
  SSL_CERT_FILE={issued.ca_cert} fleet run F --csms wss://127.0.0.1:9443/ocpp
security profile 3 (TLS, client certificate with CN = station id):
  fleet csms --port 9443 --tls-cert {issued.csms_cert} --tls-key {issued.csms_key} --tls-client-ca {issued.ca_cert}
  fleet station wss://127.0.0.1:9443/ocpp {first} --ca {issued.ca_cert} --cert {cert} --key {key}""")
    return OK
