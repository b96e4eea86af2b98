"""Socket.IO: namespaces, rooms, event contracts, publishing."""
