"""One module per ``fleet`` subcommand (see :mod:`fleet.cli`)."""
