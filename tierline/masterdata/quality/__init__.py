"""Data quality: feed freshness and findings on the data a segmentation run is about to use.

``feeds`` lists feeds with their status and changes their settings; ``checks`` counts
implausible lines and missing attributes in SQL; ``money`` decrypts revenue and margin in
batches to find estimated margins and values that fail their integrity check; ``service``
assembles the report; ``schemas`` are the API's structs; ``controllers`` the page and API.
"""
