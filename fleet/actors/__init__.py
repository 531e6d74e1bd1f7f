"""The trio actors: a connection wrapper, the station, the CSMS and the fleet supervisor."""
