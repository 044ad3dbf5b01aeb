"""What each key of the ``[intake]`` section means (the ``config_docs`` hook; docs/config-reference.md shows them).

The defaults of ``[intake.email]`` are those of ``EmailSettings``: the texts below quote them, so they cannot drift.
"""
from __future__ import annotations

from plugins.intake.email.settings import SECURITY_PORTS, EmailSettings

_MAIL = EmailSettings()

DOCS = {
    "intake.public_url": "The address residents reach the portal at (https://311.example.gov): links in e-mails are built from it.",
    "intake.tile_url": "Base map tiles of the portal's report form (https://tiles.example/{z}/{x}/{y}.png); empty: a plain map "
                       "around city.center.",
    "intake.tile_attribution": "The credit line the tile provider asks for, shown on the map.",
    "intake.report_limit": "How many reports one client (address) may send through the portal form per report_window.",
    "intake.report_window": "The window of report_limit, in seconds.",
    "intake.lookup_limit": "How many address and \"Is this it?\" look-ups one client may make per lookup_window.",
    "intake.lookup_window": "The window of lookup_limit, in seconds.",
    "intake.nearby_radius": "How far around a new report, in metres, the portal looks for open cases to ask \"Is this it?\".",
    "intake.open311_rate_limit": "Open311 requests per minute per API key (a key's own --rate-limit overrides it).",
    "intake.open311_queue": ("When an Open311 POST is accepted into a queue and answered with a token instead of a "
                             "service_request_id: \"off\" never, \"busy\" while connections wait for a worker (a surge), "
                             "\"always\". The background worker (civic notify run) turns queued requests into cases."),
    "intake.call_wrap_up_reasons": "The phone desk's reasons for an information-only call: code = \"label\" or code = "
                                   "{ en = \"...\", fr = \"...\" } (codes: lower-case letters, digits and _).",
    "intake.email": "The e-mail channel: the IMAP mailbox `civic intake poll-email` reads; empty: no mailbox.",
    "intake.email.host": "The IMAP server's host name; set it with username and password_env to read the mailbox.",
    "intake.email.port": "The IMAP port; 0 or unset: the usual port of security ("
                         + ", ".join(f"{mode} {port}" for mode, port in SECURITY_PORTS.items()) + ").",
    "intake.email.security": f"How the connection is protected: {', '.join(SECURITY_PORTS)} (default {_MAIL.security}).",
    "intake.email.username": "The mailbox login (required with host).",
    "intake.email.password_env": "The NAME of the environment variable that holds the mailbox password (required with host); "
                                 "the password itself never goes in this file.",
    "intake.email.folder": f"The folder read for new mail (default {_MAIL.folder}).",
    "intake.email.processed_folder": "Processed messages are moved to this folder; empty (the default): they are flagged as "
                                     "read and left where they are.",
    "intake.email.address": "The city's own address: mail from it is a loop and is ignored.",
    "intake.email.triage_service": "The service code of an e-mail that names no service (default "
                                   f"{_MAIL.triage_service}); must be one of [[services]].",
    "intake.email.ca_file": "A PEM file of the private certificate authority that signed the IMAP server's certificate; "
                            "empty: the system's authorities.",
    "intake.email.max_messages": f"At most this many messages are read per run (default {_MAIL.max_messages}).",
    "intake.email.max_bytes": f"At most this many bytes of one message are read (default {_MAIL.max_bytes}, "
                              f"{_MAIL.max_bytes // (1024 * 1024)} MB); a longer message is refused.",
    "intake.email.timeout": f"Seconds to wait for the IMAP server (default {_MAIL.timeout}).",
}
