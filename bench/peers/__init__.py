"""qtasks against its peers: see run.py."""
