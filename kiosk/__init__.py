"""The patient-facing pages: the touch kiosk, the phone follow page and the information pages.

A Flask blueprint (``kiosk.views.bp``) with its own templates and static files. The pages talk to
the server only through the public API and Socket.IO, as a remote browser would.
"""
