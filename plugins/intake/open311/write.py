"""Open311 POST requests and tokens.  (Stub.)"""
