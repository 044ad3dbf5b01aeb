"""Resident portal, Open311 GeoReport v2, e-mail and phone channels."""
