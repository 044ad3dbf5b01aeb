"""The built-in plugins.  Each registers under ``civic_connect.plugins`` like any third-party plugin."""
