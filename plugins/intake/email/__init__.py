"""The e-mail channel: messages from an IMAP mailbox or an MTA pipe become cases or notes (see ingest.py)."""
