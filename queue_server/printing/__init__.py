"""The print pipeline: durable print jobs, the server's print worker, the kiosk agents' side.

``jobs`` holds the state machine (queued → printing → printed | failed) in the database;
``worker`` prints jobs of printers no agent owns; ``agents`` hands jobs to connected kiosk
print agents; ``api`` is the REST blueprint. See docs/printing-jobs.md.
"""
