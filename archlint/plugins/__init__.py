"""Plugin wiring: the hook specifications (the whole plugin contract), the pluggy manager that
loads built-ins and entry points alike, and the generic registry every kind of plugin fills."""
