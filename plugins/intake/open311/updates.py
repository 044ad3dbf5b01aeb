"""Open311 servicerequestupdates.  (Stub.)"""
