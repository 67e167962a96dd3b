"""`pixwave scheduler`: periodic jobs, each safe to run from several replicas."""
