"""Call records: every call's transcript, timings and errors, in a database (docs/records.md).

Beside the server: a per-session observer (`observer.py`) turns session events into rows,
one bounded writer task (`writer.py`) writes them, `store.py` is the database.
"""
