"""Reports: saved, shareable, scheduled analytics over cases and whatever plugins register.

- ``subjects``: what a report can be about (the ``report_subjects`` / ``report_fields`` hooks);
- ``spec``: a report's definition as data, validated; ``engine``: runs it as one GROUP BY;
- ``cases``: the core's subject; ``sql``: percentiles and calendar buckets on both databases;
- ``formatting``, ``charts``, ``files``: showing it (table, SVG chart, CSV and XLSX);
- ``schedule``: e-mailing it through the outbox; ``views``: the staff screens.
"""
