"""The phone channel: the call-centre agent's desk (menu Calls › New call), the call log and the
dashboard's "Calls today" block.

- ``reasons``: the wrap-up reasons of ``[intake] call_wrap_up_reasons`` (labels, choices, checks);
- ``search``: finding the caller (phone, name, e-mail, utility account, address), their cases and the
  open cases near their address;
- ``forms`` and ``desk``: the New call screen and what it records (a case, or information only);
- ``log``: the read-only call log; ``panel``: today's numbers on the dashboard.

Who takes calls: dispatchers (and admins).  Department staff do not: they work the cases the calls
become, so they get neither the desk, nor the log, nor the dashboard block (``plugins.intake.calls``).
"""
