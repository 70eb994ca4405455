"""The server's doors, one module per transport: each reads the app state, checks the
caller, builds its transport and hands a session to the session manager. The transports
themselves (parley.transports) only translate their protocol."""
