"""The OCPP 1.6J dialect of the station (:class:`.dialect.V16Dialect`)."""
