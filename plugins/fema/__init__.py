"""FEMA Public Assistance: disaster events, cost capture, versioned exports."""
