"""Browsing master data: the customer and product pages and their JSON API.

``query`` parses list requests (filters, sorts, cursors); ``lists`` reads keyset-paginated pages
and filter suggestions; ``detail`` reads one customer or product with its hierarchy and source
records; ``orders`` sums twelve months of orders or demand; ``schemas`` are the API's structs;
``controllers`` the pages and API.
"""
