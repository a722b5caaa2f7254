"""The app core and its sync and async facades."""
