"""Talking to the agent from this computer: audio devices, and the terminal call (`parley talk`)."""
