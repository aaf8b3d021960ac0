"""ticketdb: the hotline's database — call records, tickets, customers — on SQLite or PostgreSQL."""
