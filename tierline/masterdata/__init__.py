"""Master data: customers, products, locations, suppliers and order history, and how they arrive.

``models`` holds the tables every capability shares; ``scopes`` the row-level scope rule;
``service`` is master data's face to the other domains (they import nothing else). The
capabilities, one sub-package each: ``browse`` (customer and product lists and pages),
``importing`` (file and API imports, ``tierline import``), ``profiles`` (mapping profiles),
``golden`` (golden records and the data steward), ``quality`` (feed freshness and data quality).
"""
